package esxi

import (
	"context"
	"crypto/sha1" //nolint:gosec // ESXi shows SHA-1 thumbprints; SHA-256 is accepted too
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/session/keepalive"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/ovm"
)

// Config says how to reach and trust one ESXi host.
type Config struct {
	// Host is "name-or-address[:port]" (port 443 when omitted).
	Host     string
	User     string
	Password string
	// RootCAs verifies the host's certificate chain; nil means the system
	// roots. Ignored when Thumbprint is set.
	RootCAs *x509.CertPool
	// Thumbprint pins the host's certificate by its SHA-256 or SHA-1
	// fingerprint, hex with or without colons, as the ESXi console shows it.
	Thumbprint string
	// KeepAlive is the idle time between keep-alive calls; zero means
	// DefaultKeepAlive.
	KeepAlive time.Duration
	// Datastore is where new VMs are put when their disks name no pool;
	// empty means the host's first datastore.
	Datastore string
	// VSwitch is the standard vSwitch port groups go on; empty means
	// DefaultVSwitch.
	VSwitch string
	// GuestUser and GuestPassword are the guest account VMware Tools guest
	// operations run commands as (Exec); empty: the driver runs no
	// commands inside VMs.
	GuestUser, GuestPassword string
	// ImageLibrary is the datastore directory of VMDK templates, such as
	// "[images] templates". A VM whose image is found there boots from a
	// copy of it; empty means VMs get blank boot disks.
	ImageLibrary string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultKeepAlive is the keep-alive interval when Config.KeepAlive is zero.
const DefaultKeepAlive = 5 * time.Minute

// Validate checks the config's shape.
func (c Config) Validate() error {
	var f ovm.Fields
	if c.Host == "" {
		f.Add("host", "is required")
	} else if u, err := url.Parse("https://" + c.Host); err != nil || u.Host != c.Host || strings.ContainsAny(c.Host, "/ ") {
		f.Add("host", "must be a host name or address with an optional port")
	}
	if c.User == "" {
		f.Add("user", "is required")
	}
	if c.Thumbprint != "" {
		norm := normThumbprint(c.Thumbprint)
		if _, err := hex.DecodeString(norm); err != nil || (len(norm) != sha1.Size*2 && len(norm) != sha256.Size*2) {
			f.Add("thumbprint", "must be a SHA-1 or SHA-256 fingerprint in hex")
		}
	}
	if c.KeepAlive < 0 {
		f.Add("keepAlive", "must not be negative")
	}
	return f.Err("invalid esxi connection")
}

// normThumbprint returns the thumbprint in lower-case hex without separators.
func normThumbprint(s string) string {
	return strings.ToLower(strings.NewReplacer(":", "", " ", "", "-", "").Replace(s))
}

// ThumbprintError is returned when the host's certificate is not the pinned one.
type ThumbprintError struct {
	Host   string
	Want   string
	SHA256 string
	SHA1   string
}

// Error says which certificate the host showed and which one was pinned.
func (e *ThumbprintError) Error() string {
	return fmt.Sprintf("certificate of %s does not match the pinned thumbprint %s (the host shows SHA-256 %s, SHA-1 %s)",
		e.Host, e.Want, e.SHA256, e.SHA1)
}

// Thumbprints returns the SHA-256 and SHA-1 fingerprints of cert in
// lower-case hex.
func Thumbprints(cert *x509.Certificate) (sha256Hex, sha1Hex string) {
	s2 := sha256.Sum256(cert.Raw)
	s1 := sha1.Sum(cert.Raw) //nolint:gosec // compared, never used to sign
	return hex.EncodeToString(s2[:]), hex.EncodeToString(s1[:])
}

// tlsConfig builds the verification the config asks for: a pinned
// thumbprint, or a certificate chain to RootCAs (the system's when nil).
func (c Config) tlsConfig() *tls.Config {
	if c.Thumbprint == "" {
		return &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
	}
	want := normThumbprint(c.Thumbprint)
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain is not checked against a CA: the leaf is compared with
		// the pinned thumbprint in VerifyConnection instead, which refuses
		// every other certificate. This is pinning, not "insecure".
		InsecureSkipVerify: true, //nolint:gosec // verified by VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &ThumbprintError{Host: c.Host, Want: want}
			}
			s2, s1 := Thumbprints(cs.PeerCertificates[0])
			if want == s2 || want == s1 {
				return nil
			}
			return &ThumbprintError{Host: c.Host, Want: c.Thumbprint, SHA256: s2, SHA1: s1}
		},
	}
}

// conn is the session to one host, shared by the hypervisor, storage and
// network drivers.
type conn struct {
	cfg     Config
	host    string
	now     func() time.Time
	client  *vim25.Client
	soap    *soap.Client
	keep    *keepalive.HandlerSOAP
	relogin *relogin
	about   types.AboutInfo

	dc        *object.Datacenter
	vmFolder  *object.Folder
	dsFolder  types.ManagedObjectReference
	hostSys   *object.HostSystem
	rpool     *object.ResourcePool
	dsSystem  types.ManagedObjectReference
	netSystem types.ManagedObjectReference
	defaultDS string
	library   atomic.Pointer[string] // the template library in use; nil: cfg.ImageLibrary

	mu       sync.Mutex
	readOnly string // why the host refuses changes; "" when it takes them
	ids      map[ovm.ID]types.ManagedObjectReference
	counters map[string]int32
	samples  map[string]*netDisk
	closed   bool
	idLocks  map[ovm.ID]*sync.Mutex // serialise creates of one id
	netMu    sync.Mutex             // serialises network creates and deletes
	poolMu   sync.Mutex             // serialises pool creates and deletes
}

// dial connects, checks the endpoint is a standalone host, logs in and finds
// the host's inventory.
func dial(ctx context.Context, cfg Config) (*conn, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &conn{cfg: cfg, host: cfg.Host, now: cfg.Now, ids: map[ovm.ID]types.ManagedObjectReference{},
		counters: map[string]int32{}, samples: map[string]*netDisk{}}
	if c.now == nil {
		c.now = time.Now
	}
	u := &url.URL{Scheme: "https", Host: cfg.Host, Path: "/sdk"}
	sc := soap.NewClient(u, false)
	t := sc.DefaultTransport()
	t.TLSClientConfig = cfg.tlsConfig()
	t.DialTLSContext = nil // the standard TLS handshake, bounded by ctx, with our verification
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	c.soap = sc

	vc, err := vim25.NewClient(ctx, sc)
	if err != nil {
		return nil, c.dialErr(err)
	}
	c.client = vc
	c.about = vc.ServiceContent.About
	if c.about.ApiType != "HostAgent" {
		return nil, ovm.Errorf(ovm.KindInvalid, "esxi %s: the endpoint is %q (api type %q), not a standalone ESXi host; OVM manages ESXi hosts directly, without vCenter",
			c.host, c.about.FullName, c.about.ApiType)
	}
	idle := cfg.KeepAlive
	if idle == 0 {
		idle = DefaultKeepAlive
	}
	c.relogin = &relogin{c: c}
	c.keep = keepalive.NewHandlerSOAP(sc, idle, func() error {
		kctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := methods.GetCurrentTime(kctx, c.relogin)
		return err
	})
	c.relogin.rt = c.keep
	vc.RoundTripper = c.relogin
	if err := c.relogin.login(ctx, 0); err != nil {
		return nil, c.dialErr(err)
	}
	if err := c.discover(ctx); err != nil {
		_ = c.close()
		return nil, err
	}
	if err := c.checkLicence(ctx); err != nil {
		_ = c.close()
		return nil, err
	}
	return c, nil
}

// dialErr translates a failure to reach or log in to the host.
func (c *conn) dialErr(err error) error {
	var te *ThumbprintError
	switch {
	case errors.As(err, &te):
		return ovm.Wrap(ovm.KindInvalid, err, "esxi %s: refusing the host's certificate", c.host)
	case certError(err):
		return ovm.Wrap(ovm.KindInvalid, err, "esxi %s: cannot verify the host's certificate (give its CA or pin its thumbprint)", c.host)
	}
	return c.wrap(err, "connect")
}

// discover finds the datacenter, host, resource pool and managers.
func (c *conn) discover(ctx context.Context) error {
	f := find.NewFinder(c.client, false)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		return c.wrap(err, "find the datacenter")
	}
	c.dc = dc
	f.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	if err != nil {
		return c.wrap(err, "find the vm folder")
	}
	c.vmFolder = folders.VmFolder
	c.dsFolder = folders.DatastoreFolder.Reference()
	hs, err := f.DefaultHostSystem(ctx)
	if err != nil {
		return c.wrap(err, "find the host system")
	}
	c.hostSys = hs
	var h mo.HostSystem
	if err := hs.Properties(ctx, hs.Reference(), []string{"parent", "configManager", "datastore"}, &h); err != nil {
		return c.wrap(err, "read the host system")
	}
	var cr mo.ComputeResource
	if err := property.DefaultCollector(c.client).RetrieveOne(ctx, *h.Parent, []string{"resourcePool"}, &cr); err != nil {
		return c.wrap(err, "read the host's compute resource")
	}
	c.rpool = object.NewResourcePool(c.client, *cr.ResourcePool)
	if h.ConfigManager.DatastoreSystem != nil {
		c.dsSystem = *h.ConfigManager.DatastoreSystem
	}
	if h.ConfigManager.NetworkSystem != nil {
		c.netSystem = *h.ConfigManager.NetworkSystem
	}
	c.defaultDS = c.cfg.Datastore
	if c.defaultDS == "" && len(h.Datastore) > 0 {
		var ds mo.Datastore
		if err := property.DefaultCollector(c.client).RetrieveOne(ctx, h.Datastore[0], []string{"name"}, &ds); err != nil {
			return c.wrap(err, "read the first datastore")
		}
		c.defaultDS = ds.Name
	}
	return nil
}

// checkLicence reads the host's licences and records whether it refuses
// changes (the free licence).
func (c *conn) checkLicence(ctx context.Context) error {
	if c.client.ServiceContent.LicenseManager == nil {
		return nil
	}
	var lm mo.LicenseManager
	err := property.DefaultCollector(c.client).RetrieveOne(ctx, *c.client.ServiceContent.LicenseManager, []string{"licenses"}, &lm)
	if err != nil {
		return c.wrap(err, "read the licences")
	}
	reason := freeLicence(c.host, lm.Licenses)
	c.mu.Lock()
	c.readOnly = reason
	c.mu.Unlock()
	return nil
}

// freeLicence returns why a host with these licences refuses changes through
// the API, or "" when it takes them. The free "vSphere Hypervisor" edition
// (edition key esxBasic) does; evaluation mode and paid editions do not.
func freeLicence(host string, ls []types.LicenseManagerLicenseInfo) string {
	free := ""
	for _, l := range ls {
		edition, name := strings.ToLower(l.EditionKey), strings.ToLower(l.Name)
		isFree := strings.HasPrefix(edition, "esxbasic") || strings.Contains(name, "hypervisor") || strings.Contains(name, "free")
		if !isFree {
			return ""
		}
		free = fmt.Sprintf("%s (edition %s)", l.Name, l.EditionKey)
	}
	if free == "" {
		return ""
	}
	return fmt.Sprintf("host %s runs on the free licence %s, which makes its API read-only (%q)", host, free, licenceText)
}

// writable returns ovm.ErrUnsupported with the reason when the host refuses
// changes, and the context's error when ctx is done.
func (c *conn) writable(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return ovm.Wrap(ovm.KindUnavailable, err, "esxi %s: %s", c.host, op)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ovm.Errorf(ovm.KindUnavailable, "esxi %s: %s: the connection is closed", c.host, op)
	}
	if c.readOnly != "" {
		return ovm.Errorf(ovm.KindUnsupported, "esxi %s: %s: %s", c.host, op, c.readOnly)
	}
	return nil
}

// ready returns the context's error when ctx is done, or an error when the
// connection is closed.
func (c *conn) ready(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return ovm.Wrap(ovm.KindUnavailable, err, "esxi %s: %s", c.host, op)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ovm.Errorf(ovm.KindUnavailable, "esxi %s: %s: the connection is closed", c.host, op)
	}
	return nil
}

// close logs out; the keep-alive stops with the logout.
func (c *conn) close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := methods.Logout(ctx, c.keep, &types.Logout{This: *c.client.ServiceContent.SessionManager})
	c.keep.Stop()
	c.soap.CloseIdleConnections()
	if err != nil && kindOf(err) != ovm.KindUnavailable && !isFault[*types.NotAuthenticated](err) {
		return c.wrap(err, "log out")
	}
	return nil
}

// relogin retries a call once after logging in again when the host says the
// session is gone (it expired, the host restarted, it was terminated).
type relogin struct {
	c   *conn
	rt  soap.RoundTripper
	mu  sync.Mutex
	gen uint64 // counts logins, so that concurrent callers log in once
}

// RoundTrip implements soap.RoundTripper.
func (r *relogin) RoundTrip(ctx context.Context, req, res soap.HasFault) error {
	r.mu.Lock()
	gen := r.gen
	r.mu.Unlock()
	err := r.rt.RoundTrip(ctx, req, res)
	if err == nil && missingSession(res) {
		err = soap.WrapVimFault(&types.NotAuthenticated{})
	}
	if err == nil || !isFault[*types.NotAuthenticated](err) {
		return err
	}
	switch req.(type) {
	case *methods.LoginBody, *methods.LogoutBody:
		return err
	}
	if lerr := r.login(ctx, gen); lerr != nil {
		return lerr
	}
	v := reflect.ValueOf(res).Elem()
	v.Set(reflect.Zero(v.Type()))
	return r.rt.RoundTrip(ctx, req, res)
}

// missingSession reports whether a property collector's answer says, object
// by object, that the session is gone (some hosts, and the simulator, answer
// so instead of failing the call).
func missingSession(res soap.HasFault) bool {
	body, ok := res.(*methods.RetrievePropertiesExBody)
	if !ok || body.Res == nil || body.Res.Returnval == nil {
		return false
	}
	for _, o := range body.Res.Returnval.Objects {
		for _, m := range o.MissingSet {
			if _, ok := m.Fault.Fault.(*types.NotAuthenticated); ok {
				return true
			}
		}
	}
	return false
}

// login logs in unless another caller already did since generation gen.
func (r *relogin) login(ctx context.Context, gen uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gen != gen {
		return nil
	}
	_, err := methods.Login(ctx, r.rt, &types.Login{
		This:     *r.c.client.ServiceContent.SessionManager,
		UserName: r.c.cfg.User,
		Password: r.c.cfg.Password,
	})
	if err != nil {
		return err
	}
	r.gen++
	return nil
}
