package drivers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/hypervisor/esxi"
	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// Compile-time checks that each engine's storage and network drivers fit
// the server's Conn.
var (
	_ storage.Driver = (*docker.Storage)(nil)
	_ network.Driver = (*docker.Networks)(nil)
	_ storage.Driver = (*libvirt.Storage)(nil)
	_ network.Driver = (*libvirt.Networks)(nil)
	_ storage.Driver = (*esxi.Storage)(nil)
	_ network.Driver = (*esxi.Network)(nil)
)

// EngineOptions configure the factories of the real engines.
type EngineOptions struct {
	// Logger receives connection events (default: discard).
	Logger *slog.Logger
	// TempDir is where credentials that a driver reads from files (TLS
	// client certificates, SSH keys) are written, in a private directory per
	// connection that Close removes. Empty means os.TempDir().
	TempDir string
	// Probes shares libvirt's kvm-or-qemu probe among the connections of
	// the process; nil means one set of probes for the factory.
	Probes *libvirt.Probes
}

func (o EngineOptions) withDefaults() EngineOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Probes == nil {
		o.Probes = &libvirt.Probes{}
	}
	return o
}

// RegisterEngines registers the Docker, KVM (libvirt) and ESXi factories on
// reg.
func RegisterEngines(reg *Registry, o EngineOptions) {
	o = o.withDefaults()
	reg.Register(ovm.HostDocker, DockerFactory(o))
	reg.Register(ovm.HostKVM, LibvirtFactory(o))
	reg.Register(ovm.HostESXi, ESXiFactory(o))
}

// The option keys of each host kind, with what they mean. Host.Options
// holding any other key is refused.
var (
	// DockerOptions are the options of a Docker host.
	DockerOptions = map[string]string{
		"uplink": "host interface that carries VLAN segments as macvlan networks (such as eth1); without it segments are bridge networks of this host",
	}
	// LibvirtOptions are the options of a KVM host.
	LibvirtOptions = map[string]string{
		"templates":     "required: storage pool of the VM templates, an absolute directory on the host, optionally named NAME:/dir (default name ovm-templates)",
		"disks":         "required: storage pool of instance disks, an absolute directory on the host, optionally NAME:/dir (default name ovm-disks)",
		"kernel":        "absolute path on the host of a kernel to boot every instance with (direct kernel boot)",
		"initrd":        "absolute path on the host of the initrd of the kernel",
		"cmdline":       "kernel command line of the direct kernel boot",
		"sharedStorage": "comma-separated absolute directories shared with the other hosts (live migration of their disks)",
		"virtType":      "kvm or qemu; empty probes the host",
		"machine":       "QEMU machine type; empty is libvirt's default",
	}
	// ESXiOptions are the options of an ESXi host.
	ESXiOptions = map[string]string{
		"datastore":    "datastore of new VMs; empty is the host's first",
		"vswitch":      "standard vSwitch that port groups go on; empty is vSwitch0",
		"imageLibrary": `datastore directory of VMDK templates, such as "[images] templates"`,
	}
)

// KindOptions returns the option keys of each host kind the engines serve,
// with what they mean: the lists the factories check host options
// against.
func KindOptions() map[ovm.HostKind]map[string]string {
	return map[ovm.HostKind]map[string]string{ovm.HostDocker: DockerOptions, ovm.HostKVM: LibvirtOptions, ovm.HostESXi: ESXiOptions}
}

// checkOptions refuses keys that known does not list and values that are
// too long or hold control characters, naming each as options.KEY.
func checkOptions(kind ovm.HostKind, opts map[string]string, known map[string]string, f *ovm.Fields) {
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		v := opts[k]
		if _, ok := known[k]; !ok && len(known) == 0 {
			f.Addf("options."+k, "a %s host takes no options", kind)
			continue
		} else if !ok {
			f.Addf("options."+k, "unknown option of a %s host (known: %s)", kind, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
			continue
		}
		if len(v) > 4096 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			f.Add("options."+k, "must be at most 4096 characters without control characters")
		}
	}
}

// absPath checks that the option key, when set, is a clean absolute path.
func absPath(opts map[string]string, key string, f *ovm.Fields) string {
	v := opts[key]
	if v != "" && (!filepath.IsAbs(v) || filepath.Clean(v) != v) {
		f.Add("options."+key, "must be a clean absolute path on the host")
	}
	return v
}

// rename gives the field errors of a driver's invalid error the names
// they have in the host registration (the driver's "host" is the
// endpoint, its "user" the credentials' username...). Errors without fields
// and of other kinds are returned as they are.
func rename(err error, names map[string]string) error {
	var e *ovm.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	out := *e
	out.Fields = slices.Clone(e.Fields)
	for i, fe := range out.Fields {
		if n, ok := names[fe.Field]; ok {
			out.Fields[i].Field = n
		}
	}
	return &out
}

// checkCert checks PEM certificates (at least one block).
func checkCert(field, s string, f *ovm.Fields) *x509.CertPool {
	if s == "" {
		return nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(s)) {
		f.Add(field, "must hold PEM certificates")
		return nil
	}
	return pool
}

// checkKeyPair checks a client certificate and its key.
func checkKeyPair(c Credentials, f *ovm.Fields) {
	switch {
	case c.CertPEM == "" && c.KeyPEM == "":
	case c.CertPEM == "":
		f.Add("credentials.certPem", "is required with keyPem: a client certificate and its key go together")
	case c.KeyPEM == "":
		f.Add("credentials.keyPem", "is required with certPem: a client certificate and its key go together")
	default:
		if _, err := tls.X509KeyPair([]byte(c.CertPEM), []byte(c.KeyPEM)); err != nil {
			f.Addf("credentials.keyPem", "is not the key of certPem, or either is not PEM: %v", err)
		}
	}
}

// checkSSHKey checks that an SSH private key is PEM (OpenSSH keys are PEM
// blocks too).
func checkSSHKey(s string, f *ovm.Fields) {
	if s == "" {
		return
	}
	if b, _ := pem.Decode([]byte(s)); b == nil || !strings.Contains(b.Type, "PRIVATE KEY") {
		f.Add("credentials.sshKey", "must be a private key in PEM (such as -----BEGIN OPENSSH PRIVATE KEY-----)")
	}
}

// unused refuses credentials a kind does not use, so that a mistake (a
// password for a Docker engine) is said rather than ignored.
func unused(c Credentials, kind ovm.HostKind, why string, f *ovm.Fields, fields ...string) {
	vals := map[string]string{"username": c.Username, "password": c.Password, "certPem": c.CertPEM, "keyPem": c.KeyPEM,
		"caPem": c.CAPEM, "thumbprint": c.Thumbprint, "sshKey": c.SSHKey, "guestUsername": c.GuestUsername, "guestPassword": c.GuestPassword}
	for _, name := range fields {
		if vals[name] != "" {
			f.Addf("credentials."+name, "is not used by %s hosts %s", kind, why)
		}
	}
}

// secretDir is a private directory of credential files, removed on close.
type secretDir struct{ path string }

// newSecretDir makes a directory only the process's user can read.
func newSecretDir(base string) (*secretDir, error) {
	p, err := os.MkdirTemp(base, "ovm-cred-")
	if err != nil {
		return nil, fmt.Errorf("drivers: make a directory for host credentials: %w", err)
	}
	if err := os.Chmod(p, 0o700); err != nil {
		_ = os.RemoveAll(p)
		return nil, fmt.Errorf("drivers: make a directory for host credentials: %w", err)
	}
	return &secretDir{path: p}, nil
}

// write puts content in the file name (mode 0600) and returns its path.
func (d *secretDir) write(name, content string) (string, error) {
	p := filepath.Join(d.path, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		return "", fmt.Errorf("drivers: write host credentials: %w", err)
	}
	return p, nil
}

// remove deletes the directory; a nil directory is nothing to remove.
func (d *secretDir) remove() error {
	if d == nil {
		return nil
	}
	if err := os.RemoveAll(d.path); err != nil {
		return fmt.Errorf("drivers: remove host credentials: %w", err)
	}
	return nil
}

// closer closes a driver, then removes its credential files.
func closer(close func() error, dir *secretDir) func() error {
	return func() error {
		err := close()
		return errors.Join(err, dir.remove())
	}
}

// parseEndpoint parses a host endpoint URL, naming the field endpoint.
func parseEndpoint(endpoint, want string, f *ovm.Fields) *url.URL {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" {
		f.Add("endpoint", "must be "+want)
		return nil
	}
	return u
}

// DockerFactory connects to Docker engines. The endpoint is
// unix:///PATH, tcp://HOST:PORT (TLS when the credentials hold caPem,
// certPem and keyPem) or ssh://[USER@]HOST[:PORT] (with sshKey, and
// username when the URL names no user). Options: DockerOptions.
func DockerFactory(o EngineOptions) Factory {
	o = o.withDefaults()
	return func(ctx context.Context, host ovm.Host, cred Credentials) (Conn, error) {
		var f ovm.Fields
		checkOptions(host.Kind, host.Options, DockerOptions, &f)
		uplink := host.Options["uplink"]
		if uplink != "" && (len(uplink) > 15 || strings.ContainsAny(uplink, "/: \t")) {
			f.Add("options.uplink", "must be a network interface name (at most 15 characters, no '/', ':' or spaces)")
		}
		const want = "unix:///PATH, tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]"
		u := parseEndpoint(host.Endpoint, want, &f)
		scheme := ""
		if u != nil {
			scheme = u.Scheme
			if scheme != "unix" && scheme != "tcp" && scheme != "ssh" {
				f.Add("endpoint", "must be "+want)
			}
		}
		unused(cred, host.Kind, "(an engine authenticates clients by TLS certificate or SSH key)", &f, "password", "thumbprint",
			"guestUsername", "guestPassword")
		useTLS := cred.CAPEM != "" || cred.CertPEM != "" || cred.KeyPEM != ""
		if useTLS && scheme != "tcp" {
			f.Add("credentials", "TLS material (caPem, certPem, keyPem) applies to tcp:// endpoints only")
		}
		checkCert("credentials.caPem", cred.CAPEM, &f)
		checkKeyPair(cred, &f)
		if cred.SSHKey != "" && scheme != "ssh" {
			f.Add("credentials.sshKey", "applies to ssh:// endpoints only")
		}
		if cred.Username != "" && scheme != "ssh" {
			f.Add("credentials.username", "applies to ssh:// endpoints only")
		}
		checkSSHKey(cred.SSHKey, &f)
		if err := f.Err("invalid docker host"); err != nil {
			return Conn{}, err
		}

		opts := docker.Options{Host: host.Endpoint, Name: host.Name}
		var dir *secretDir
		if useTLS || cred.SSHKey != "" {
			var err error
			if dir, err = newSecretDir(o.TempDir); err != nil {
				return Conn{}, err
			}
		}
		fail := func(err error) (Conn, error) {
			return Conn{}, errors.Join(err, dir.remove())
		}
		if useTLS {
			files := &docker.TLSFiles{}
			var err error
			if cred.CAPEM != "" {
				if files.CA, err = dir.write("ca.pem", cred.CAPEM); err != nil {
					return fail(err)
				}
			}
			if cred.CertPEM != "" {
				if files.Cert, err = dir.write("cert.pem", cred.CertPEM); err != nil {
					return fail(err)
				}
				if files.Key, err = dir.write("key.pem", cred.KeyPEM); err != nil {
					return fail(err)
				}
			}
			opts.TLS = files
		}
		if scheme == "ssh" {
			opts.SSH.Args = []string{"-o", "BatchMode=yes"}
			if cred.SSHKey != "" {
				key, err := dir.write("id", cred.SSHKey)
				if err != nil {
					return fail(err)
				}
				opts.SSH.Args = append(opts.SSH.Args, "-i", key, "-o", "IdentitiesOnly=yes")
			}
			if cred.Username != "" && u.User == nil {
				opts.SSH.Args = append(opts.SSH.Args, "-l", cred.Username)
			}
		}
		d, err := docker.Connect(ctx, opts)
		if err != nil {
			return fail(rename(err, map[string]string{"host": "endpoint"}))
		}
		o.Logger.DebugContext(ctx, "drivers: connected", "kind", host.Kind, "host", host.Name, "api", d.APIVersion())
		return Conn{Hypervisor: d, Storage: d.Storage(), Network: d.Networks(docker.NetworkOptions{Uplink: uplink}),
			Close: closer(d.Close, dir)}, nil
	}
}

// poolRef parses a pool option: "/dir" (named def) or "NAME:/dir".
func poolRef(opts map[string]string, key, def string, f *ovm.Fields) libvirt.PoolRef {
	v := opts[key]
	if v == "" {
		f.Add("options."+key, "is required: an absolute directory on the host, optionally NAME:/dir")
		return libvirt.PoolRef{}
	}
	ref := libvirt.PoolRef{Name: def, Path: v}
	if !strings.HasPrefix(v, "/") {
		name, path, ok := strings.Cut(v, ":")
		if !ok || ovm.ValidateName(name) != "" {
			f.Add("options."+key, "must be an absolute directory, or NAME:/dir with NAME a lower-case DNS label")
			return libvirt.PoolRef{}
		}
		ref = libvirt.PoolRef{Name: name, Path: path}
	}
	if !filepath.IsAbs(ref.Path) || filepath.Clean(ref.Path) != ref.Path {
		f.Add("options."+key, "must name a clean absolute directory on the host")
	}
	return ref
}

// LibvirtFactory connects to libvirtd: the endpoint is a libvirt URI
// (qemu:///system, qemu+tcp://HOST/system, qemu+tls://HOST/system with
// caPem, certPem and keyPem, qemu+ssh://[USER@]HOST/system with sshKey).
// Options: LibvirtOptions (templates and disks are required).
func LibvirtFactory(o EngineOptions) Factory {
	o = o.withDefaults()
	return func(ctx context.Context, host ovm.Host, cred Credentials) (Conn, error) {
		var f ovm.Fields
		opts := host.Options
		checkOptions(host.Kind, opts, LibvirtOptions, &f)
		cfg := libvirt.Config{
			Templates: poolRef(opts, "templates", "ovm-templates", &f),
			Disks:     poolRef(opts, "disks", "ovm-disks", &f),
			Kernel:    absPath(opts, "kernel", &f),
			Initrd:    absPath(opts, "initrd", &f),
			Cmdline:   opts["cmdline"],
			Machine:   opts["machine"],
			VirtType:  opts["virtType"],
			Probes:    o.Probes,
		}
		if cfg.Templates.Name != "" && cfg.Templates.Name == cfg.Disks.Name && cfg.Templates.Path != cfg.Disks.Path {
			f.Add("options.disks", "names the pool of options.templates with another directory: give it another NAME:")
		}
		if cfg.Kernel == "" && (cfg.Initrd != "" || cfg.Cmdline != "") {
			f.Add("options.kernel", "is required with initrd or cmdline")
		}
		if cfg.VirtType != "" && cfg.VirtType != "kvm" && cfg.VirtType != "qemu" {
			f.Add("options.virtType", `must be "kvm" or "qemu" (empty probes the host)`)
		}
		if strings.ContainsAny(cfg.Machine, " \t'\"<>&") {
			f.Add("options.machine", "must be a QEMU machine type such as q35 or pc")
		}
		if s := opts["sharedStorage"]; s != "" {
			for p := range strings.SplitSeq(s, ",") {
				p = strings.TrimSpace(p)
				if !filepath.IsAbs(p) || filepath.Clean(p) != p {
					f.Addf("options.sharedStorage", "%q is not a clean absolute directory", p)
					continue
				}
				cfg.SharedStorage = append(cfg.SharedStorage, p)
			}
		}
		ep, err := libvirt.ParseURI(host.Endpoint)
		if err != nil {
			f.Merge("", rename(err, map[string]string{"uri": "endpoint"}))
		}
		unused(cred, host.Kind, "(libvirtd authenticates clients by TLS certificate or SSH key; SASL passwords are not supported)", &f,
			"password", "thumbprint", "guestUsername", "guestPassword")
		useTLS := cred.CAPEM != "" || cred.CertPEM != "" || cred.KeyPEM != ""
		if err == nil {
			if useTLS && ep.Transport != libvirt.TransportTLS {
				f.Add("credentials", "TLS material (caPem, certPem, keyPem) applies to qemu+tls:// endpoints only")
			}
			if useTLS && ep.PKIPath != "" {
				f.Add("endpoint", "names a pkipath and the credentials hold TLS material: give one of them")
			}
			if cred.SSHKey != "" && ep.Transport != libvirt.TransportSSH {
				f.Add("credentials.sshKey", "applies to qemu+ssh:// endpoints only")
			}
			if cred.SSHKey != "" && ep.KeyFile != "" {
				f.Add("endpoint", "names a keyfile and the credentials hold an SSH key: give one of them")
			}
			if cred.Username != "" && ep.Transport != libvirt.TransportSSH {
				f.Add("credentials.username", "applies to qemu+ssh:// endpoints only")
			}
		}
		if useTLS && (cred.CAPEM == "" || cred.CertPEM == "" || cred.KeyPEM == "") {
			f.Add("credentials", "a qemu+tls:// host needs caPem, certPem and keyPem together")
		}
		checkCert("credentials.caPem", cred.CAPEM, &f)
		checkKeyPair(cred, &f)
		checkSSHKey(cred.SSHKey, &f)
		if err := f.Err("invalid kvm host"); err != nil {
			return Conn{}, err
		}

		u, err := url.Parse(host.Endpoint)
		if err != nil { // ParseURI accepted it
			return Conn{}, fmt.Errorf("drivers: parse %s: %w", host.Endpoint, err)
		}
		q := u.Query()
		var dir *secretDir
		if useTLS || cred.SSHKey != "" {
			if dir, err = newSecretDir(o.TempDir); err != nil {
				return Conn{}, err
			}
		}
		fail := func(err error) (Conn, error) {
			return Conn{}, errors.Join(err, dir.remove())
		}
		if useTLS {
			for name, content := range map[string]string{"cacert.pem": cred.CAPEM, "clientcert.pem": cred.CertPEM, "clientkey.pem": cred.KeyPEM} {
				if _, err := dir.write(name, content); err != nil {
					return fail(err)
				}
			}
			q.Set("pkipath", dir.path)
		}
		if cred.SSHKey != "" {
			key, err := dir.write("id", cred.SSHKey)
			if err != nil {
				return fail(err)
			}
			q.Set("keyfile", key)
		}
		if cred.Username != "" && u.User == nil {
			u.User = url.User(cred.Username)
		}
		u.RawQuery = q.Encode()
		cfg.URI = u.String()
		d, err := libvirt.Dial(ctx, cfg)
		if err != nil {
			return fail(rename(err, map[string]string{"uri": "endpoint", "templates": "options.templates", "disks": "options.disks",
				"virtType": "options.virtType"}))
		}
		o.Logger.DebugContext(ctx, "drivers: connected", "kind", host.Kind, "host", host.Name)
		return Conn{Hypervisor: d, Storage: d.Storage(), Network: d.Networks(), Close: closer(d.Close, dir)}, nil
	}
}

// esxiHost reads an ESXi endpoint: https://HOST[:PORT][/sdk] or
// HOST[:PORT].
func esxiHost(endpoint string, f *ovm.Fields) string {
	const want = "https://HOST[:PORT][/sdk] or HOST[:PORT]"
	s := endpoint
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Hostname() == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/" && u.Path != "/sdk") || u.RawQuery != "" || u.Fragment != "" {
		f.Add("endpoint", "must be "+want)
		return ""
	}
	return u.Host
}

// ESXiFactory connects to standalone ESXi hosts: the endpoint is
// https://HOST[:PORT][/sdk]; the credentials hold username and password,
// and the host's certificate is trusted by thumbprint (SHA-256 or SHA-1),
// by caPem, or else by the system's roots. Options: ESXiOptions.
func ESXiFactory(o EngineOptions) Factory {
	o = o.withDefaults()
	return func(ctx context.Context, host ovm.Host, cred Credentials) (Conn, error) {
		var f ovm.Fields
		checkOptions(host.Kind, host.Options, ESXiOptions, &f)
		cfg := esxi.Config{
			Host: esxiHost(host.Endpoint, &f), User: cred.Username, Password: cred.Password, Thumbprint: cred.Thumbprint,
			GuestUser: cred.GuestUsername, GuestPassword: cred.GuestPassword,
			Datastore: host.Options["datastore"], VSwitch: host.Options["vswitch"], ImageLibrary: host.Options["imageLibrary"],
		}
		if cred.Username == "" {
			f.Add("credentials.username", "is required: the host's user (such as root)")
		}
		if (cred.GuestUsername == "") != (cred.GuestPassword == "") {
			f.Add("credentials.guestPassword", "must be given with guestUsername, and only with it")
		}
		cfg.RootCAs = checkCert("credentials.caPem", cred.CAPEM, &f)
		unused(cred, host.Kind, "(they log in with username and password)", &f, "certPem", "keyPem", "sshKey")
		if lib := cfg.ImageLibrary; lib != "" && !strings.HasPrefix(lib, "[") {
			f.Add("options.imageLibrary", `must be a datastore path such as "[datastore1] templates"`)
		}
		if err := f.Err("invalid esxi host"); err != nil {
			return Conn{}, err
		}
		d, err := esxi.Dial(ctx, cfg)
		if err != nil {
			return Conn{}, rename(err, map[string]string{"host": "endpoint", "user": "credentials.username", "thumbprint": "credentials.thumbprint"})
		}
		o.Logger.DebugContext(ctx, "drivers: connected", "kind", host.Kind, "host", host.Name)
		return Conn{Hypervisor: d, Storage: d.Storage(), Network: d.Network(), Close: d.Close}, nil
	}
}
