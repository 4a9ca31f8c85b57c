package cli

import (
	"slices"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

func (a *app) instanceMigrate(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--mode MODE] [--host NAME|ID] [--storage-pool ID] [--wait]",
		"Move an instance to another host, or its disks to another storage pool, in a task. Without --host\n"+
			"placement picks the host; only administrators name a host or a storage pool.")
	mode := f.String("mode", "", "live, shared-nothing, storage or cold (default: what the instance's host can do)")
	host := f.String("host", "", "the target `host` (administrators)")
	pool := f.String("storage-pool", "", "the storage pool `ID` the disks move to (storage, shared-nothing)")
	wait := f.Bool("wait", false, "wait for the task and show its progress")
	f.inVDC("instance")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	in := apitypes.InstanceMigrate{Mode: apitypes.MigrationMode(*mode), StoragePoolID: ovm.ID(*pool)}
	if *mode != "" && !slices.Contains(apitypes.MigrationModes, in.Mode) {
		return f.fail("--mode: %q: want live, shared-nothing, storage or cold", *mode)
	}
	cl, id, err := f.lookup("instance", pos[0])
	if err != nil {
		return err
	}
	switch id := ovm.ID(*host); {
	case id.Valid():
		in.HostID = id // sent as it is: the API says who may name one
	case *host != "":
		if in.HostID, err = a.resolve("host", *host, ""); err != nil {
			return err
		}
	}
	it, err := cl.MigrateInstance(a.ctx, id, in)
	if err != nil {
		return err
	}
	return a.afterInstanceTask(it, *wait, "migrated")
}

func (a *app) instanceMigrateCancel(path string, args []string) error {
	f := a.flags(path, "NAME|ID [--wait]", "Cancel an instance's migration: it keeps running where it was.")
	wait := f.Bool("wait", false, "wait for the migration's task to end")
	f.inVDC("instance")
	pos, err := f.parseN(args, "NAME|ID")
	if err != nil {
		return err
	}
	cl, id, err := f.lookup("instance", pos[0])
	if err != nil {
		return err
	}
	it, err := cl.CancelMigration(a.ctx, id)
	if err != nil {
		return err
	}
	return a.afterInstanceTask(it, *wait, "cancelled")
}
