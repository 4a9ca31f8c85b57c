package controllers

import (
	"context"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
)

// Fencer carries out the fencing methods configured for hosts: it makes
// sure a failed host runs nothing any more before its instances restart
// elsewhere.
type Fencer interface {
	// Methods returns the fencing methods configured for a host, in the
	// order to try them; none means the host cannot be fenced.
	Methods(host ovm.Host) []ha.FenceMethod
	// Fence carries out one method and returns nil only when it confirmed
	// that the host is down (its power read back off, its disk locks
	// held); otherwise the error says why, in the engine's own words.
	Fence(ctx context.Context, host ovm.Host, m ha.FenceMethod) error
}
