package sqlstore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// BenchmarkBackup20000Instances fills a store with 20,000 instance records
// (about an instance's size of JSON each) and their create tasks, then
// measures a backup (time, size) and the rate of creates (a record and a
// task per transaction, 4 writers) without a backup and during one.
func BenchmarkBackup20000Instances(b *testing.B) {
	dir := b.TempDir()
	s, err := OpenSQLite(context.Background(), filepath.Join(dir, "db"), WithExclusive())
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	vdc := ovm.NewID()
	pad := strings.Repeat("x", 900)
	create := func(ctx context.Context, name string) error {
		r, err := store.NewRecord(store.KindInstance, ovm.NewID(), vdc, name, map[string]any{"spec": map[string]any{"cpuMilli": 100, "memoryBytes": 1 << 24,
			"image": map[string]string{"format": "oci", "name": "busybox:1"}, "labels": map[string]string{"pad": pad}}})
		if err != nil {
			return err
		}
		return s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.Insert(ctx, &r); err != nil {
				return err
			}
			return tx.CreateTask(ctx, &store.TaskRecord{Task: ovm.Task{ID: ovm.NewID(), Kind: "instance.create", VDCID: vdc, TargetID: r.ID, State: ovm.TaskSucceeded}})
		})
	}
	const n = 20000
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				require.NoError(b, create(ctx, fmt.Sprintf("i%d", i)))
			}
		})
	}
	wg.Wait()
	// writers run 4 writers until stop is called, which returns their
	// creates per second.
	writers := func(prefix string) (stop func() float64) {
		ctx, cancel := context.WithCancel(ctx)
		var mu sync.Mutex
		done := 0
		var wg sync.WaitGroup
		began := time.Now()
		for w := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					if create(ctx, fmt.Sprintf("%s-%d-%d", prefix, w, i)) != nil {
						return
					}
					mu.Lock()
					done++
					mu.Unlock()
				}
			})
		}
		return func() float64 {
			cancel()
			wg.Wait()
			return float64(done) / time.Since(began).Seconds()
		}
	}
	for i := 0; b.Loop(); i++ {
		stop := writers(fmt.Sprintf("quiet%d", i))
		time.Sleep(2 * time.Second)
		without := stop()
		path := filepath.Join(dir, fmt.Sprintf("backup%d.db", i))
		stop = writers(fmt.Sprintf("busy%d", i))
		began := time.Now()
		require.NoError(b, s.BackupTo(ctx, path))
		took := time.Since(began)
		during := stop()
		st, err := os.Stat(path)
		require.NoError(b, err)
		b.ReportMetric(took.Seconds(), "backup-s")
		b.ReportMetric(float64(st.Size())/(1<<20), "backup-MiB")
		b.ReportMetric(without, "creates/s-without")
		b.ReportMetric(during, "creates/s-during")
		require.NoError(b, os.Remove(path))
	}
}
