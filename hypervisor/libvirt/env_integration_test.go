//go:build integration

package libvirt_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/require"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/ovm"
)

// testEnv is what scripts/testenv.d/30-libvirt.sh wrote to .testenv.
type testEnv struct {
	uri, uri2, kernel, initrd, template, shared, pools, small string
}

// env reads the test environment; a missing variable fails the test (run
// `make testenv` and `. ./.testenv` first).
func env(t testing.TB) testEnv {
	t.Helper()
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("%s is not set: run `make testenv` and `. ./.testenv` first", name)
		}
		return v
	}
	return testEnv{
		uri: get("OVM_TEST_LIBVIRT_URI"), uri2: get("OVM_TEST_LIBVIRT_URI2"),
		kernel: get("OVM_TEST_LIBVIRT_KERNEL"), initrd: get("OVM_TEST_LIBVIRT_INITRD"),
		template: get("OVM_TEST_LIBVIRT_TEMPLATE"), shared: get("OVM_TEST_LIBVIRT_SHARED"),
		pools: get("OVM_TEST_LIBVIRT_POOLS"), small: get("OVM_TEST_LIBVIRT_SMALL"),
	}
}

// probes shares the kvm-or-qemu probe among the tests' drivers.
var probes = &libvirt.Probes{}

// config is the driver configuration both test hosts share: templates and
// instance disks in directories both daemons see.
func (e testEnv) config(uri string) libvirt.Config {
	return libvirt.Config{
		URI:       uri,
		Templates: libvirt.PoolRef{Name: "ovm-templates", Path: filepath.Dir(e.template)},
		Disks:     libvirt.PoolRef{Name: "ovm-disks", Path: e.shared},
		Kernel:    e.kernel, Initrd: e.initrd, Cmdline: "console=ttyS0 quiet",
		Probes: probes,
		// KVM starts guests on these machines but they hang at the first
		// instruction (see scripts/testenv.d/30-libvirt.sh): emulate.
		VirtType: "qemu",
		// Both daemons see the shared directory (one machine).
		SharedStorage: []string{e.shared},
	}
}

// dial connects a driver to uri, closed when t ends.
func dial(t testing.TB, e testEnv, uri string) *libvirt.Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := libvirt.Dial(ctx, e.config(uri))
	require.NoError(t, err, "Dial %s: got an error, want a driver", uri)
	return d
}

// spec is a small guest from the test template.
func spec(e testEnv, name string) hypervisor.CreateSpec {
	return hypervisor.CreateSpec{
		ID: ovm.NewID(), Name: name,
		Spec: ovm.InstanceSpec{Type: ovm.TypeVM, CPU: ovm.CPUs(1), Memory: 128 * ovm.MiB,
			Image: ovm.Template(filepath.Base(e.template))},
	}
}

// makeUnmanaged defines a domain straight through go-libvirt (no OVM
// metadata), removed when t ends.
func makeUnmanaged(t *testing.T, e testEnv, name string) string {
	t.Helper()
	d := dial(t, e, e.uri)
	l := d.Libvirt()
	def := libvirtxml.Domain{Type: "qemu", Name: name,
		Memory: &libvirtxml.DomainMemory{Value: 64, Unit: "MiB"},
		VCPU:   &libvirtxml.DomainVCPU{Value: 1},
		OS: &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: "x86_64", Type: "hvm"},
			Kernel: e.kernel, Initrd: e.initrd, Cmdline: "console=ttyS0 quiet"}}
	x, err := def.Marshal()
	require.NoError(t, err)
	dom, err := l.DomainDefineXML(x)
	require.NoError(t, err, "define unmanaged %s: got an error, want none", name)
	t.Cleanup(func() {
		_ = l.DomainDestroy(dom)
		_ = l.DomainUndefineFlags(dom, golibvirt.DomainUndefineSnapshotsMetadata)
		_ = d.Close()
	})
	return fmt.Sprintf("%x-%x-%x-%x-%x", dom.UUID[0:4], dom.UUID[4:6], dom.UUID[6:8], dom.UUID[8:10], dom.UUID[10:16])
}

// migrationPool is a pool directory both hosts see, its libvirt pools
// removed from both hosts when t ends.
func migrationPool(t *testing.T, e testEnv) ovm.StoragePool {
	t.Helper()
	id := ovm.NewID()
	p := ovm.StoragePool{ID: id, Name: "ovm-mig-" + id.Short(), Kind: ovm.StorageShared, Path: filepath.Join(e.pools, "mig-"+id.Short())}
	t.Cleanup(func() {
		for _, uri := range []string{e.uri, e.uri2} {
			removePool(t, e, uri, p.Name)
		}
		_ = os.RemoveAll(p.Path)
	})
	return p
}

// removePool destroys and undefines a libvirt pool by name, if it exists.
func removePool(t testing.TB, e testEnv, uri, name string) {
	d := dial(t, e, uri)
	defer d.Close()
	l := d.Libvirt()
	pool, err := l.StoragePoolLookupByName(name)
	if err != nil {
		return
	}
	_ = l.StoragePoolDestroy(pool)
	_ = l.StoragePoolUndefine(pool)
}

// consoleReader reads a console line by line in the background.
type consoleReader struct {
	lines chan string
	c     io.ReadWriteCloser
}

func readConsole(t *testing.T, d *libvirt.Driver, ref hypervisor.Ref) *consoleReader {
	t.Helper()
	c, err := d.Console(t.Context(), ref)
	require.NoError(t, err, "Console %s: got an error, want a stream", ref)
	r := &consoleReader{lines: make(chan string, 1024), c: c}
	go func() {
		defer close(r.lines)
		s := bufio.NewScanner(c)
		for s.Scan() {
			r.lines <- strings.TrimRight(s.Text(), "\r")
		}
	}()
	t.Cleanup(func() { _ = c.Close() })
	return r
}

// waitFor reads lines until one matches re, and returns its submatches.
func (r *consoleReader) waitFor(t *testing.T, re *regexp.Regexp, within time.Duration) []string {
	t.Helper()
	deadline := time.After(within)
	var seen []string
	for {
		select {
		case line, ok := <-r.lines:
			if !ok {
				t.Fatalf("console closed before a line matching %q; got %q", re, tail(seen))
			}
			seen = append(seen, line)
			if m := re.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("console: no line matching %q within %s; got %q", re, within, tail(seen))
		}
	}
}

func tail(lines []string) []string { return lines[max(0, len(lines)-10):] }

var tickRE = regexp.MustCompile(`OVM-TICK (\d+)`)

// tick waits for the guest's next counter line and returns its value.
func (r *consoleReader) tick(t *testing.T, within time.Duration) int {
	t.Helper()
	n, err := strconv.Atoi(r.waitFor(t, tickRE, within)[1])
	require.NoError(t, err)
	return n
}
