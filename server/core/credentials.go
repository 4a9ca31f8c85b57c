package core

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/secrets"
)

// setVersion keeps the version a host record was read at (versioned).
func (h *hostRecord) setVersion(v int64) { h.version = v }

// credentialCache keeps each host's opened credentials with the version of
// the host record they were opened from: a driver call opens a host's
// sealed credentials only when the record changed since (an update of the
// credentials changes it), not on every step of every task.
type credentialCache struct {
	mu    sync.Mutex
	hosts map[ovm.ID]openedCredentials
}

type openedCredentials struct {
	version int64
	cred    drivers.Credentials
}

// open returns the credentials of h, opened with box when the cache has
// none for h's record version. A record that is not stored (version 0) is
// opened and not kept.
func (c *credentialCache) open(box *secrets.Box, h hostRecord) (drivers.Credentials, error) {
	if h.version != 0 {
		c.mu.Lock()
		e, ok := c.hosts[h.ID]
		c.mu.Unlock()
		if ok && e.version == h.version {
			return e.cred, nil
		}
	}
	var cred drivers.Credentials
	if len(h.Sealed) > 0 {
		plain, err := box.Open(h.Sealed, []byte(h.ID))
		if err != nil {
			return cred, fmt.Errorf("core: credentials of host %s: %w", h.Name, err)
		}
		if err := json.Unmarshal(plain, &cred); err != nil {
			return cred, fmt.Errorf("core: credentials of host %s: %w", h.Name, err)
		}
	}
	if h.version != 0 {
		c.mu.Lock()
		if c.hosts == nil {
			c.hosts = map[ovm.ID]openedCredentials{}
		}
		if e, ok := c.hosts[h.ID]; !ok || e.version < h.version {
			c.hosts[h.ID] = openedCredentials{version: h.version, cred: cred}
		}
		c.mu.Unlock()
	}
	return cred, nil
}

// forget drops a host's credentials (the host is deleted).
func (c *credentialCache) forget(id ovm.ID) {
	c.mu.Lock()
	delete(c.hosts, id)
	c.mu.Unlock()
}
