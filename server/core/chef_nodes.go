package core

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/chef"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// The task kinds of Chef automation.
const (
	TaskChefEnrol    = "chef.enrol"
	TaskChefUnenrol  = "chef.unenrol"
	TaskChefConverge = "chef.converge"
)

// registerChefTasks registers the Chef task kinds on the engine.
func (s *Service) registerChefTasks() {
	s.tasks.Register(TaskChefEnrol, chefEnrolHandler{s})
	s.tasks.Register(TaskChefUnenrol, chefUnenrolHandler{s})
	s.tasks.Register(TaskChefConverge, chefConvergeHandler{s})
}

// ChefNode is an instance's enrolment.
type ChefNode = apitypes.ChefNode

// ChefNodeTask is an enrolment change and its task.
type ChefNodeTask = apitypes.ChefNodeTask

// Where the files OVM delivers live in a guest, as chef-client expects
// them.
const (
	chefDir          = "/etc/chef"
	chefKeyPath      = chefDir + "/client.pem"
	chefConfigPath   = chefDir + "/client.rb"
	chefTrustedCerts = chefDir + "/trusted_certs"
)

// chefEnrolInput is the input of a chef.enrol task. It holds no key: the
// key pair is made inside the step that delivers it.
type chefEnrolInput struct {
	InstanceID  ovm.ID   `json:"instanceId"`
	ServerID    ovm.ID   `json:"serverId"`
	RunList     []string `json:"runList"`
	Environment string   `json:"environment"`
	// AfterTask is the instance.create task of an enrolment made at
	// create, which the enrolment waits for.
	AfterTask ovm.ID `json:"afterTask,omitempty"`
}

// checkRunListOn parses a run list and an environment and checks them
// against the catalog of the server c talks to: what it does not have is
// invalid, named by its field, before anything runs.
func checkRunListOn(ctx context.Context, c *chef.Client, field string, runList []string, envField, env string) ([]chef.Item, error) {
	items, err := chef.ParseRunList(field, runList)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 && env == "" {
		return items, nil
	}
	cat, err := c.Catalog(ctx)
	if err != nil {
		return nil, chefUnavailable(err)
	}
	var f ovm.Fields
	f.Merge("", cat.CheckRunList(field, items))
	f.Merge("", cat.CheckEnvironment(envField, env))
	return items, f.Err("the chef server does not have what the request names")
}

// EnrolInstance makes an instance a node of a Chef server, through a task:
// OVM makes the node's key pair, creates its API client (with the public
// key) and node (named by the instance's id, with the run list and
// environment) on the server, and delivers the private key and client.rb
// into the guest through the driver's exec facet. An unknown cookbook,
// recipe, role or environment is refused before anything runs; a Chef
// server that does not answer is ovm.ErrUnavailable.
func (s *Service) EnrolInstance(ctx context.Context, p auth.Principal, id ovm.ID, in apitypes.ChefEnrol) (ChefNodeTask, error) {
	if _, err := s.visibleInstance(ctx, p, id); err != nil {
		return ChefNodeTask{}, err
	}
	if err := s.canDeliver(ctx, p, id); err != nil {
		return ChefNodeTask{}, err
	}
	if !in.ServerID.Valid() {
		return ChefNodeTask{}, invalid("invalid enrolment", "serverId", "must be the id of a chef server")
	}
	_, c, err := s.chefServerByID(ctx, in.ServerID)
	if err != nil {
		return ChefNodeTask{}, fieldNotFound(err, "serverId")
	}
	items, err := checkRunListOn(ctx, c, "runList", in.RunList, "environment", in.Environment)
	if err != nil {
		return ChefNodeTask{}, err
	}
	var out ChefNodeTask
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindInstance, id)
		if err != nil {
			return err
		}
		inst, err := decode[instanceRecord](r)
		if err != nil {
			return err
		}
		if inst.Status.Phase != ovm.PhaseReady || inst.Status.HostID == "" {
			return conflictf("cannot enrol instance %s: it is %s", inst.Name, inst.Status.Phase)
		}
		node := ChefNode{InstanceID: id, ServerID: in.ServerID, NodeName: string(id), State: apitypes.ChefNodeEnrolling,
			RunList: chef.Strings(items), Environment: in.Environment}
		if node.Environment == "" {
			node.Environment = "_default"
		}
		old, err := tx.Get(ctx, kindChefNode, id)
		switch {
		case err == nil:
			cur, err := decode[ChefNode](old)
			if err != nil {
				return err
			}
			if cur.State == apitypes.ChefNodeEnrolling || cur.State == apitypes.ChefNodeUnenrolling {
				return conflictf("instance %s is %s already", inst.Name, cur.State)
			}
			if cur.ServerID != in.ServerID && cur.State == apitypes.ChefNodeEnrolled {
				return conflictf("instance %s is enrolled in another chef server: unenrol it first", inst.Name)
			}
			node.LastConverge = cur.LastConverge
			old.ParentID = in.ServerID
			if err := save(ctx, tx, &old, node); err != nil {
				return err
			}
		case ovm.KindOf(err) == ovm.KindNotFound:
			rec := store.Record{Kind: kindChefNode, ID: id, VDCID: inst.VDCID, ParentID: in.ServerID, HostID: inst.Status.HostID, Name: string(id)}
			if err := setData(&rec, node); err != nil {
				return err
			}
			if err := tx.Insert(ctx, &rec); err != nil {
				return err
			}
		default:
			return err
		}
		task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskChefEnrol, VDCID: inst.VDCID, TargetID: id, HostID: inst.Status.HostID,
			Input: chefEnrolInput{InstanceID: id, ServerID: in.ServerID, RunList: node.RunList, Environment: node.Environment}})
		out = ChefNodeTask{Node: node, Task: task}
		return err
	})
	if err != nil {
		return ChefNodeTask{}, err
	}
	s.tasks.Kick()
	return out, nil
}

// canDeliver checks that a key can be delivered into a ready instance
// after its create: its driver has the exec facet. Without it the instance
// is enrolled at create, through its seed, or not at all:
// ovm.ErrUnsupported.
func (s *Service) canDeliver(ctx context.Context, p auth.Principal, id ovm.ID) error {
	hv, _, inst, err := s.facet(ctx, p, id, "enrol")
	if err != nil {
		return err
	}
	if _, err := s.execFacet(hv, inst.Name); err != nil {
		return ovm.Wrap(ovm.KindUnsupported, err, "cannot enrol instance %s now; "+
			"enrol a VM as it is created (the chef field of the create), through its cloud-init seed", inst.Name)
	}
	return nil
}

// visibleInstance reads an instance the principal may see.
func (s *Service) visibleInstance(ctx context.Context, p auth.Principal, id ovm.ID) (instanceRecord, error) {
	var inst instanceRecord
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindInstance, id)
		if err != nil {
			return err
		}
		inst, err = decode[instanceRecord](r)
		return err
	})
	return inst, err
}

// GetInstanceChef returns an instance's enrolment; an instance that is not
// enrolled is ovm.ErrNotFound.
func (s *Service) GetInstanceChef(ctx context.Context, p auth.Principal, id ovm.ID) (ChefNode, int64, error) {
	var out ChefNode
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, node, err := visibleChefNode(ctx, tx, p, id)
		out, ver = node, r.Version
		return err
	})
	if err == nil {
		s.redactFor(ctx, p, &out.Message)
	}
	return out, ver, err
}

// visibleChefNode reads the enrolment of an instance the principal may
// see; one that is not enrolled is ovm.ErrNotFound.
func visibleChefNode(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID) (store.Record, ChefNode, error) {
	if _, err := getVisible(ctx, tx, p, store.KindInstance, id); err != nil {
		return store.Record{}, ChefNode{}, err
	}
	r, err := getVisible(ctx, tx, p, kindChefNode, id)
	if ovm.KindOf(err) == ovm.KindNotFound {
		return r, ChefNode{}, ovm.Errorf(ovm.KindNotFound, "instance %s is not enrolled in a chef server", id)
	}
	if err != nil {
		return r, ChefNode{}, err
	}
	node, err := decode[ChefNode](r)
	return r, node, err
}

// UnenrolInstance removes an instance's node and API client from its Chef
// server and forgets the enrolment, through a task.
func (s *Service) UnenrolInstance(ctx context.Context, p auth.Principal, id ovm.ID) (ChefNodeTask, error) {
	var out ChefNodeTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, node, err := visibleChefNode(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if node.State == apitypes.ChefNodeEnrolling || node.State == apitypes.ChefNodeUnenrolling {
			return conflictf("instance %s is %s already", id, node.State)
		}
		node.State = apitypes.ChefNodeUnenrolling
		if err := save(ctx, tx, &r, node); err != nil {
			return err
		}
		task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskChefUnenrol, VDCID: r.VDCID, TargetID: id, HostID: r.HostID,
			Input: chefEnrolInput{InstanceID: id, ServerID: node.ServerID}})
		out = ChefNodeTask{Node: node, Task: task}
		return err
	})
	if err != nil {
		return ChefNodeTask{}, err
	}
	s.tasks.Kick()
	return out, nil
}

// chefEnrolHandler is the chef.enrol task kind.
type chefEnrolHandler struct{ s *Service }

// Steps returns the steps of an enrolment (tasks.Handler).
func (h chefEnrolHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[chefEnrolInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	return []tasks.Step{{
		Name: "enrol node",
		Do: func(ctx context.Context, r *tasks.Run) error {
			if in.AfterTask != "" {
				if done, err := s.awaitCreate(ctx, r, in); err != nil || done {
					return err
				}
			}
			return s.enrolNode(ctx, r, in.InstanceID, in.ServerID, in.RunList, in.Environment)
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			_, c, err := s.chefServerByID(ctx, in.ServerID)
			if err != nil {
				return err
			}
			return c.Unenrol(ctx, string(in.InstanceID))
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.setChefNode(ctx, in.InstanceID, func(n *ChefNode) {
				now := s.now()
				n.State, n.Message, n.EnrolledAt = apitypes.ChefNodeEnrolled, "", &now
			})
		},
	}}, nil
}

// Finish records a failed enrolment with its cause.
func (h chefEnrolHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	return h.s.setChefNode(ctx, r.Task().TargetID, func(n *ChefNode) {
		n.State, n.Message = apitypes.ChefNodeFailed, "enrolment failed: "+causeText(cause)
	})
}

// setChefNode changes an enrolment record; a missing one is left alone.
func (s *Service) setChefNode(ctx context.Context, id ovm.ID, change func(n *ChefNode)) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		n, r, err := getAs[ChefNode](ctx, tx, kindChefNode, id)
		if ovm.KindOf(err) == ovm.KindNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		change(&n)
		return save(ctx, tx, &r, n)
	})
}

// enrolNode makes the node's key pair, (re)creates its client and node on
// the Chef server and delivers the private key into the guest. The key is
// made here and never stored: a step that runs again makes a new one.
func (s *Service) enrolNode(ctx context.Context, r *tasks.Run, instID, serverID ovm.ID, runList []string, env string) error {
	srv, c, err := s.chefServerByID(ctx, serverID)
	if err != nil {
		return err
	}
	tg, err := s.load(ctx, instID, "")
	if err != nil {
		return err
	}
	ex, err := s.execFacet(tg.hv, tg.inst.Name)
	if err != nil {
		return err
	}
	keys, err := chef.NewKeyPair()
	if err != nil {
		return err
	}
	node := string(instID)
	if err := c.Enrol(ctx, node, keys.Public, runList, env); err != nil {
		return err
	}
	r.Logf(slog.LevelInfo, "node %s and its client created on chef server %s", node, srv.Name)
	if err := deliverChefFiles(ctx, ex, ref(tg.inst), srv, node, keys.Private); err != nil {
		return err
	}
	r.Logf(slog.LevelInfo, "client key and %s delivered into instance %s", chefConfigPath, tg.inst.Name)
	return nil
}

// clientRB is the chef-client configuration of a node of srv.
func clientRB(srv chefServerRecord, node string) string {
	url := srv.URL
	if srv.GuestURL != "" {
		url = srv.GuestURL
	}
	q := strconv.Quote
	var b strings.Builder
	fmt.Fprintf(&b, "chef_server_url %s\n", q(chef.Config{URL: url, Organization: srv.Organization}.BaseURL()))
	fmt.Fprintf(&b, "node_name %s\n", q(node))
	fmt.Fprintf(&b, "client_key %s\n", q(chefKeyPath))
	if srv.TLS != nil && srv.TLS.InsecureSkipVerify {
		b.WriteString("ssl_verify_mode :verify_none\n")
	}
	if srv.TLS != nil && srv.TLS.CACert != "" {
		fmt.Fprintf(&b, "trusted_certs_dir %s\n", q(chefTrustedCerts))
	}
	return b.String()
}

// deliverChefFiles writes the node's private key (mode 0600), client.rb
// and the server's CA certificate into the guest, each through the
// command's standard input, never its command line.
func deliverChefFiles(ctx context.Context, ex hypervisor.Executor, ref hypervisor.Ref, srv chefServerRecord, node string, key []byte) error {
	files := []struct {
		path string
		data []byte
	}{{chefKeyPath, key}, {chefConfigPath, []byte(clientRB(srv, node))}}
	if srv.TLS != nil && srv.TLS.CACert != "" {
		files = append(files, struct {
			path string
			data []byte
		}{chefTrustedCerts + "/ovm-ca.crt", []byte(srv.TLS.CACert)})
	}
	for _, f := range files {
		dir := f.path[:strings.LastIndexByte(f.path, '/')]
		script := "umask 077 && mkdir -p " + dir + " && cat > " + f.path + ".new && mv " + f.path + ".new " + f.path
		res, err := ex.Exec(ctx, ref, hypervisor.ExecSpec{Command: []string{"/bin/sh", "-c", script}, Stdin: bytes.NewReader(f.data)})
		if err != nil {
			return fmt.Errorf("core: deliver %s: %w", f.path, err)
		}
		if res.ExitCode != 0 {
			return ovm.Errorf(ovm.KindConflict, "writing %s in the instance failed (exit %d): %s", f.path, res.ExitCode, strings.TrimSpace(string(res.Stderr)))
		}
	}
	return nil
}

// chefUnenrolHandler is the chef.unenrol task kind.
type chefUnenrolHandler struct{ s *Service }

// Steps returns the steps of an unenrolment (tasks.Handler).
func (h chefUnenrolHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[chefEnrolInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	return []tasks.Step{{
		Name: "unenrol node",
		Do: func(ctx context.Context, r *tasks.Run) error {
			_, c, err := s.chefServerByID(ctx, in.ServerID)
			if err != nil {
				return err
			}
			if err := c.Unenrol(ctx, string(in.InstanceID)); err != nil {
				return err
			}
			// The key is worthless now; remove it from the guest where the
			// guest still answers.
			if tg, err := s.load(ctx, in.InstanceID, ""); err == nil {
				if ex, err := s.execFacet(tg.hv, tg.inst.Name); err == nil {
					_, _ = ex.Exec(ctx, ref(tg.inst), hypervisor.ExecSpec{Command: []string{"rm", "-f", chefKeyPath}})
				}
			}
			return nil
		},
	}, {
		Name: "forget",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
				return ignore(tx.Delete(ctx, kindChefNode, in.InstanceID, 0), ovm.KindNotFound)
			})
		},
	}}, nil
}

// Finish puts an enrolment whose unenrolment failed back to enrolled.
func (h chefUnenrolHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	return h.s.setChefNode(ctx, r.Task().TargetID, func(n *ChefNode) {
		n.State, n.Message = apitypes.ChefNodeEnrolled, "unenrolment failed: "+causeText(cause)
	})
}

// unenrolDeleted removes the node and client of an instance being deleted
// from its Chef server and forgets the enrolment. A Chef server that does
// not answer does not stop the delete: the task's log says what was left
// on it.
func (s *Service) unenrolDeleted(ctx context.Context, r *tasks.Run, instID ovm.ID) error {
	node, err := viewAs[ChefNode](ctx, s, kindChefNode, instID)
	if ovm.KindOf(err) == ovm.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	_, c, err := s.chefServerByID(ctx, node.ServerID)
	if err == nil {
		err = c.Unenrol(ctx, node.NodeName)
	}
	if err != nil {
		r.Logf(slog.LevelWarn, "node %s may be left on its chef server: %v", node.NodeName, err)
	} else {
		r.Logf(slog.LevelInfo, "node %s and its client removed from the chef server", node.NodeName)
	}
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return ignore(tx.Delete(ctx, kindChefNode, instID, 0), ovm.KindNotFound)
	})
}
