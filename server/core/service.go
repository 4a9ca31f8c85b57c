package core

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/secrets"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// The task kinds the service registers on its engine.
const (
	TaskInstanceCreate = "instance.create"
	TaskInstancePower  = "instance.power"
	TaskInstanceDelete = "instance.delete"
	TaskInstanceResize = "instance.resize"
	TaskVolumeCreate   = "volume.create"
	TaskVolumeResize   = "volume.resize"
	TaskVolumeDelete   = "volume.delete"
)

// Options configure a Service. Store, Tasks, Drivers and Secrets are
// required.
type Options struct {
	Store   store.Store
	Tasks   *tasks.Engine
	Drivers *drivers.Registry
	Secrets *secrets.Box
	// Logger receives the service's own events (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Argon2 are the password hash parameters of new passwords (default
	// auth.DefaultArgon2id); tests make them cheap.
	Argon2 auth.Argon2idParams
	// SessionTTL is how long a login token lasts (default 12h).
	SessionTTL time.Duration
	// AuthCacheTTL is how long an authenticated token is remembered
	// without reading the store (default 5s; negative: never). A token
	// revoked on another replica is refused after at most this long; one
	// revoked through this Service at once.
	AuthCacheTTL time.Duration
	// UserLimits and AddressLimits throttle failed logins per user name
	// and per client address (zero: auth.DefaultUserLimits and
	// auth.DefaultAddressLimits). Each replica keeps its own counts.
	UserLimits, AddressLimits auth.ThrottleLimits
	// DriverTimeout bounds the driver calls a request makes itself (host
	// registration and sync), default 30s.
	DriverTimeout time.Duration
	// ObserveDriverCall, when set, is called after every driver call the
	// service makes, for metrics.
	ObserveDriverCall func(kind ovm.HostKind, method string, err error, d time.Duration)
	// Backup, when set, takes an online backup of the store and the secret
	// key for Service.Backup (the embedded store only).
	Backup func(ctx context.Context) (Snapshot, error)
	// Metrics is how long each resolution of metrics history is kept
	// (zero fields take the defaults of MetricsRetention).
	Metrics MetricsRetention
	// Library is the template library of the image catalog (nil: the
	// catalog keeps no templates, its routes answer 501).
	Library TemplateLibrary
	// LibraryDir is the library's directory on this server, where an
	// import from a pool whose path it is takes the file without a copy.
	LibraryDir string
	// Convert configures image conversions.
	Convert ConvertOptions
}

// Service is the platform's operations. It is safe for concurrent use.
type Service struct {
	st    store.Store
	tasks *tasks.Engine
	reg   *drivers.Registry
	box   *secrets.Box
	log   *slog.Logger
	now   func() time.Time
	o     Options

	authMu    sync.Mutex
	authCache map[[32]byte]authEntry
	dummy     string // a hash to check against for unknown users
	byUser    *auth.Throttle
	byAddress *auth.Throttle

	decoded decodedInstances
	creds   credentialCache
	hosts   decodedHosts
	placing placeLocks
	chefs   chefClients
	uploads uploadLocks
}

// New returns a Service and registers its task kinds on o.Tasks.
func New(o Options) (*Service, error) {
	var missing []string
	if o.Store == nil {
		missing = append(missing, "Store")
	}
	if o.Tasks == nil {
		missing = append(missing, "Tasks")
	}
	if o.Drivers == nil {
		missing = append(missing, "Drivers")
	}
	if o.Secrets == nil {
		missing = append(missing, "Secrets")
	}
	if len(missing) > 0 {
		return nil, errors.New("core: options need " + joinWords(missing))
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Argon2 == (auth.Argon2idParams{}) {
		o.Argon2 = auth.DefaultArgon2id
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.AuthCacheTTL == 0 {
		o.AuthCacheTTL = 5 * time.Second
	}
	if o.UserLimits == (auth.ThrottleLimits{}) {
		o.UserLimits = auth.DefaultUserLimits
	}
	if o.AddressLimits == (auth.ThrottleLimits{}) {
		o.AddressLimits = auth.DefaultAddressLimits
	}
	if o.DriverTimeout <= 0 {
		o.DriverTimeout = 30 * time.Second
	}
	o.Metrics = o.Metrics.withDefaults()
	s := &Service{
		st: o.Store, tasks: o.Tasks, reg: o.Drivers, box: o.Secrets, log: o.Logger, now: o.Now, o: o,
		authCache: map[[32]byte]authEntry{},
		byUser:    auth.NewThrottle(o.UserLimits),
		byAddress: auth.NewThrottle(o.AddressLimits),
		placing:   placeLocks{off: o.Store.OneWriter()},
	}
	s.tasks.Register(TaskInstanceCreate, createHandler{s})
	s.tasks.Register(TaskInstancePower, powerHandler{s})
	s.tasks.Register(TaskInstanceDelete, deleteHandler{s})
	s.tasks.Register(TaskInstanceResize, resizeHandler{s})
	s.tasks.Register(TaskVolumeCreate, volumeCreateHandler{s})
	s.tasks.Register(TaskVolumeResize, volumeResizeHandler{s})
	s.tasks.Register(TaskVolumeDelete, volumeDeleteHandler{s})
	s.registerStorageTasks()
	s.tasks.Register(TaskNetworkDelete, networkDeleteHandler{s})
	s.tasks.Register(TaskInstanceEvacuate, evacuateHandler{s})
	s.tasks.Register(TaskInstanceStopStale, stopStaleHandler{s})
	s.tasks.Register(TaskInstanceImport, importHandler{s})
	s.tasks.Register(TaskSnapshotCreate, snapshotCreateHandler{s})
	s.tasks.Register(TaskSnapshotRevert, snapshotRevertHandler{s})
	s.tasks.Register(TaskSnapshotDelete, snapshotDeleteHandler{s})
	s.registerChefTasks()
	s.tasks.Register(TaskInstanceMigrate, migrateHandler{s})
	s.registerConversionTasks()
	s.tasks.Register(TaskInstanceCommit, commitHandler{s})
	return s, nil
}

// tx runs fn in a store transaction. Under a request's AuditContext
// (WithAudit) the transaction also appends the audit event of what fn
// wrote (see audit.go).
func (s *Service) tx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if ac := auditFrom(ctx); ac != nil {
		return s.auditedTx(ctx, ac, fn)
	}
	return s.st.Tx(ctx, fn)
}

func joinWords(ws []string) string {
	out := ""
	for i, w := range ws {
		if i > 0 {
			out += ", "
		}
		out += w
	}
	return out
}
