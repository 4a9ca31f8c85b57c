package placement_test

import (
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// idOf derives a stable UUID from a name, so that fixtures read by name.
func idOf(name string) ovm.ID {
	h := fnv.New64a()
	h.Write([]byte(name))
	return ovm.ID(fmt.Sprintf("00000000-0000-4000-8000-%012x", h.Sum64()&0xffffffffffff))
}

var (
	dc1, dc2     = idOf("dc1"), idOf("dc2")
	poolA, poolB = idOf("pool-a"), idOf("pool-b") // in dc1
	poolC        = idOf("pool-c")                 // in dc2
	netA, netB   = idOf("net-a"), idOf("net-b")
	nfs1, nfs2   = idOf("nfs-1"), idOf("nfs-2")
	app1, app2   = idOf("vapp-1"), idOf("vapp-2")
)

// res builds resources from whole vCPUs, GiB of memory and GiB of disk.
func res(cpus, memGiB, diskGiB int64) ovm.Resources {
	return ovm.Resources{CPU: ovm.CPUs(cpus), Memory: ovm.Bytes(memGiB) * ovm.GiB, Disk: ovm.Bytes(diskGiB) * ovm.GiB}
}

// hb builds a Host fluently. The default is an up, writable KVM host of
// dc1/pool-a with 8 vCPU, 16GiB and 100GiB, nothing allocated.
type hb struct{ h placement.Host }

func newHost(name string) *hb {
	return &hb{placement.Host{
		ID: idOf(name), Name: name, DatacenterID: dc1, PoolID: poolA,
		Kind: ovm.HostKVM, State: ovm.HostUp, Capacity: res(8, 16, 100),
	}}
}

func (b *hb) kind(k ovm.HostKind) *hb         { b.h.Kind = k; return b }
func (b *hb) state(s ovm.HostState) *hb       { b.h.State = s; return b }
func (b *hb) readOnly() *hb                   { b.h.ReadOnly = true; return b }
func (b *hb) capacity(r ovm.Resources) *hb    { b.h.Capacity = r; return b }
func (b *hb) allocated(r ovm.Resources) *hb   { b.h.Allocated = r; return b }
func (b *hb) overcommit(o ovm.Overcommit) *hb { b.h.Overcommit = o; return b }
func (b *hb) networks(ids ...ovm.ID) *hb      { b.h.Networks = ids; return b }
func (b *hb) storage(ids ...ovm.ID) *hb       { b.h.SharedStorage = ids; return b }
func (b *hb) groups(ids ...ovm.ID) *hb        { b.h.Groups = ids; return b }
func (b *hb) in(dc, pool ovm.ID) *hb          { b.h.DatacenterID, b.h.PoolID = dc, pool; return b }
func (b *hb) withID(id ovm.ID) *hb            { b.h.ID = id; return b }
func (b *hb) build() placement.Host           { return b.h }
func hosts(bs ...*hb) []placement.Host        { return mapHosts(bs) }
func mapHosts(bs []*hb) (out []placement.Host) {
	for _, b := range bs {
		out = append(out, b.build())
	}
	return out
}

func mustFleet(t testing.TB, hs []placement.Host) *placement.Fleet {
	t.Helper()
	f, err := placement.NewFleet(hs)
	require.NoError(t, err, "NewFleet: got an error, want none")
	return f
}

func poolScope(id ovm.ID) ovm.Scope { return ovm.Scope{Kind: ovm.ScopePool, PoolID: id} }
func dcScope(id ovm.ID) ovm.Scope   { return ovm.Scope{Kind: ovm.ScopeDatacenter, DatacenterID: id} }
func hostsScope(ids ...ovm.ID) ovm.Scope {
	return ovm.Scope{Kind: ovm.ScopeHosts, HostIDs: ids}
}

// nameOf maps a chosen host id back to its name for readable assertions.
func nameOf(t testing.TB, f *placement.Fleet, id ovm.ID) string {
	t.Helper()
	h, ok := f.Host(id)
	require.True(t, ok, "Host(%s): got not found, want a host", id)
	return h.Name
}
