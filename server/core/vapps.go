package core

import (
	"cmp"
	"context"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// MemberStatus is the outcome of one member of a vApp.
type MemberStatus = apitypes.MemberStatus

// VAppInfo is a vApp with the outcome of each member.
type VAppInfo = apitypes.VAppInfo

// vappRecord is a stored vApp with the create task of each member.
type vappRecord struct {
	ovm.VApp
	Tasks []ovm.ID `json:"tasks"`
	// Phase is creating until every member is made and started (ready),
	// failed once rolled back; "" (a vApp of an older server) is ready.
	Phase   ovm.Phase `json:"phase,omitempty"`
	Message string    `json:"message,omitempty"`
	// TaskID is the vApp's own task in flight (vapp.power).
	TaskID ovm.ID `json:"taskId,omitempty"`
	// Settled holds the members whose create ended: "" when made, the
	// reason when not.
	Settled map[ovm.ID]string `json:"settled,omitempty"`
}

// CreateVApp is the input of a vApp deployment.
type CreateVApp = apitypes.VAppCreate

// VAppTasks is a deployed or deleted vApp and the task of each member.
type VAppTasks = apitypes.VAppTasks

// DeployVApp validates every member, reserves the quota of all, places them
// as one batch (on different hosts with anti-affinity) and records the vApp,
// its instances and one instance.create task per member, in one
// transaction. The members are made in parallel and left stopped; once the
// last one is made, a vapp.power task starts them all, group by group
// (memberSettled). A member that cannot be made rolls every member back,
// unless the vApp is partial.
func (s *Service) DeployVApp(ctx context.Context, p auth.Principal, in CreateVApp) (VAppTasks, error) {
	app := ovm.VApp{Name: in.Name, AntiAffinity: in.AntiAffinity, StartDelaySeconds: in.StartDelaySeconds, Partial: in.Partial, Members: in.Members}
	var f ovm.Fields
	f.Merge("", app.Validate())
	for i, m := range in.Members {
		for j, d := range m.Spec.Disks {
			if !d.VolumeID.IsZero() {
				f.Add("members["+itoa(i)+"].spec.disks["+itoa(j)+"].volumeId", "attaching existing volumes at create is not supported yet")
			}
		}
	}
	if err := f.Err("invalid vapp"); err != nil {
		return VAppTasks{}, err
	}
	vdc, err := resolveVDC(p, in.VDCID, true)
	if err != nil {
		return VAppTasks{}, err
	}
	var out VAppTasks
	defer s.placing.lock(vdc)()
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "vapp.create", in.IdempotencyKey, in, &out, func() error {
			v, err := s.tenantVDC(ctx, tx, p, vdc)
			if err != nil {
				return err
			}
			if err := nameFree(ctx, tx, store.KindVApp, vdc, in.Name, "name"); err != nil {
				return err
			}
			var total ovm.Usage
			for i, m := range in.Members {
				if err := nameFree(ctx, tx, store.KindInstance, vdc, m.Name, "members["+itoa(i)+"].name"); err != nil {
					return err
				}
				total = total.Add(ovm.UsageOf(m.Spec))
			}
			// The whole vApp is admitted or none of it: one check of the
			// sum, before the members reserve their own shares.
			q, used, err := tx.Quota(ctx, vdc)
			if err != nil {
				return err
			}
			if err := q.Admit(used, total); err != nil {
				return err
			}
			rec := vappRecord{VApp: ovm.VApp{ID: ovm.NewID(), Name: in.Name, VDCID: vdc, AntiAffinity: in.AntiAffinity,
				StartDelaySeconds: in.StartDelaySeconds, Partial: in.Partial, Members: in.Members, CreatedAt: s.now()},
				Phase: ovm.PhaseCreating}
			group := ovm.ID("")
			if in.AntiAffinity {
				group = rec.ID
			}
			reqs := make([]placement.Request, len(in.Members))
			for i, m := range in.Members {
				if reqs[i], err = request(ctx, tx, m.Name, m.Spec, group); err != nil {
					return prefixFields(err, "members["+itoa(i)+"].")
				}
			}
			res, fl, err := s.place(ctx, tx, v, reqs)
			if err != nil {
				return err
			}
			var nofit ovm.Fields
			for i, r := range res {
				if r.Err != nil {
					nofit.Add("members["+itoa(i)+"]", noRoom(p, r.Err, reqs[i]).Error())
				}
			}
			if len(nofit) > 0 {
				return &ovm.Error{Kind: ovm.KindUnavailable, Message: "no room for every member of the vapp", Fields: nofit}
			}
			out = VAppTasks{}
			statuses := make([]MemberStatus, len(in.Members))
			for i, m := range in.Members {
				id := ovm.NewID()
				inst, task, err := s.recordInstance(ctx, tx, v, id, m.Name, cloneSpec(m.Spec), rec.ID, rec.ID, res[i].HostID, fl.limit[res[i].HostID], false)
				if err != nil {
					return prefixFields(err, "members["+itoa(i)+"].")
				}
				rec.InstanceIDs = append(rec.InstanceIDs, id)
				rec.Tasks = append(rec.Tasks, task.ID)
				out.Tasks = append(out.Tasks, task)
				statuses[i] = MemberStatus{Name: m.Name, InstanceID: id, Phase: inst.Status.Phase, Power: inst.Status.Power, TaskID: task.ID}
			}
			r := store.Record{Kind: store.KindVApp, ID: rec.ID, VDCID: vdc, Name: rec.Name}
			if err := setData(&r, rec); err != nil {
				return err
			}
			out.VApp = VAppInfo{VApp: rec.VApp, Phase: rec.Phase, MemberStatus: statuses}
			return tx.Insert(ctx, &r)
		})
	})
	if err != nil {
		return VAppTasks{}, err
	}
	s.tasks.Kick()
	return out, nil
}

// prefixFields prefixes the field names of an error's field details.
func prefixFields(err error, prefix string) error {
	fs := ovm.FieldsOf(err)
	if len(fs) == 0 {
		return err
	}
	out := make([]ovm.FieldError, len(fs))
	for i, f := range fs {
		f.Field = prefix + f.Field
		out[i] = f
	}
	return &ovm.Error{Kind: ovm.KindOf(err), Message: err.Error(), Fields: out, Err: err}
}

// vappView fills a vApp's member outcomes from its instances.
func vappView(ctx context.Context, tx store.Tx, r store.Record) (VAppInfo, error) {
	rec, err := decode[vappRecord](r)
	if err != nil {
		return VAppInfo{}, err
	}
	out := VAppInfo{VApp: rec.VApp, Phase: cmp.Or(rec.Phase, ovm.PhaseReady), Message: rec.Message, TaskID: rec.TaskID,
		MemberStatus: make([]MemberStatus, 0, len(rec.InstanceIDs))}
	for i, id := range rec.InstanceIDs {
		ms := MemberStatus{InstanceID: id, Phase: ovm.PhaseDeleting}
		if i < len(rec.Members) {
			ms.Name = rec.Members[i].Name
		}
		if i < len(rec.Tasks) {
			ms.TaskID = rec.Tasks[i]
		}
		inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, id)
		switch {
		case err == nil:
			ms.Phase, ms.Power, ms.Message = inst.Status.Phase, inst.Status.Power, inst.Status.Message
		case ovm.KindOf(err) != ovm.KindNotFound:
			return VAppInfo{}, err
		}
		out.MemberStatus = append(out.MemberStatus, ms)
	}
	return out, nil
}

// GetVApp returns a vApp the principal may see, with each member's
// outcome, and its version.
func (s *Service) GetVApp(ctx context.Context, p auth.Principal, id ovm.ID) (VAppInfo, int64, error) {
	var out VAppInfo
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindVApp, id)
		if err != nil {
			return err
		}
		out, err = vappView(ctx, tx, r)
		ver = r.Version
		return err
	})
	if err != nil {
		return VAppInfo{}, 0, err
	}
	s.redactFor(ctx, p, memberTexts(&out)...)
	return out, ver, nil
}

// memberTexts are the messages of vApps' members.
func memberTexts(vs ...*VAppInfo) []*string {
	var out []*string
	for _, v := range vs {
		for i := range v.MemberStatus {
			out = append(out, &v.MemberStatus[i].Message)
		}
	}
	return out
}

// ListVApps lists the vApps of the principal's VDC (or any, for an
// administrator).
func (s *Service) ListVApps(ctx context.Context, p auth.Principal, o ListOptions) (Page[VAppInfo], error) {
	vdc, err := resolveVDC(p, o.VDCID, false)
	if err != nil {
		return Page[VAppInfo]{}, err
	}
	var out Page[VAppInfo]
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		out, err = listPage(ctx, tx, vdcFilter(store.KindVApp, vdc), o, func(r store.Record) (VAppInfo, error) {
			return vappView(ctx, tx, r)
		})
		return err
	})
	if err != nil {
		return Page[VAppInfo]{}, err
	}
	items := make([]*VAppInfo, len(out.Items))
	for i := range out.Items {
		items[i] = &out.Items[i]
	}
	s.redactFor(ctx, p, memberTexts(items...)...)
	return out, nil
}

// DeleteVApp deletes a vApp's members (one instance.delete task each) and
// the vApp. A member busy with another task makes it a conflict.
func (s *Service) DeleteVApp(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) (VAppTasks, error) {
	var out VAppTasks
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		out = VAppTasks{}
		r, err := getVisible(ctx, tx, p, store.KindVApp, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		if out.VApp, err = vappView(ctx, tx, r); err != nil {
			return err
		}
		for _, iid := range out.VApp.InstanceIDs {
			ir, err := tx.Get(ctx, store.KindInstance, iid)
			switch {
			case ovm.KindOf(err) == ovm.KindNotFound:
				continue
			case err != nil:
				return err
			}
			task, _, err := s.deleteInstance(ctx, tx, ir)
			if err != nil {
				return err
			}
			out.Tasks = append(out.Tasks, task)
		}
		return tx.Delete(ctx, store.KindVApp, id, r.Version)
	})
	if err != nil {
		return VAppTasks{}, err
	}
	s.tasks.Kick()
	s.redactFor(ctx, p, memberTexts(&out.VApp)...)
	return out, nil
}
