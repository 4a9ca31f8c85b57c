package fake

import (
	"bytes"
	"io"
	"sync"
)

// console is an in-memory serial console: reads return what the instance
// printed and what was typed (it echoes), and block until there is some or
// the console is closed.
type console struct {
	mu     sync.Mutex
	ready  *sync.Cond
	buf    bytes.Buffer
	closed bool
}

// newConsole returns an open console that has printed banner.
func newConsole(banner string) *console {
	c := &console{}
	c.ready = sync.NewCond(&c.mu)
	c.buf.WriteString(banner)
	return c
}

// Read returns pending output; once the console is closed and drained it
// returns io.EOF.
func (c *console) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.buf.Len() == 0 && !c.closed {
		c.ready.Wait()
	}
	if c.buf.Len() == 0 {
		return 0, io.EOF
	}
	return c.buf.Read(p)
}

// Write types p on the console, which echoes it.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, io.ErrClosedPipe
	}
	c.buf.Write(p)
	c.ready.Broadcast()
	return len(p), nil
}

// Close hangs up; readers blocked in Read return.
func (c *console) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	c.ready.Broadcast()
	return nil
}

// put prints s on an open console, as the instance would.
func (c *console) put(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.buf.WriteString(s)
		c.ready.Broadcast()
	}
}

// isClosed reports whether the console was closed.
func (c *console) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
