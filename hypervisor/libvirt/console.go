package libvirt

import (
	"context"
	"io"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// Console opens the serial console of a running instance as a byte stream
// (virDomainOpenConsole over an RPC stream, on a connection of its own so
// that closing it ends the stream). Reading yields what the guest prints.
// go-libvirt's DomainOpenConsole streams one way only: Write is
// ovm.ErrUnsupported.
func (d *Driver) Console(ctx context.Context, ref hypervisor.Ref) (io.ReadWriteCloser, error) {
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return nil, err
	}
	if f.power != ovm.PowerRunning && f.power != ovm.PowerPaused {
		return nil, hypervisor.ErrPower(ref, "open the console of", f.power)
	}
	l, err := connect(ctx, d.ep)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	c := &console{l: l, r: pr}
	go func() {
		err := l.DomainOpenConsole(f.dom, nil, pw, uint32(golibvirt.DomainConsoleForce))
		if err == nil {
			err = io.EOF
		} else {
			err = wrap(err, "libvirt: console of %s", f.dom.Name)
		}
		pw.CloseWithError(err)
	}()
	return c, nil
}

// console is an open serial console.
type console struct {
	l    *golibvirt.Libvirt
	r    *io.PipeReader
	once sync.Once
}

func (c *console) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *console) Write([]byte) (int, error) {
	return 0, ovm.Errorf(ovm.KindUnsupported, "libvirt: console input is not supported (go-libvirt streams the console one way)")
}

// consoleCloseWait bounds how long Close waits for the console's
// connection to end.
const consoleCloseWait = 30 * time.Second

// Close ends the stream and its connection. The stream is read to its end
// meanwhile: go-libvirt's stream stops taking packets once its writer
// fails, and its router then holds the connection's lock for good, so
// Disconnect would never return.
func (c *console) Close() error {
	var err error
	c.once.Do(func() {
		go func() { _, _ = io.Copy(io.Discard, c.r) }()
		done := make(chan error, 1)
		go func() { done <- c.l.Disconnect() }()
		t := time.NewTimer(consoleCloseWait)
		defer t.Stop()
		select {
		case err = <-done:
		case <-t.C:
			err = ovm.Errorf(ovm.KindUnavailable, "libvirt: the console's connection did not close within %s", consoleCloseWait)
		}
		_ = c.r.Close()
	})
	return err
}
