//go:build integration

package libvirt_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/ovm"
)

// medianMS reports the median of the timed durations in milliseconds.
func medianMS(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, "ms/median")
}

// BenchmarkDefineStart times define+start of the tiny guest through the
// driver (via=ovm) and through the same go-libvirt calls made directly
// (via=golibvirt: boot volume over the template, seed upload, define,
// start). Removal is not timed.
func BenchmarkDefineStart(b *testing.B) {
	e := env(b)
	d := dial(b, e, e.uri)
	b.Cleanup(func() { _ = d.Close() })
	ctx := context.Background()
	l := d.Libvirt()

	b.Run("via=ovm", func(b *testing.B) {
		var times []time.Duration
		for b.Loop() {
			s := spec(e, "ovmb-"+ovm.NewID().Short())
			start := time.Now()
			if _, err := d.Create(ctx, s); err != nil {
				b.Fatal(err)
			}
			if err := d.Start(ctx, hypervisor.ByID(s.ID)); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(start))
			b.StopTimer()
			_ = d.Stop(ctx, hypervisor.ByID(s.ID), hypervisor.StopOptions{Force: true})
			if err := d.Delete(ctx, hypervisor.ByID(s.ID)); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		medianMS(b, times)
	})

	b.Run("via=golibvirt", func(b *testing.B) {
		dpool, err := l.StoragePoolLookupByName("ovm-disks")
		if err != nil {
			b.Fatal(err)
		}
		var times []time.Duration
		for b.Loop() {
			s := spec(e, "ovmb-"+ovm.NewID().Short())
			start := time.Now()
			bx, _ := libvirt.VolumeXML("ovm-"+string(s.ID)+"-boot.qcow2", 64<<20, "qcow2", e.template, "qcow2").Marshal()
			boot, err := l.StorageVolCreateXML(dpool, bx, 0)
			if err != nil {
				b.Fatal(err)
			}
			iso := libvirt.NoCloud{InstanceID: string(s.ID), Hostname: s.Name}.ISO(time.Now())
			sx, _ := libvirt.VolumeXML("ovm-"+string(s.ID)+"-seed.iso", uint64(len(iso)), "raw", "", "").Marshal()
			seed, err := l.StorageVolCreateXML(dpool, sx, 0)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.StorageVolUpload(seed, bytes.NewReader(iso), 0, uint64(len(iso)), 0); err != nil {
				b.Fatal(err)
			}
			def, _ := libvirt.DomainXML(libvirt.DomainSpec{Type: "qemu", Name: s.Name, VCPUs: 1, MemoryKiB: 131072,
				Kernel: e.kernel, Initrd: e.initrd, Cmdline: "console=ttyS0 quiet",
				Disks: []libvirt.DiskSpec{{Path: filepath.Join(e.shared, boot.Name), Format: "qcow2", Target: "vda"},
					{Path: filepath.Join(e.shared, seed.Name), Format: "raw", Target: "vdb", ReadOnly: true}},
				Metadata: libvirt.Metadata{ID: s.ID, Name: s.Name, CPU: s.Spec.CPU, Image: s.Spec.Image}})
			x, _ := def.Marshal()
			dom, err := l.DomainDefineXMLFlags(x, golibvirt.DomainDefineValidate)
			if err != nil {
				b.Fatal(err)
			}
			if err := l.DomainCreate(dom); err != nil {
				b.Fatal(err)
			}
			times = append(times, time.Since(start))
			b.StopTimer()
			_ = l.DomainDestroy(dom)
			_ = l.DomainUndefineFlags(dom, 0)
			_ = l.StorageVolDelete(boot, 0)
			_ = l.StorageVolDelete(seed, 0)
			b.StartTimer()
		}
		medianMS(b, times)
	})
}

// BenchmarkLiveMigration times the live migration of a running guest from
// the first host to the second through the driver (via=ovm) and with
// `virsh migrate --live` (via=virsh, the same flags: peer to peer,
// persistent, undefine source, unsafe for the shared directory). Creating,
// starting and removing the guest is not timed.
func BenchmarkLiveMigration(b *testing.B) {
	e := env(b)
	src, dst := dial(b, e, e.uri), dial(b, e, e.uri2)
	b.Cleanup(func() { _ = src.Close(); _ = dst.Close() })
	ctx := context.Background()
	for _, via := range []string{"ovm", "virsh"} {
		b.Run("via="+via, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				b.StopTimer()
				s := spec(e, "ovmb-mig-"+ovm.NewID().Short())
				if _, err := src.Create(ctx, s); err != nil {
					b.Fatal(err)
				}
				if err := src.Start(ctx, hypervisor.ByID(s.ID)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				if via == "ovm" {
					err := src.Migrate(ctx, hypervisor.ByID(s.ID), hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dst}, nil)
					if err != nil {
						b.Fatal(err)
					}
				} else {
					out, err := exec.Command("virsh", "-c", e.uri, "migrate", "--live", "--p2p", "--persistent", "--undefinesource", "--unsafe",
						s.Name, e.uri2, "tcp://127.0.0.2").CombinedOutput()
					if err != nil {
						b.Fatalf("virsh migrate: %v: %s", err, out)
					}
				}
				times = append(times, time.Since(start))
				b.StopTimer()
				_ = dst.Stop(ctx, hypervisor.ByID(s.ID), hypervisor.StopOptions{Force: true})
				if err := dst.Delete(ctx, hypervisor.ByID(s.ID)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			medianMS(b, times)
		})
	}
}
