package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
	"github.com/openovm/ovm/server/drivers"
)

func datacenterCommands() *command {
	return &command{name: "datacenter", aliases: []string{"datacenters", "dc"}, summary: "Manage datacenters (administrators)", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List datacenters", run: listCmd[ovm.Datacenter]{noun: "datacenters",
			list:  all((*client.Client).ListDatacenters),
			head:  []any{"NAME", "ID", "DESCRIPTION"},
			cells: func(d ovm.Datacenter, _ time.Time) []any { return []any{d.Name, d.ID, d.Description} }}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a datacenter", run: showCmd("datacenter", "NAME|ID", "Show a datacenter.",
			(*client.Client).GetDatacenter, datacenterDetail)},
		{name: "create", summary: "Create a datacenter", run: (*app).datacenterCreate},
		{name: "update", summary: "Change a datacenter's description", run: (*app).datacenterUpdate},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete a datacenter without pools", run: deleteFrom("datacenter", "datacenters")},
	}}
}

func datacenterDetail(w io.Writer, d ovm.Datacenter) {
	field(w, "Name", d.Name)
	field(w, "ID", d.ID)
	field(w, "Description", d.Description)
	field(w, "Created", d.CreatedAt.Format(time.RFC3339))
}

func (a *app) datacenterCreate(path string, args []string) error {
	f := a.flags(path, "NAME [--description TEXT]", "Create a datacenter.")
	desc := f.String("description", "", "a description")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	d, err := cl.CreateDatacenter(a.ctx, apitypes.DatacenterCreate{Name: pos[0], Description: *desc, IdempotencyKey: newKey()})
	if err != nil {
		return err
	}
	return a.show(d, func(w io.Writer) { datacenterDetail(w, d) })
}

func poolCommands() *command {
	return &command{name: "pool", aliases: []string{"pools"}, summary: "Manage resource pools (administrators)", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List resource pools", run: listCmd[ovm.ResourcePool]{noun: "pools",
			list: all((*client.Client).ListPools),
			head: []any{"NAME", "ID", "DATACENTER", "POLICY", "HA"},
			cells: func(p ovm.ResourcePool, _ time.Time) []any {
				return []any{p.Name, p.ID, p.DatacenterID, p.Policy, p.HAEnabled}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a resource pool", run: showCmd("pool", "NAME|ID", "Show a pool.",
			(*client.Client).GetPool, poolDetail)},
		{name: "create", summary: "Create a resource pool", run: (*app).poolCreate},
		{name: "update", summary: "Change a pool's policy, HA, scope or overcommit", run: (*app).poolUpdate},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete a pool without hosts or VDCs", run: deleteFrom("pool", "pools")},
	}}
}

func poolDetail(w io.Writer, p ovm.ResourcePool) {
	field(w, "Name", p.Name)
	field(w, "ID", p.ID)
	field(w, "Datacenter", p.DatacenterID)
	field(w, "Policy", p.Policy)
	field(w, "HA", p.HAEnabled)
	if p.Scope.Kind != "" {
		field(w, "Scope", p.Scope.Kind)
	}
	oc := p.Overcommit
	field(w, "Overcommit", fmt.Sprintf("cpu=%g memory=%g disk=%g (0 means 1)", oc.CPU, oc.Memory, oc.Disk))
	field(w, "Created", p.CreatedAt.Format(time.RFC3339))
}

func (a *app) poolCreate(path string, args []string) error {
	f := a.flags(path, "NAME --datacenter DC [--policy PERFORMANCE|PROGRESSIVE] [--ha] [--scope KIND:REF[,REF...]] [--cpu-overcommit R]...", "Create a resource pool in a datacenter.")
	dc := f.String("datacenter", "", "the datacenter (name or id)")
	policy := f.String("policy", "", "PERFORMANCE (most free host) or PROGRESSIVE (fill one host first)")
	ha := f.Bool("ha", false, "restart the instances of a failed host elsewhere")
	cpuOC := f.Float64("cpu-overcommit", 0, "CPU overcommit ratio, 1 to 64")
	memOC := f.Float64("memory-overcommit", 0, "memory overcommit ratio, 1 to 64")
	diskOC := f.Float64("disk-overcommit", 0, "disk overcommit ratio, 1 to 64")
	scope := f.String("scope", "", "the hosts placement chooses from: datacenter:DC, pool:POOL or hosts:HOST[,HOST...] (default: the pool's own)")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	if *dc == "" {
		return f.fail("--datacenter is required")
	}
	cl, dcID, err := a.lookup("datacenter", *dc)
	if err != nil {
		return err
	}
	var sc ovm.Scope
	if *scope != "" {
		if sc, err = a.parseScope(*scope); err != nil {
			return f.fail("%v", err)
		}
	}
	p, err := cl.CreatePool(a.ctx, apitypes.PoolCreate{Name: pos[0], DatacenterID: dcID, Policy: ovm.PlacementPolicy(strings.ToUpper(*policy)),
		Scope: sc, HAEnabled: *ha, Overcommit: ovm.Overcommit{CPU: *cpuOC, Memory: *memOC, Disk: *diskOC}, IdempotencyKey: newKey()})
	if err != nil {
		return err
	}
	return a.show(p, func(w io.Writer) { poolDetail(w, p) })
}

func hostCommands() *command {
	return &command{name: "host", aliases: []string{"hosts"}, summary: "Manage hypervisor hosts (administrators)", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List hosts", run: listCmd[ovm.Host]{noun: "hosts",
			list: all((*client.Client).ListHosts),
			head: []any{"NAME", "ID", "KIND", "STATE", "ENDPOINT", "CPU", "MEMORY", "POOL"},
			cells: func(h ovm.Host, _ time.Time) []any {
				return []any{h.Name, h.ID, h.Kind, h.State, h.Endpoint,
					h.Allocated.CPU.String() + "/" + h.Capacity.CPU.String(), h.Allocated.Memory.String() + "/" + h.Capacity.Memory.String(), h.PoolID.Short()}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a host", run: showCmd("host", "NAME|ID", "Show a host.",
			(*client.Client).GetHost, hostDetail)},
		{name: "register", aliases: []string{"create", "add"}, summary: "Register a host", run: (*app).hostRegister},
		{name: "credentials", summary: "Replace a host's credentials", run: (*app).hostCredentials},
		{name: "maintenance", summary: "Turn a host's maintenance mode on or off", run: (*app).hostMaintenance},
		bmcCommands(),
		{name: "sync", summary: "List a host's instances and record unmanaged ones as discovered", run: (*app).hostSync},
		{name: "delete", aliases: []string{"rm"}, summary: "Remove a host without instances", run: deleteFrom("host", "hosts")},
	}}
}

func hostDetail(w io.Writer, h ovm.Host) {
	field(w, "Name", h.Name)
	field(w, "ID", h.ID)
	field(w, "Kind", h.Kind)
	field(w, "Endpoint", h.Endpoint)
	field(w, "Datacenter", h.DatacenterID)
	field(w, "Pool", h.PoolID)
	for _, k := range slices.Sorted(maps.Keys(h.Options)) {
		field(w, "Option "+k, h.Options[k])
	}
	state := string(h.State)
	if h.StateReason != "" {
		state += " (" + h.StateReason + ")"
	}
	if h.ReadOnly {
		state += ", read-only"
	}
	field(w, "State", state)
	if h.BMC != nil {
		field(w, "BMC", fmt.Sprintf("%s:%d (user %s)", h.BMC.Address, h.BMC.Port, h.BMC.Username))
	}
	field(w, "Capacity", h.Capacity)
	field(w, "Allocated", h.Allocated)
	field(w, "Created", h.CreatedAt.Format(time.RFC3339))
}

// kindOptionsHelp lists the options of every host kind, from the lists the
// server's driver factories check them against.
func kindOptionsHelp() string {
	var b strings.Builder
	b.WriteString("Options of each kind (--option KEY=VALUE):\n")
	kinds := drivers.KindOptions()
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		fmt.Fprintf(&b, "  %s:\n", k)
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		for _, key := range slices.Sorted(maps.Keys(kinds[k])) {
			fmt.Fprintf(tw, "    %s\t%s\n", key, kinds[k][key])
		}
		_ = tw.Flush()
	}
	fmt.Fprintf(&b, "  %s: none", ovm.HostFake)
	return b.String()
}

func (a *app) hostRegister(path string, args []string) error {
	f := a.flags(path, "NAME --kind kvm|esxi|docker|fake --endpoint URL --pool POOL [--username U] [--password-stdin] [TLS and SSH flags] [--option KEY=VALUE]...",
		"Register a host: the server connects to it and reads its capacity. Credentials are encrypted at rest.\n\n"+kindOptionsHelp())
	kind := f.String("kind", "", "kvm, esxi, docker or fake")
	endpoint := f.String("endpoint", "", "qemu+tls://HOST/system, https://ESXI/sdk, tcp://HOST:2376 or fake://NAME")
	pool := f.String("pool", "", "the resource pool (name or id)")
	cf := credentialFlags(f)
	var opts multi
	f.Var(&opts, "option", "a driver setting `KEY=VALUE` of the host's kind (listed above); repeatable")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	switch {
	case *kind == "":
		return f.fail("--kind is required")
	case *endpoint == "":
		return f.fail("--endpoint is required")
	case *pool == "":
		return f.fail("--pool is required")
	}
	options, err := parsePairs("option", opts)
	if err != nil {
		return f.fail("%v", err)
	}
	creds, err := cf.read(a)
	if err != nil {
		return err
	}
	cl, poolID, err := a.lookup("pool", *pool)
	if err != nil {
		return err
	}
	h, err := cl.RegisterHost(a.ctx, apitypes.HostRegister{Name: pos[0], Kind: ovm.HostKind(*kind), Endpoint: *endpoint, PoolID: poolID,
		Credentials: creds, Options: options, IdempotencyKey: newKey()})
	if err != nil {
		return err
	}
	return a.show(h, func(w io.Writer) { hostDetail(w, h) })
}

// hostCredentials are the flags that give a host's credentials.
type hostCredentials struct {
	user, thumb, caFile, certFile, keyFile, sshKeyFile, guestUser *string
	pwStdin, guestPwStdin                                         *bool
}

// credentialFlags defines the credential flags of host register and host
// credentials.
func credentialFlags(f *flags) hostCredentials {
	return hostCredentials{
		user:       f.String("username", "", "the user the server logs in as"),
		pwStdin:    f.Bool("password-stdin", false, "read the host's password from the first line of stdin"),
		thumb:      f.String("thumbprint", "", "the pinned certificate thumbprint (ESXi)"),
		caFile:     f.String("ca-file", "", "a PEM `file` with the CA the host's certificate must chain to"),
		certFile:   f.String("cert-file", "", "a PEM `file` with the client certificate"),
		keyFile:    f.String("key-file", "", "a PEM `file` with the client key"),
		sshKeyFile: f.String("ssh-key-file", "", "a PEM `file` with the private key for qemu+ssh:// and ssh:// endpoints"),
		guestUser:  f.String("guest-username", "", "the guest account VMware Tools guest operations run commands as (ESXi: exec, Chef converges)"),
		guestPwStdin: f.Bool("guest-password-stdin", false,
			"read the guest account's password from the next line of stdin (after the host's password with --password-stdin)"),
	}
}

// read returns the credentials the flags give, reading the files they name
// and the password from stdin.
func (c hostCredentials) read(a *app) (apitypes.Credentials, error) {
	creds := apitypes.Credentials{Username: *c.user, Thumbprint: *c.thumb, GuestUsername: *c.guestUser}
	for _, pf := range []struct {
		file string
		dst  *string
	}{{*c.caFile, &creds.CAPEM}, {*c.certFile, &creds.CertPEM}, {*c.keyFile, &creds.KeyPEM}, {*c.sshKeyFile, &creds.SSHKey}} {
		if pf.file == "" {
			continue
		}
		b, err := os.ReadFile(pf.file)
		if err != nil {
			return creds, fmt.Errorf("read %s: %w", pf.file, err)
		}
		*pf.dst = string(b)
	}
	// One line of stdin each, in this order, through one reader.
	var secrets []*string
	if *c.pwStdin {
		secrets = append(secrets, &creds.Password)
	}
	if *c.guestPwStdin {
		secrets = append(secrets, &creds.GuestPassword)
	}
	in := bufio.NewReader(a.env.Stdin)
	for _, dst := range secrets {
		line, err := in.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return creds, fmt.Errorf("read password from stdin: %w", err)
		}
		if *dst = strings.TrimRight(line, "\r\n"); *dst == "" {
			return creds, errors.New("no password on stdin")
		}
	}
	return creds, nil
}

func (a *app) hostCredentials(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--username U] [--password-stdin] [TLS and SSH flags]",
		"Replace a host's credentials (encrypted at rest); the next call to the host uses them.")
	cf := credentialFlags(f)
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	creds, err := cf.read(a)
	if err != nil {
		return err
	}
	cl, id, err := a.lookup("host", pos[0])
	if err != nil {
		return err
	}
	h, err := cl.UpdateHost(a.ctx, id, apitypes.HostPatch{Credentials: &creds})
	if err != nil {
		return err
	}
	return a.show(h, func(w io.Writer) { hostDetail(w, h) })
}

func (a *app) hostMaintenance(path string, args []string) error {
	f := a.flags(path, "NAME|ID on|off", "Turn a host's maintenance mode on (it takes no new work) or off.")
	pos, err := f.parseN(args, "NAME|ID", "on|off")
	if err != nil {
		return err
	}
	var on bool
	switch pos[1] {
	case "on", "true", "enable":
		on = true
	case "off", "false", "disable":
	default:
		return f.fail("%q: want on or off", pos[1])
	}
	cl, id, err := a.lookup("host", pos[0])
	if err != nil {
		return err
	}
	h, err := cl.SetMaintenance(a.ctx, id, on)
	if err != nil {
		return err
	}
	return a.show(h, func(w io.Writer) { fmt.Fprintf(w, "Host %s is %s.\n", h.Name, h.State) })
}

func (a *app) hostSync(path string, args []string) error {
	f := a.flags(path, "NAME|ID", "List a host's instances now and record those OVM does not manage as discovered.")
	cl, id, err := f.object(args, "NAME|ID", "host")
	if err != nil {
		return err
	}
	ds, err := cl.SyncHost(a.ctx, id)
	if err != nil {
		return err
	}
	return a.show(ds, func(w io.Writer) {
		row(w, "NAME", "ID", "NATIVE ID", "TYPE", "CPU", "MEMORY", "POWER")
		for _, d := range ds {
			row(w, d.Name, d.ID, d.NativeID, d.Type, d.CPU, d.Memory, d.Power)
		}
	})
}

func vdcCommands() *command {
	return &command{name: "vdc", aliases: []string{"vdcs"}, summary: "Manage VDCs: tenants and their quotas", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List VDCs", run: listCmd[ovm.VDC]{noun: "vdcs",
			list: all((*client.Client).ListVDCs),
			head: []any{"NAME", "ID", "POOL", "CPU", "MEMORY", "DISK", "INSTANCES", "NETWORKS"},
			cells: func(v ovm.VDC, _ time.Time) []any {
				u, q := v.Usage, v.Quota
				return []any{v.Name, v.ID, v.PoolID.Short(), u.CPU.String() + "/" + q.CPU.String(), u.Memory.String() + "/" + q.Memory.String(),
					u.Disk.String() + "/" + q.Disk.String(), fmt.Sprintf("%d/%d", u.Instances, q.Instances), fmt.Sprintf("%d/%d", u.Networks, q.Networks)}
			}}.run},
		{name: "show", aliases: []string{"get", "usage"}, summary: "Show a VDC with its quota and usage", run: showCmd("vdc", "NAME|ID", "Show a vdc.",
			(*client.Client).GetVDC, vdcDetail)},
		{name: "create", summary: "Create a VDC with its quota", run: (*app).vdcCreate},
		{name: "quota", summary: "Change a VDC's quota", run: (*app).vdcQuota},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete an empty VDC", run: deleteFrom("vdc", "vdcs")},
	}}
}

func vdcDetail(w io.Writer, v ovm.VDC) {
	field(w, "Name", v.Name)
	field(w, "ID", v.ID)
	field(w, "Pool", v.PoolID)
	field(w, "Datacenter", v.DatacenterID)
	fmt.Fprintln(w)
	u, q := v.Usage, v.Quota
	row(w, "RESOURCE", "USED", "QUOTA")
	row(w, "cpu (vCPU)", u.CPU, q.CPU)
	row(w, "memory", u.Memory, q.Memory)
	row(w, "disk", u.Disk, q.Disk)
	row(w, "instances", u.Instances, q.Instances)
	row(w, "networks", u.Networks, q.Networks)
}

// quotaFlags are the flags of a quota.
type quotaFlags struct{ cpu, memory, disk, instances, networks *string }

func addQuotaFlags(f *flags) *quotaFlags {
	return &quotaFlags{
		cpu:       f.String("cpu", "", "vCPUs such as 16, or millicpu such as 16000m"),
		memory:    f.String("memory", "", "memory such as 64Gi"),
		disk:      f.String("disk", "", "disk such as 1Ti"),
		instances: f.String("instances", "", "the number of instances"),
		networks:  f.String("networks", "", "the number of networks"),
	}
}

// apply sets the quota's limits that were given.
func (qf *quotaFlags) apply(f *flags, q *ovm.Quota) error {
	var err error
	if *qf.cpu != "" {
		if q.CPU, err = parseCPU(*qf.cpu); err != nil {
			return f.fail("--cpu: %v", err)
		}
	}
	if *qf.memory != "" {
		if q.Memory, err = parseSize(*qf.memory); err != nil {
			return f.fail("--memory: %v", err)
		}
	}
	if *qf.disk != "" {
		if q.Disk, err = parseSize(*qf.disk); err != nil {
			return f.fail("--disk: %v", err)
		}
	}
	for _, c := range []struct {
		name string
		v    string
		dst  *int64
	}{{"instances", *qf.instances, &q.Instances}, {"networks", *qf.networks, &q.Networks}} {
		if c.v == "" {
			continue
		}
		if _, err := fmt.Sscanf(c.v, "%d", c.dst); err != nil {
			return f.fail("--%s %q: want a whole number", c.name, c.v)
		}
	}
	return nil
}

func (a *app) vdcCreate(path string, args []string) error {
	f := a.flags(path, "NAME --pool POOL --cpu N --memory SIZE --disk SIZE --instances N --networks N",
		"Create a VDC placed in a resource pool, with its quota (a limit left out is zero).")
	pool := f.String("pool", "", "the resource pool its instances are placed in (name or id)")
	qf := addQuotaFlags(f)
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	if *pool == "" {
		return f.fail("--pool is required")
	}
	var q ovm.Quota
	if err := qf.apply(f, &q); err != nil {
		return err
	}
	cl, poolID, err := a.lookup("pool", *pool)
	if err != nil {
		return err
	}
	v, err := cl.CreateVDC(a.ctx, apitypes.VDCCreate{Name: pos[0], PoolID: poolID, Quota: q, IdempotencyKey: newKey()})
	if err != nil {
		return err
	}
	return a.show(v, func(w io.Writer) { vdcDetail(w, v) })
}

func (a *app) vdcQuota(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--cpu N] [--memory SIZE] [--disk SIZE] [--instances N] [--networks N]",
		"Change the limits given; the others stay.")
	qf := addQuotaFlags(f)
	cl, id, err := f.object(args, "NAME|ID", "vdc")
	if err != nil {
		return err
	}
	cur, err := cl.GetVDC(a.ctx, id)
	if err != nil {
		return err
	}
	q := cur.Quota
	if err := qf.apply(f, &q); err != nil {
		return err
	}
	v, err := cl.SetQuota(a.ctx, id, q)
	if err != nil {
		return err
	}
	return a.show(v, func(w io.Writer) { vdcDetail(w, v) })
}

func userCommands() *command {
	return &command{name: "user", aliases: []string{"users"}, summary: "Manage users", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List users", run: listCmd[apitypes.User]{noun: "users",
			list: all((*client.Client).ListUsers),
			head: []any{"NAME", "ID", "ROLE", "VDC", "STATE"},
			cells: func(u apitypes.User, _ time.Time) []any {
				state := "enabled"
				if u.Disabled {
					state = "disabled"
				}
				return []any{u.Name, u.ID, u.Role, u.VDCID, state}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a user", run: showCmd("user", "NAME|ID", "Show a user.",
			(*client.Client).GetUser, userDetail)},
		{name: "create", summary: "Create a user", run: (*app).userCreate},
		{name: "role", summary: "Change a user's role", run: (*app).userRole},
		{name: "disable", summary: "Disable a user (logs it out)", run: userUpdateRun("disable")},
		{name: "enable", summary: "Enable a disabled user", run: userUpdateRun("enable")},
		{name: "password", summary: "Set a user's password", run: userUpdateRun("password")},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete a user and its tokens", run: deleteFrom("user", "users")},
	}}
}

func userDetail(w io.Writer, u apitypes.User) {
	field(w, "Name", u.Name)
	field(w, "ID", u.ID)
	field(w, "Role", u.Role)
	field(w, "VDC", u.VDCID)
	field(w, "Disabled", u.Disabled)
	field(w, "Created", u.CreatedAt.Format(time.RFC3339))
}

func (a *app) userCreate(path string, args []string) error {
	f := a.flags(path, "NAME --role admin|vdc-admin|vdc-member [--vdc VDC] [--password-stdin]",
		"Create a user. Without --password-stdin the server generates a password, printed once.")
	role := f.String("role", "", "admin, vdc-admin or vdc-member")
	vdcRef := f.String("vdc", "", "the user's VDC (not for administrators; a VDC admin's own by default)")
	pwStdin := f.Bool("password-stdin", false, "read the password (at least 12 characters) from the first line of stdin")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	if *role == "" {
		return f.fail("--role is required")
	}
	in := apitypes.UserCreate{Name: pos[0], Role: apitypes.Role(*role), IdempotencyKey: newKey()}
	if *pwStdin {
		if in.Password, err = a.readSecret("", true); err != nil {
			return err
		}
	}
	cl, vdc, err := a.clientIn(*vdcRef)
	if err != nil {
		return err
	}
	in.VDCID = vdc
	u, err := cl.CreateUser(a.ctx, in)
	if err != nil {
		return err
	}
	return a.show(u, func(w io.Writer) {
		userDetail(w, u.User)
		if u.Password != "" {
			field(w, "Password", u.Password)
			fmt.Fprintln(w, "\nThe generated password is shown only now.")
		}
	})
}

// userUpdateRun returns the leaf that disables, enables or sets the
// password of a user.
func userUpdateRun(what string) leaf {
	return func(a *app, path string, args []string) error {
		synopsis, desc := "NAME|ID", strings.ToUpper(what[:1])+what[1:]+" a user."
		if what == "password" {
			synopsis, desc = "NAME|ID", "Set a user's password: asked for on a terminal, else read from stdin."
		}
		f := a.flags(path, synopsis, desc)
		pos, err := f.parseN(args, "NAME|ID")
		if err != nil {
			return err
		}
		var patch apitypes.UserPatch
		switch what {
		case "disable", "enable":
			d := what == "disable"
			patch.Disabled = &d
		case "password":
			pw, err := a.readSecret("New password for "+pos[0]+": ", false)
			if err != nil {
				return err
			}
			patch.Password = &pw
		}
		cl, id, err := a.lookup("user", pos[0])
		if err != nil {
			return err
		}
		u, err := cl.UpdateUser(a.ctx, id, patch)
		if err != nil {
			return err
		}
		return a.show(u, func(w io.Writer) { userDetail(w, u) })
	}
}
