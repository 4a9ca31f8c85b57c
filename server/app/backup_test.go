package app_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/app"
	"github.com/openovm/ovm/server/backup"
	"github.com/openovm/ovm/server/client"
	"github.com/openovm/ovm/server/store"
)

// storeDump is what a store holds, for comparison: every record, task and
// token by id.
type storeDump struct {
	records map[string]string // kind/id → data, version
	tasks   map[ovm.ID]ovm.TaskState
	tokens  map[ovm.ID]string
}

var dumpKinds = []store.Kind{store.KindDatacenter, store.KindPool, store.KindHost, store.KindVDC, store.KindUser, store.KindInstance,
	store.KindNetwork, store.KindClaim}

func dump(t *testing.T, st store.Store, users []ovm.ID) storeDump {
	t.Helper()
	d := storeDump{records: map[string]string{}, tasks: map[ovm.ID]ovm.TaskState{}, tokens: map[ovm.ID]string{}}
	require.NoError(t, st.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		clear(d.records)
		clear(d.tasks)
		clear(d.tokens)
		for _, k := range dumpKinds {
			var after ovm.ID
			for {
				rs, next, err := tx.List(ctx, store.Filter{Kind: k, AllVDCs: true}, store.Page{After: after, Limit: 1000})
				if err != nil {
					return err
				}
				for _, r := range rs {
					d.records[string(k)+"/"+string(r.ID)] = fmt.Sprintf("%d %s", r.Version, r.Data)
				}
				if next == "" {
					break
				}
				after = next
			}
		}
		var after ovm.ID
		for {
			ts, next, err := tx.ListTasks(ctx, "", true, store.Page{After: after, Limit: 1000})
			if err != nil {
				return err
			}
			for _, tr := range ts {
				d.tasks[tr.Task.ID] = tr.Task.State
			}
			if next == "" {
				break
			}
			after = next
		}
		for _, u := range users {
			toks, err := tx.ListTokens(ctx, u)
			if err != nil {
				return err
			}
			for _, tk := range toks {
				d.tokens[tk.ID] = fmt.Sprintf("%x", tk.Hash)
			}
		}
		return nil
	}))
	return d
}

// TestBackupDuringLoadAndRestore takes a backup through the API while
// tenants create instances, restores it into a new data directory and
// finds a consistent store there: every instance with its create task,
// every credential (passwords, tokens, the secret key that opens the
// hosts' credentials). A backup taken once the load stopped restores to
// exactly the live store.
func TestBackupDuringLoadAndRestore(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, filepath.Join(dir, "live"))
	s := start(t, cfg, io.Discard)
	ctx := t.Context()
	adm, err := client.New(s.URL(), "", nil)
	require.NoError(t, err)
	sess, err := adm.Login(ctx, "admin", s.AdminPassword())
	require.NoError(t, err)
	adm = adm.WithToken(sess.Token)
	dc, err := adm.CreateDatacenter(ctx, apitypes.DatacenterCreate{Name: "dc1"})
	require.NoError(t, err)
	pool, err := adm.CreatePool(ctx, apitypes.PoolCreate{Name: "pool1", DatacenterID: dc.ID})
	require.NoError(t, err)
	_, err = adm.RegisterHost(ctx, apitypes.HostRegister{Name: "h1", Kind: ovm.HostFake, Endpoint: "fake://h1", PoolID: pool.ID,
		Credentials: apitypes.Credentials{Username: "root", Password: "host-secret"}})
	require.NoError(t, err)
	vdc, err := adm.CreateVDC(ctx, apitypes.VDCCreate{Name: "acme", PoolID: pool.ID,
		Quota: ovm.Quota{CPU: ovm.CPUs(1000), Memory: 1000 * ovm.GiB, Disk: 100 * ovm.TiB, Instances: 5000, Networks: 5}})
	require.NoError(t, err)
	u, err := adm.CreateUser(ctx, apitypes.UserCreate{Name: "acme-admin", Role: apitypes.RoleVDCAdmin, VDCID: vdc.ID, Password: "tenant-password-1"})
	require.NoError(t, err)
	ten, err := client.New(s.URL(), "", nil)
	require.NoError(t, err)
	tsess, err := ten.Login(ctx, "acme-admin", "tenant-password-1")
	require.NoError(t, err)
	ten = ten.WithToken(tsess.Token)
	personal, err := ten.CreateToken(ctx, "ci", 0)
	require.NoError(t, err)

	spec := ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 10, Memory: 16 * ovm.MiB, Image: ovm.ImageRef{Format: ovm.FormatOCI, Name: "busybox:1"}}
	loadCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var created atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; loadCtx.Err() == nil; i++ {
				_, err := ten.CreateInstance(loadCtx, apitypes.InstanceCreate{Name: fmt.Sprintf("w%d-%d", w, i), Spec: spec})
				if loadCtx.Err() != nil {
					return
				}
				assert.NoError(t, err, "a create during the backup")
				created.Add(1)
			}
		})
	}
	for created.Load() < 40 {
		time.Sleep(5 * time.Millisecond)
	}
	during := filepath.Join(dir, "during.tar.gz")
	f, err := os.Create(during)
	require.NoError(t, err)
	began := time.Now()
	n, err := adm.Backup(ctx, f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	took := time.Since(began)
	atBackup := created.Load()
	for created.Load() < atBackup+40 {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	wg.Wait()
	t.Logf("backup during the load: %d bytes in %s, %d creates before it", n, took.Round(time.Millisecond), atBackup)

	_, err = ten.Backup(ctx, io.Discard)
	require.Equal(t, 403, client.StatusOf(err), "tenants take no backups: %v", err)

	// Restore the backup taken during the load into a new data directory.
	rcfg := testConfig(t, filepath.Join(dir, "restored"))
	rcfg.SecretKeyFile = filepath.Join(dir, "restored", "secret.key")
	rcfg.Restore = during
	r := start(t, rcfg, io.Discard)
	users := []ovm.ID{u.ID}
	got := dump(t, r.Store(), users)
	var instances int
	for k := range got.records {
		if len(k) > 9 && k[:9] == "instance/" {
			instances++
		}
	}
	assert.GreaterOrEqual(t, instances, 40, "the creates before the backup are in it")
	assert.Less(t, int64(instances), created.Load(), "the creates after the backup are not")
	live := dump(t, s.Store(), users)
	for k := range got.records {
		_, ok := live.records[k]
		assert.True(t, ok, "%s of the backup is in the live store", k)
	}
	// Every instance's create task came with it: the backup is one point
	// in time, not a mix.
	rcl, err := client.New(r.URL(), tsess.Token, nil)
	require.NoError(t, err)
	insts, err := rcl.ListInstances(ctx, client.ListOptions{})
	require.NoError(t, err)
	require.Len(t, insts, instances)
	tasks, err := rcl.ListTasks(ctx, client.ListOptions{})
	require.NoError(t, err)
	creates := map[ovm.ID]bool{}
	for _, tk := range tasks {
		if tk.Kind == "instance.create" {
			creates[tk.TargetID] = true
		}
	}
	for _, in := range insts {
		assert.True(t, creates[in.ID], "instance %s has its create task in the backup", in.Name)
	}
	usage, err := rcl.VDCUsage(ctx, vdc.ID)
	require.NoError(t, err)
	assert.Equal(t, int64(len(insts)), int64(usage.Usage.Instances), "the quota's usage is the backup's instances")
	// Credentials: the tokens and the password work on the restored server.
	_, err = rcl.Me(ctx)
	require.NoError(t, err, "the session token")
	_, err = rcl.WithToken(personal.Token).Me(ctx)
	require.NoError(t, err, "the personal token")
	_, err = rcl.Login(ctx, "acme-admin", "tenant-password-1")
	require.NoError(t, err, "the password")
	k1, err := os.ReadFile(cfg.SecretKeyFile)
	require.NoError(t, err)
	k2, err := os.ReadFile(rcfg.SecretKeyFile)
	require.NoError(t, err)
	assert.Equal(t, k1, k2, "the key that opens the hosts' credentials")

	// Once the load stopped and its tasks ended, a backup restores to
	// exactly the live store.
	require.Eventually(t, func() bool {
		ts, err := adm.ListTasks(ctx, client.ListOptions{})
		require.NoError(t, err)
		for _, tk := range ts {
			if !tk.State.Final() {
				return false
			}
		}
		return true
	}, time.Minute, 20*time.Millisecond, "the load's tasks end")
	quiet := filepath.Join(dir, "quiet.tar.gz")
	qf, err := os.Create(quiet)
	require.NoError(t, err)
	_, err = adm.Backup(ctx, qf)
	require.NoError(t, err)
	require.NoError(t, qf.Close())
	q := testConfig(t, filepath.Join(dir, "quiet"))
	q.SecretKeyFile = filepath.Join(dir, "quiet", "secret.key")
	q.Restore = quiet
	want := dump(t, s.Store(), users)
	qs := start(t, q, io.Discard)
	gotQuiet := dump(t, qs.Store(), users)
	assert.Equal(t, want.records, gotQuiet.records, "records")
	assert.Equal(t, want.tokens, gotQuiet.tokens, "tokens")
	assert.Equal(t, len(want.tasks), len(gotQuiet.tasks), "tasks")

	// A restore refuses a data directory that has a store.
	again := q
	again.Listen = "127.0.0.1:0"
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, qs.Shutdown(ctx2))
	_, err = app.Start(ctx, app.Options{Config: again, Argon2: cheap})
	require.ErrorIs(t, err, backup.ErrNotEmpty)
}
