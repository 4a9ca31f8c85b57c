package core

import (
	"context"
	"log/slog"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// TaskInstanceCommit commits a container instance as an image and pushes
// it to a registry.
const TaskInstanceCommit = "instance.commit"

// commitInput is the input of an instance.commit task.
type commitInput struct {
	InstanceID ovm.ID `json:"instanceId"`
	RegistryID ovm.ID `json:"registryId"`
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	// VDCID is the VDC whose disk quota the image counts against (empty:
	// a platform image).
	VDCID ovm.ID `json:"vdcId,omitempty"`
}

// CommitInstance commits a container instance's filesystem as an image
// and pushes it to a registry (the default one unless named), as a task. A
// tenant's image goes under its VDC's namespace and counts against its
// disk quota once pushed. A VM is ovm.ErrConflict: its disk becomes a
// container image through a conversion.
func (s *Service) CommitInstance(ctx context.Context, p auth.Principal, id ovm.ID, in apitypes.InstanceCommit) (apitypes.InstanceCommitTask, error) {
	if _, _, err := getVisibleAs[instanceRecord](ctx, s, p, store.KindInstance, id); err != nil {
		return apitypes.InstanceCommitTask{}, err
	}
	repo, vdc, err := writableRepository(p, in.Repository)
	if err != nil {
		return apitypes.InstanceCommitTask{}, err
	}
	var reg registryRecord
	if in.RegistryID != "" {
		if reg, _, err = s.registryByID(ctx, in.RegistryID); ovm.KindOf(err) == ovm.KindNotFound {
			return apitypes.InstanceCommitTask{}, invalid("invalid commit", "registryId", "names no registry")
		}
	} else if reg, err = s.defaultRegistry(ctx); ovm.KindOf(err) == ovm.KindNotFound {
		return apitypes.InstanceCommitTask{}, invalid("invalid commit", "registryId", "is required: no default registry is registered")
	}
	if err != nil {
		return apitypes.InstanceCommitTask{}, err
	}
	c, err := s.registryConn(reg)
	if err != nil {
		return apitypes.InstanceCommitTask{}, err
	}
	if err := c.tag(repo, in.Tag); err != nil {
		return apitypes.InstanceCommitTask{}, err
	}
	if vdc == "" {
		vdc = s.namespaceVDC(ctx, repo)
	}
	var out apitypes.InstanceCommitTask
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindInstance, id)
		if err != nil {
			return err
		}
		inst, err := decode[instanceRecord](r)
		if err != nil {
			return err
		}
		if inst.Spec.Type != ovm.TypeContainer {
			return conflictf("instance %s is a vm: a vm's disk becomes a container image through a conversion, not a commit", inst.Name)
		}
		if inst.Status.Phase != ovm.PhaseReady || inst.Status.HostID == "" {
			return conflictf("cannot commit instance %s: it is %s", inst.Name, inst.Status.Phase)
		}
		task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskInstanceCommit, VDCID: inst.VDCID, TargetID: id, HostID: inst.Status.HostID,
			Input: commitInput{InstanceID: id, RegistryID: reg.ID, Repository: repo, Tag: in.Tag, VDCID: vdc}})
		out = apitypes.InstanceCommitTask{Reference: c.Reference(repo, in.Tag), Task: task}
		return err
	})
	if err != nil {
		return apitypes.InstanceCommitTask{}, err
	}
	s.tasks.Kick()
	return out, nil
}

// commitHandler runs instance.commit tasks.
type commitHandler struct{ s *Service }

// Steps: commit and push on the instance's host, then hold the image's
// size in the VDC's disk quota (over quota deletes the pushed image).
func (h commitHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[commitInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	return []tasks.Step{
		{Name: "commit the container and push it", Do: func(ctx context.Context, r *tasks.Run) error {
			return s.commitAndPush(ctx, r, in)
		}},
		{Name: "hold the image's size in the vdc's disk quota", Do: func(ctx context.Context, r *tasks.Run) error {
			return s.holdCommitted(ctx, r, in)
		}},
	}, nil
}

// commitAndPush commits the instance on its host through the driver's
// ImageCommitter facet and pushes it with the registry's credentials.
func (s *Service) commitAndPush(ctx context.Context, r *tasks.Run, in commitInput) error {
	reg, c, err := s.registryByID(ctx, in.RegistryID)
	if err != nil {
		return err
	}
	inst, err := viewAs[instanceRecord](ctx, s, store.KindInstance, in.InstanceID)
	if err != nil {
		return err
	}
	host, err := viewAs[hostRecord](ctx, s, store.KindHost, inst.Status.HostID)
	if err != nil {
		return err
	}
	conn, err := s.connect(ctx, host)
	if err != nil {
		return hostError(host.Host, err)
	}
	d := conn.Hypervisor
	if o, ok := d.(observed); ok {
		d = o.Driver
	}
	cm, ok := d.(hypervisor.ImageCommitter)
	if !ok {
		return ovm.Errorf(ovm.KindUnsupported, "cannot commit instance %s: its host kind commits no instances as images", inst.Name)
	}
	image := c.Reference(in.Repository, in.Tag)
	digest, err := cm.CommitImage(ctx, ref(inst), image, hypervisor.RegistryAuth{Username: c.cfg.Username, Password: c.cfg.Password})
	if err != nil {
		return err
	}
	r.Logf(slog.LevelInfo, "pushed %s (%s) to registry %s", image, digest, reg.Name)
	return nil
}

// holdCommitted holds the pushed image's size in the VDC's disk quota; an
// image over the quota is deleted from the registry again.
func (s *Service) holdCommitted(ctx context.Context, r *tasks.Run, in commitInput) error {
	if in.VDCID == "" {
		return nil
	}
	_, c, err := s.registryByID(ctx, in.RegistryID)
	if err != nil {
		return err
	}
	d, err := c.Describe(ctx, in.Repository, in.Tag)
	if err != nil {
		return err
	}
	err = s.reserveImage(ctx, in.VDCID, in.RegistryID, in.Repository, in.Tag, d.Digest, d.Size)
	if ovm.KindOf(err) == ovm.KindQuotaExceeded {
		if derr := c.DeleteTag(ctx, in.Repository, in.Tag); derr != nil {
			r.Logf(slog.LevelWarn, "could not delete the image over quota: %v", derr)
		}
	}
	return err
}
