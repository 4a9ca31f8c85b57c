package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/openovm/ovm/ovm"
)

// ErrVersionMismatch is in the chain of the error an update or delete returns
// when the record's version is not the one the caller expected (a stale
// If-Match). Its kind is ovm.ErrConflict; the API answers 412.
var ErrVersionMismatch = errors.New("version mismatch")

// ErrReadOnly is in the chain of the error every write returns inside
// Store.View (kind internal: a write there is a bug of the caller).
var ErrReadOnly = errors.New("write in a read-only transaction")

// Kind is the kind of a stored record.
type Kind string

// The record kinds.
const (
	KindDatacenter  Kind = "datacenter"
	KindPool        Kind = "pool"
	KindHost        Kind = "host"
	KindVDC         Kind = "vdc"
	KindUser        Kind = "user"
	KindInstance    Kind = "instance"
	KindVolume      Kind = "volume"
	KindNetwork     Kind = "network"
	KindVApp        Kind = "vapp"
	KindStoragePool Kind = "storagepool"
	KindDiscovered  Kind = "discovered"
	KindAlert       Kind = "alert"
	// KindSnapshot is a snapshot of an instance or a volume (its ParentID);
	// its name is "<parent id>/<name>", unique per parent.
	KindSnapshot Kind = "snapshot"
	// KindClaim records that one object of an engine (an object on a host,
	// or a host itself) is held by one OVM record; its id is derived from
	// the object's identity, so a second claim of one object is a conflict.
	KindClaim Kind = "claim"
)

// Record is one stored object. Names are unique per (Kind, VDCID); an empty
// VDCID is the platform scope (datacenters, pools, hosts, users...).
type Record struct {
	Kind  Kind
	ID    ovm.ID
	VDCID ovm.ID
	// ParentID links a record to what it belongs to, for listing: the
	// datacenter of a pool, the pool of a host, the host of an instance or
	// a discovered object, the VDC of a user, the vApp of an instance.
	ParentID ovm.ID
	// HostID is the host an instance, volume or discovered object is on.
	HostID ovm.ID
	Name   string
	// Version starts at 1 and grows by one on every update; it is the
	// ETag of the object.
	Version   int64
	Data      json.RawMessage
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Decode unmarshals the record's data into v.
func (r Record) Decode(v any) error {
	if err := json.Unmarshal(r.Data, v); err != nil {
		return fmt.Errorf("store: decode %s %s: %w", r.Kind, r.ID, err)
	}
	return nil
}

// NewRecord returns a record holding v as JSON.
func NewRecord(kind Kind, id ovm.ID, vdcID ovm.ID, name string, v any) (Record, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Record{}, fmt.Errorf("store: encode %s %s: %w", kind, id, err)
	}
	return Record{Kind: kind, ID: id, VDCID: vdcID, Name: name, Data: data}, nil
}

// Filter selects records for List. Zero fields do not filter.
type Filter struct {
	Kind Kind // required
	// VDCID limits the list to one VDC. AllVDCs lists every scope
	// (platform administrators); otherwise an empty VDCID is the platform
	// scope.
	VDCID    ovm.ID
	AllVDCs  bool
	ParentID ovm.ID
	HostID   ovm.ID
}

// Page asks for one page of a list: records with an ID after After, in ID
// order, at most Limit (default 100, at most 1000).
type Page struct {
	After ovm.ID
	Limit int
}

// TaskRecord is a persisted task with what the engine needs to run it.
type TaskRecord struct {
	Task ovm.Task
	// HostID bounds parallel work per host; empty for tasks on no host.
	HostID ovm.ID
	// Input is the task kind's payload; State is what its steps recorded
	// so far (native ids and the like), so a resumed task knows them.
	Input json.RawMessage
	State json.RawMessage
	// LeaseOwner and LeaseExpires say which server replica runs it.
	LeaseOwner   string
	LeaseExpires time.Time
	Version      int64
}

// Token is a stored API token: only the hash of the secret is kept.
type Token struct {
	ID        ovm.ID
	UserID    ovm.ID
	Name      string
	Hash      []byte // SHA-256 of the secret
	Session   bool   // a login session (expires) rather than a personal token
	ExpiresAt time.Time
	CreatedAt time.Time
	LastUsed  time.Time
}

// IPAllocation is one address of a network held by an owner.
type IPAllocation struct {
	NetworkID ovm.ID
	IP        netip.Addr
	Owner     ovm.ID
}

// Idempotency is the stored outcome of a create that carried a client key.
type Idempotency struct {
	Scope       string // the principal and operation
	Key         string
	RequestHash []byte // a retry with another body is a conflict
	Status      int
	Response    json.RawMessage
	CreatedAt   time.Time
}

// HostAllocation is what a host holds: the resources of the instances and
// disks placed on it, how many instances it runs, and how many members of
// each anti-affinity group (a vApp id) are among them. Placement reads it
// instead of summing the instances of the host.
type HostAllocation struct {
	Resources ovm.Resources
	Instances int64
	// Groups counts members per group; a group with none is absent.
	Groups map[ovm.ID]int64
}

// IsZero reports whether the allocation holds nothing.
func (a HostAllocation) IsZero() bool {
	if a.Resources != (ovm.Resources{}) || a.Instances != 0 {
		return false
	}
	for _, n := range a.Groups {
		if n != 0 {
			return false
		}
	}
	return true
}

// Neg returns the allocation with every component negated: what releases a.
func (a HostAllocation) Neg() HostAllocation {
	out := HostAllocation{Resources: ovm.Resources{}.Sub(a.Resources), Instances: -a.Instances}
	if len(a.Groups) > 0 {
		out.Groups = make(map[ovm.ID]int64, len(a.Groups))
		for g, n := range a.Groups {
			out.Groups[g] = -n
		}
	}
	return out
}

// Store is the server's persistence. Implementations are safe for
// concurrent use.
type Store interface {
	// Tx runs fn in a serializable transaction and commits it. When the
	// database reports a serialization failure (SQLSTATE 40001), anywhere
	// in fn or at commit, Tx rolls back and runs fn again from BEGIN, with
	// backoff, until ctx ends. fn must be database work only and must not
	// keep results from an attempt that did not commit.
	Tx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// View runs fn in a read-only transaction: fn sees committed data as of
	// one point in time, never waits for writers and makes readers never
	// wait for it, and every write through tx fails with ErrReadOnly in its
	// chain. Like Tx, View runs fn again on a serialization failure (with
	// backoff, until ctx ends), and it may also run fn again to move it
	// from a cheaper read path to a full read-only transaction (a function
	// that reads more than once), so fn must keep only the results of its
	// last run. View and Tx do not nest: calling either inside fn is an
	// error.
	View(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// Engine names the engine: "sqlite" or "postgres".
	Engine() string
	// OneWriter reports whether the store runs its write transactions one
	// at a time, in its own order (the embedded SQLite store, which commits
	// the transactions queued meanwhile together): two of them never
	// conflict, so callers gain nothing by ordering their own.
	OneWriter() bool
	// Ping checks the database answers.
	Ping(ctx context.Context) error
	Close() error
}

// Tx is the work one transaction can do. Errors carry ovm kinds: a missing
// record is ovm.ErrNotFound, a duplicate id or name ovm.ErrConflict, a stale
// version ErrVersionMismatch (kind conflict). The driver's own error stays
// wrapped so that Store.Tx still sees SQLSTATE 40001; SQL text never
// reaches the message of an ovm error.
type Tx interface {
	// Records.
	Insert(ctx context.Context, r *Record) error // sets Version 1 and the times
	Get(ctx context.Context, kind Kind, id ovm.ID) (Record, error)
	GetByName(ctx context.Context, kind Kind, vdcID ovm.ID, name string) (Record, error)
	// Update replaces a record's data, names and links when its version is
	// ifVersion (0 skips the check) and bumps the version in r.
	Update(ctx context.Context, r *Record, ifVersion int64) error
	Delete(ctx context.Context, kind Kind, id ovm.ID, ifVersion int64) error
	// List returns one page and the cursor of the next ("" at the end).
	List(ctx context.Context, f Filter, p Page) ([]Record, ovm.ID, error)
	Count(ctx context.Context, f Filter) (int64, error)

	// Quotas: the VDC's limits and usage live in their own row.
	SetQuota(ctx context.Context, vdcID ovm.ID, q ovm.Quota) error
	Quota(ctx context.Context, vdcID ovm.ID) (ovm.Quota, ovm.Usage, error)
	// Reserve adds delta to the VDC's usage with a guarded update (usage +
	// delta <= limit for every positive component); a negative delta
	// releases and always succeeds. Over quota is ovm.ErrQuotaExceeded
	// naming each resource.
	Reserve(ctx context.Context, vdcID ovm.ID, delta ovm.Usage) error

	// Host allocations. AllocateHost adds delta to the host's allocation
	// with guarded increments in one statement: each positive resource
	// must stay within the same component of limit (a zero component does
	// not limit), else ovm.ErrQuotaExceeded naming the host and the
	// resource; a component that would fall below zero is ovm.ErrInternal
	// (the caller released what the host did not hold) and changes
	// nothing. HostAllocations returns the allocations of the hosts asked
	// for, with their groups when groups is set; a host that holds nothing
	// is absent. DeleteHostAllocation forgets a host's allocation.
	AllocateHost(ctx context.Context, hostID ovm.ID, delta HostAllocation, limit ovm.Resources) error
	HostAllocations(ctx context.Context, hostIDs []ovm.ID, groups bool) (map[ovm.ID]HostAllocation, error)
	DeleteHostAllocation(ctx context.Context, hostID ovm.ID) error

	// Placement cursors: the round-robin position of each resource pool,
	// an opaque text ("" when the pool has none yet).
	PoolCursor(ctx context.Context, poolID ovm.ID) (string, error)
	SetPoolCursor(ctx context.Context, poolID ovm.ID, cursor string) error

	// IP allocations: unique per (network, ip).
	Allocations(ctx context.Context, networkID ovm.ID) ([]IPAllocation, error)
	Allocate(ctx context.Context, a IPAllocation) error
	ReleaseIP(ctx context.Context, networkID ovm.ID, ip netip.Addr) error
	ReleaseOwner(ctx context.Context, owner ovm.ID) error

	// Tokens.
	CreateToken(ctx context.Context, t Token) error
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	ListTokens(ctx context.Context, userID ovm.ID) ([]Token, error)
	// PageTokens returns one page of the user's tokens in ID order and the
	// cursor of the next page ("" after the last).
	PageTokens(ctx context.Context, userID ovm.ID, p Page) ([]Token, ovm.ID, error)
	DeleteToken(ctx context.Context, id ovm.ID) error
	TouchToken(ctx context.Context, id ovm.ID, at time.Time) error

	// Tasks.
	CreateTask(ctx context.Context, t *TaskRecord) error
	GetTask(ctx context.Context, id ovm.ID) (TaskRecord, error)
	ListTasks(ctx context.Context, vdcID ovm.ID, all bool, p Page) ([]TaskRecord, ovm.ID, error)
	// UpdateTask saves a task when its version is still t.Version (else
	// ErrVersionMismatch) and bumps it; an owner that lost its lease thus
	// cannot overwrite the new owner's work.
	UpdateTask(ctx context.Context, t *TaskRecord) error
	// ClaimTask takes the oldest task that is not final and whose lease is
	// free or expired (by the database's clock), for owner, for ttl; it
	// skips tasks on the hosts in busyHosts. ok is false when there is none.
	ClaimTask(ctx context.Context, owner string, ttl time.Duration, busyHosts []ovm.ID) (t TaskRecord, ok bool, err error)
	// ClaimTaskByID takes the task id like ClaimTask when it is not final,
	// its lease is free or expired and its host is not in busyHosts; ok is
	// false otherwise (a missing task too). It reads that one row, so on a
	// serializable database it does not conflict with the tasks being
	// created or saved around it.
	ClaimTaskByID(ctx context.Context, id ovm.ID, owner string, ttl time.Duration, busyHosts []ovm.ID) (t TaskRecord, ok bool, err error)
	// RenewTask extends the lease of a task owner still holds.
	RenewTask(ctx context.Context, id ovm.ID, owner string, ttl time.Duration) error

	// Leases for singleton loops. AcquireLease takes or renews the named
	// lease for holder (expiry by the database's clock); a new holder gets
	// a higher epoch. CheckLease returns ovm.ErrConflict unless holder still
	// holds the lease at epoch; leader-only writes call it in the same
	// transaction.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (epoch int64, held bool, err error)
	CheckLease(ctx context.Context, name, holder string, epoch int64) error
	ReleaseLease(ctx context.Context, name, holder string) error

	// Idempotency keys.
	GetIdempotency(ctx context.Context, scope, key string) (Idempotency, error)
	PutIdempotency(ctx context.Context, i Idempotency) error

	// Metrics: samples, rollups and retention (metrics.go).
	Metrics

	// Now returns the database's clock.
	Now(ctx context.Context) (time.Time, error)
}
