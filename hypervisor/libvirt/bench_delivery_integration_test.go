//go:build integration

package libvirt_test

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/image/library"
	"github.com/openovm/ovm/ovm"
)

// deliverySize is the size of the file BenchmarkTemplateDelivery sends.
const deliverySize = 256 * ovm.MiB

// deliveryFile writes the test template padded with random bytes to
// deliverySize, and returns its path and digest.
func deliveryFile(b *testing.B, e testEnv) (string, string) {
	b.Helper()
	tmpl, err := os.ReadFile(e.template)
	if err != nil {
		b.Fatal(err)
	}
	pad := make([]byte, int(deliverySize)-len(tmpl))
	_, _ = rand.Read(pad)
	p := filepath.Join(b.TempDir(), "delivery.raw")
	data := append(tmpl, pad...)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return p, hypervisor.DigestOf(data)
}

// median returns the median of d.
func median(d []time.Duration) time.Duration {
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}

// BenchmarkTemplateDelivery sends the same 256 MiB file into the same
// pool of the real libvirtd through DeliverTemplate, opened from the image
// center's template library as the server does (volume created,
// bytes streamed and checked against size and digest, digest sidecar
// written) and through `virsh vol-upload` (into a volume made beforehand
// with vol-create-as, not timed). It reports the median time of each and
// the median ratio, OVM over virsh, and the ratio of the fastest rounds;
// the goal is at most 1.2.
func BenchmarkTemplateDelivery(b *testing.B) {
	e := env(b)
	d, pool := libraryDriver(b, e)
	file, digest := deliveryFile(b, e)
	ctx := context.Background()
	virsh := func(args ...string) {
		b.Helper()
		out, err := exec.CommandContext(ctx, "virsh", append([]string{"-q", "-c", e.uri}, args...)...).CombinedOutput()
		if err != nil {
			b.Fatalf("virsh %v: %v: %s", args, err, out)
		}
	}
	lib, err := library.New(b.TempDir(), library.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = lib.Close() })
	ref := ovm.Template("bench.qcow2") // the test template's header, padded
	in, err := os.Open(file)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := lib.Put(ctx, ref, in, digest); err != nil {
		b.Fatal(err)
	}
	_ = in.Close()
	viaOVM := func() time.Duration {
		start := time.Now()
		rc, img, err := lib.Open(ctx, ref)
		if err != nil {
			b.Fatal(err)
		}
		defer rc.Close()
		if err := d.DeliverTemplate(ctx, "bench-ovm.raw", img.Digest, deliverySize, hypervisor.Verified(rc, img.Digest), nil); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	viaVirsh := func() time.Duration {
		b.StopTimer()
		virsh("vol-create-as", pool.Name, "bench-virsh.raw", strconv.FormatInt(int64(deliverySize), 10), "--format", "raw")
		b.StartTimer()
		start := time.Now()
		virsh("vol-upload", "--pool", pool.Name, "bench-virsh.raw", file)
		took := time.Since(start)
		b.StopTimer()
		virsh("vol-delete", "--pool", pool.Name, "bench-virsh.raw")
		b.StartTimer()
		return took
	}
	// Each round times both, in turns first, so that a machine busy with
	// other work weighs on both alike; the ratio is the median of the
	// rounds' ratios.
	var ovms, virshes []time.Duration
	var ratios []float64
	for i := 0; b.Loop(); i++ {
		var o, v time.Duration
		if i%2 == 0 {
			o, v = viaOVM(), viaVirsh()
		} else {
			v, o = viaVirsh(), viaOVM()
		}
		ovms, virshes = append(ovms, o), append(virshes, v)
		ratios = append(ratios, o.Seconds()/v.Seconds())
	}
	slices.Sort(ratios)
	o, v := median(ovms), median(virshes)
	mb := float64(deliverySize) / float64(ovm.MiB)
	b.ReportMetric(o.Seconds(), "ovm-s")
	b.ReportMetric(v.Seconds(), "virsh-s")
	b.ReportMetric(mb/o.Seconds(), "ovm-MiB/s")
	b.ReportMetric(mb/v.Seconds(), "virsh-MiB/s")
	b.ReportMetric(ratios[len(ratios)/2], "ovm/virsh")
	// The fastest rounds: each way's cost with the least interference.
	b.ReportMetric(slices.Min(ovms).Seconds()/slices.Min(virshes).Seconds(), "ovm/virsh-best")
}
