package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func snapshotCommands() *command {
	return &command{name: "snapshot", aliases: []string{"snapshots", "snap"}, summary: "Manage snapshots of instances and volumes", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List snapshots", run: (*app).snapshotList},
		{name: "show", aliases: []string{"get"}, summary: "Show a snapshot", run: (*app).snapshotShow},
		{name: "create", summary: "Snapshot an instance or a volume", run: (*app).snapshotCreate},
		{name: "revert", summary: "Put an instance or a volume back to a snapshot", run: snapshotTask(
			"Put an instance or a volume back to a snapshot; its current state is lost.", (*client.Client).RevertSnapshot, "reverted to")},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete a snapshot", run: snapshotTask(
			"Delete a snapshot and release its disk quota.", (*client.Client).DeleteSnapshot, "deleted")},
	}}
}

// ownerFlags are the flags that name what snapshots are of.
type ownerFlags struct {
	f                      *flags
	instance, volume, vdcs *string
}

// snapshotFlags adds --instance, --volume and --vdc to f.
func snapshotFlags(f *flags) ownerFlags {
	return ownerFlags{f: f,
		instance: f.String("instance", "", "the `INSTANCE` (name or id) the snapshots are of"),
		volume:   f.String("volume", "", "the `VOLUME` (name or id) the snapshots are of"),
		vdcs:     f.String("vdc", "", "look the names up in this `VDC` (administrators)"),
	}
}

// of resolves the instance or volume the flags name; with need, one of
// them is required.
func (o ownerFlags) of(need bool) (*client.Client, client.SnapshotOf, error) {
	cl, vdc, err := o.f.a.clientIn(*o.vdcs)
	if err != nil {
		return nil, client.SnapshotOf{}, err
	}
	switch {
	case *o.instance != "" && *o.volume != "":
		return nil, client.SnapshotOf{}, o.f.fail("give --instance or --volume, not both")
	case *o.instance != "":
		id, err := o.f.a.resolve("instance", *o.instance, vdc)
		return cl, client.SnapshotOf{InstanceID: id}, err
	case *o.volume != "":
		id, err := o.f.a.resolve("volume", *o.volume, vdc)
		return cl, client.SnapshotOf{VolumeID: id}, err
	case need:
		return nil, client.SnapshotOf{}, o.f.fail("--instance or --volume is required")
	}
	return cl, client.SnapshotOf{}, nil
}

// one parses the arguments of a leaf on one snapshot, named by its only
// positional argument (NAME|ID) among the snapshots of the instance or
// volume the flags name, and looks it up.
func (o ownerFlags) one(args []string) (*client.Client, client.SnapshotOf, ovm.ID, error) {
	pos, err := o.f.parseN(args, "NAME|ID")
	if err != nil {
		return nil, client.SnapshotOf{}, "", err
	}
	cl, of, err := o.of(true)
	if err != nil {
		return nil, of, "", err
	}
	id, err := resolveIn("snapshot", pos[0], func() ([]named, error) {
		ss, err := cl.ListSnapshots(o.f.a.ctx, of, client.ListOptions{})
		return namesOf(ss, err, func(s apitypes.SnapshotInfo) named { return named{s.ID, s.Name} })
	})
	return cl, of, id, err
}

// snapshotOf says what a snapshot is of.
func snapshotOf(s apitypes.SnapshotInfo) string {
	if s.VolumeID != "" {
		return "volume " + string(s.VolumeID)
	}
	return "instance " + string(s.InstanceID)
}

func (a *app) snapshotList(path string, args []string) error {
	f := a.flags(path, "[--instance INSTANCE | --volume VOLUME] [--vdc VDC]", "List the snapshots of an instance, of a volume, or of the VDC.")
	o := snapshotFlags(f)
	if _, err := f.parseN(args); err != nil {
		return err
	}
	cl, of, err := o.of(false)
	if err != nil {
		return err
	}
	lo := client.ListOptions{}
	if (of == client.SnapshotOf{}) && *o.vdcs != "" {
		vdc, err := a.resolveVDC(*o.vdcs)
		if err != nil {
			return err
		}
		lo.VDCID = string(vdc)
	}
	items, err := cl.ListSnapshots(a.ctx, of, lo)
	if err != nil {
		return err
	}
	now := time.Now()
	return a.show(page(items), func(w io.Writer) {
		row(w, "NAME", "ID", "OF", "SIZE", "MEMORY", "PHASE", "AGE")
		for _, s := range items {
			row(w, s.Name, s.ID, snapshotOf(s), s.Size, s.Memory, s.Phase, ago(s.CreatedAt, now))
		}
	})
}

func snapshotDetail(w io.Writer, s apitypes.SnapshotInfo) {
	field(w, "Name", s.Name)
	field(w, "ID", s.ID)
	field(w, "VDC", s.VDCID)
	field(w, "Of", snapshotOf(s))
	field(w, "Size", s.Size)
	field(w, "Memory", s.Memory)
	field(w, "Phase", s.Phase)
	if s.Message != "" {
		field(w, "Message", s.Message)
	}
	field(w, "Created", s.CreatedAt.Format(time.RFC3339))
}

func (a *app) snapshotShow(path string, args []string) error {
	f := a.flags(path, "NAME|ID (--instance INSTANCE | --volume VOLUME) [--vdc VDC]", "Show a snapshot of an instance or a volume.")
	cl, of, id, err := snapshotFlags(f).one(args)
	if err != nil {
		return err
	}
	s, err := cl.GetSnapshot(a.ctx, of, id)
	if err != nil {
		return err
	}
	return a.show(s, func(w io.Writer) { snapshotDetail(w, s) })
}

func (a *app) snapshotCreate(path string, args []string) error {
	f := a.flags(path, "NAME (--instance INSTANCE | --volume VOLUME) [--vdc VDC] [--wait]",
		"Snapshot an instance (its disks, and its memory when it runs on KVM) or a volume; the snapshot counts against the disk quota.")
	o := snapshotFlags(f)
	wait := f.Bool("wait", false, "wait for the task and show its progress")
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	cl, of, err := o.of(true)
	if err != nil {
		return err
	}
	st, err := cl.CreateSnapshot(a.ctx, of, apitypes.SnapshotCreate{Name: pos[0], IdempotencyKey: newKey()})
	if err != nil {
		return err
	}
	return a.afterSnapshotTask(cl, of, st, *wait, "created")
}

// snapshotTask returns the leaf that starts a task on a snapshot with do.
func snapshotTask(desc string, do func(*client.Client, context.Context, client.SnapshotOf, ovm.ID) (apitypes.SnapshotTask, error), verb string) leaf {
	return func(a *app, path string, args []string) error {
		f := a.flags(path, "NAME|ID (--instance INSTANCE | --volume VOLUME) [--vdc VDC] [--wait]", desc)
		o := snapshotFlags(f)
		wait := f.Bool("wait", false, "wait for the task and show its progress")
		cl, of, id, err := o.one(args)
		if err != nil {
			return err
		}
		st, err := do(cl, a.ctx, of, id)
		if err != nil {
			return err
		}
		return a.afterSnapshotTask(cl, of, st, *wait, verb)
	}
}

// afterSnapshotTask prints a snapshot change, after its task with wait.
func (a *app) afterSnapshotTask(cl *client.Client, of client.SnapshotOf, st apitypes.SnapshotTask, wait bool, verb string) error {
	if wait && st.Task != nil {
		if err := a.waitAll(st.Task); err != nil {
			return err
		}
		if verb != "deleted" {
			if s, err := cl.GetSnapshot(a.ctx, of, st.Snapshot.ID); err == nil {
				st.Snapshot = s
			}
		}
		if t, err := cl.GetTask(a.ctx, st.Task.ID); err == nil {
			st.Task = &t
		}
	}
	return a.show(st, func(w io.Writer) {
		if verb == "reverted to" {
			fmt.Fprintf(w, "Reverted %s to snapshot %s (%s)%s.\n", snapshotOf(st.Snapshot), st.Snapshot.Name, st.Snapshot.ID, pendingSuffix(st.Task != nil && !wait))
		} else {
			fmt.Fprintf(w, "Snapshot %s (%s) of %s %s.\n", st.Snapshot.Name, st.Snapshot.ID, snapshotOf(st.Snapshot), pending(verb, st.Task != nil && !wait))
		}
		if st.Task != nil && !wait {
			fmt.Fprintf(w, "Task %s %s; follow it with 'ovm task watch %s'.\n", st.Task.ID, st.Task.State, st.Task.ID)
		}
	})
}

// pendingSuffix says that a change is under way while its task runs.
func pendingSuffix(running bool) string {
	if running {
		return " (under way)"
	}
	return ""
}
