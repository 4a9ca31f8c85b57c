package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func storagePoolCommands() *command {
	return &command{name: "storage-pool", aliases: []string{"storage-pools", "sp"}, summary: "Manage storage pools (administrators)", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List storage pools", run: listCmd[apitypes.StoragePoolInfo]{noun: "storage pools",
			list: (*client.Client).ListStoragePools,
			head: []any{"NAME", "ID", "KIND", "PHASE", "HOSTS", "ALLOCATED", "CAPACITY", "TEMPLATES", "AGE"},
			cells: func(p apitypes.StoragePoolInfo, now time.Time) []any {
				return []any{p.Name, p.ID, p.Kind, p.Phase, len(p.HostIDs), p.Allocated, poolCapacity(p), yesNo(p.TemplateLibrary), ago(p.CreatedAt, now)}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show a storage pool", run: showCmd("storage pool", "NAME|ID", "Show a storage pool.",
			(*client.Client).GetStoragePool, storagePoolDetail)},
		{name: "register", aliases: []string{"create", "add"}, summary: "Register a storage pool on hosts", run: (*app).storagePoolRegister},
		{name: "update", summary: "Change a storage pool's hosts, capacity or template library flag", run: (*app).storagePoolUpdate},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete a storage pool that holds nothing OVM made", run: taskCmd("storage pool",
			"Delete a storage pool that holds nothing OVM made (a registered one is removed from its hosts; a discovered one is forgotten).",
			"wait for the task and show its progress", (*client.Client).DeleteStoragePool,
			func(a *app, pt apitypes.StoragePoolTask, wait bool) error {
				return a.afterPoolTask(pt, wait, "deleted")
			})},
	}}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// poolCapacity is a pool's capacity as OVM allocates it.
func poolCapacity(p apitypes.StoragePoolInfo) ovm.Bytes {
	if p.DeclaredCapacity > 0 {
		return p.DeclaredCapacity
	}
	return p.Capacity
}

func storagePoolDetail(w io.Writer, p apitypes.StoragePoolInfo) {
	field(w, "Name", p.Name)
	field(w, "ID", p.ID)
	field(w, "Kind", p.Kind)
	field(w, "Phase", p.Phase)
	if p.Message != "" {
		field(w, "Message", p.Message)
	}
	if p.Path != "" {
		field(w, "Path", p.Path)
	}
	if p.Server != "" {
		field(w, "Export", p.Server+":"+p.Export)
	}
	field(w, "Discovered", yesNo(p.Discovered))
	field(w, "Template library", yesNo(p.TemplateLibrary))
	field(w, "Capacity", p.Capacity)
	if p.DeclaredCapacity > 0 {
		field(w, "Declared capacity", p.DeclaredCapacity)
	}
	field(w, "Used on hosts", p.Used)
	field(w, "Allocated", p.Allocated)
	field(w, "Free", p.Free)
	for _, h := range p.Hosts {
		field(w, "Host", fmt.Sprintf("%s (as %s)", h.HostID, h.NativeID))
	}
	field(w, "Created", p.CreatedAt.Format(time.RFC3339))
}

// afterPoolTask prints a storage pool change, after its task with wait.
func (a *app) afterPoolTask(pt apitypes.StoragePoolTask, wait bool, verb string) error {
	if err := a.waitTask(&pt.Task, wait, verb, func() {
		if p, err := a.mustClient().GetStoragePool(a.ctx, pt.Pool.ID); err == nil {
			pt.Pool = p
		}
	}); err != nil {
		return err
	}
	return a.show(pt, func(w io.Writer) {
		fmt.Fprintf(w, "Storage pool %s (%s, %s) %s.\n", pt.Pool.Name, pt.Pool.ID, pt.Pool.Kind, pending(verb, pt.Task != nil && !wait))
		followTask(w, pt.Task, wait)
	})
}

// hostIDs resolves host names or ids.
func (a *app) hostIDs(refs []string) ([]ovm.ID, error) {
	out := make([]ovm.ID, 0, len(refs))
	for _, r := range refs {
		for part := range strings.SplitSeq(r, ",") {
			id, err := a.resolve("host", strings.TrimSpace(part), "")
			if err != nil {
				return nil, err
			}
			out = append(out, id)
		}
	}
	return out, nil
}

func (a *app) storagePoolRegister(path string, args []string) error {
	f := a.flags(path, "NAME --kind local|shared|nfs --host HOST [--host HOST...] [--path DIR] [--nfs-server S --export DIR] [--capacity SIZE] [--templates] [--wait]",
		"Register a storage pool on hosts: a local pool on one host, a shared or NFS pool on several.")
	kind := f.String("kind", "", "local, shared (a path every host mounts) or nfs")
	var hosts multi
	f.Var(&hosts, "host", "a host `NAME|ID` that reaches the pool; repeatable")
	dir := f.String("path", "", "the directory on each host (the NFS mount point for nfs)")
	server := f.String("nfs-server", "", "the NFS server (nfs)")
	export := f.String("export", "", "the exported directory (nfs)")
	capacity := f.String("capacity", "", "the capacity OVM allocates up to, such as 500Gi (default: what the hosts report)")
	templates := f.Bool("templates", false, "take VM templates from this pool")
	wait := f.Bool("wait", false, "wait for the task and show its progress")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	in := apitypes.StoragePoolCreate{Name: pos[0], Kind: ovm.StoragePoolKind(*kind), Path: *dir, Server: *server, Export: *export,
		TemplateLibrary: *templates, IdempotencyKey: newKey()}
	if *capacity != "" {
		if in.CapacityBytes, err = parseSize(*capacity); err != nil {
			return f.fail("--capacity: %v", err)
		}
	}
	if in.HostIDs, err = a.hostIDs(hosts); err != nil {
		return err
	}
	pt, err := a.mustClient().RegisterStoragePool(a.ctx, in)
	if err != nil {
		return err
	}
	return a.afterPoolTask(pt, *wait, "registered")
}

func (a *app) storagePoolUpdate(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--host HOST...] [--capacity SIZE] [--templates=true|false] [--wait]",
		"Change a storage pool: its hosts (those added get the pool in a task), its capacity (0: what the hosts report), its template library flag.")
	var hosts multi
	f.Var(&hosts, "host", "a host `NAME|ID` that reaches the pool (the whole list); repeatable")
	capacity := f.String("capacity", "", "the capacity OVM allocates up to, such as 500Gi (0: what the hosts report)")
	templates := f.String("templates", "", "true or false: take VM templates from this pool")
	wait := f.Bool("wait", false, "wait for the task and show its progress")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	var in apitypes.StoragePoolPatch
	if *capacity != "" {
		b, err := parseSize(*capacity)
		if err != nil {
			return f.fail("--capacity: %v", err)
		}
		in.CapacityBytes = &b
	}
	switch *templates {
	case "":
	case "true", "yes", "on":
		in.TemplateLibrary = new(true)
	case "false", "no", "off":
		in.TemplateLibrary = new(false)
	default:
		return f.fail("--templates: %q: want true or false", *templates)
	}
	if len(hosts) > 0 {
		ids, err := a.hostIDs(hosts)
		if err != nil {
			return err
		}
		in.HostIDs = &ids
	}
	cl, id, err := a.lookup("storage pool", pos[0])
	if err != nil {
		return err
	}
	pt, err := cl.UpdateStoragePool(a.ctx, id, in)
	if err != nil {
		return err
	}
	return a.afterPoolTask(pt, *wait, "updated")
}

func (a *app) volumeAttach(path string, args []string) error {
	f := a.flags(path, "NAME|ID --instance NAME|ID [--wait]", "Attach a volume to a VM: live where its host's engine can, else to the stopped VM.")
	inst := f.String("instance", "", "the VM to attach to")
	wait := f.Bool("wait", false, "wait for the task and show its progress")
	f.inVDC("volume")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	if *inst == "" {
		return f.fail("--instance is required")
	}
	cl, id, err := f.lookup("volume", pos[0])
	if err != nil {
		return err
	}
	_, instID, err := f.lookup("instance", *inst)
	if err != nil {
		return err
	}
	vt, err := cl.AttachVolume(a.ctx, id, instID)
	if err != nil {
		return err
	}
	return a.afterVolumeTask(vt, *wait, "attached")
}
