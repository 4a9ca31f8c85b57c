package core

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/chef"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// Enrolment at create: CreateInstance records the enrolment (enrolling)
// and a chef.enrol task beside the instance.create task. A VM's node is
// made in the create step itself (chefSeed), its key and the cloud-init
// chef settings put in the NoCloud seed the driver writes; the enrol task
// waits for the create and checks the node. A container's key is
// delivered by the enrol task through exec once the create started it.

// checkChefAtCreate checks the enrolment a create asks for against its
// Chef server before anything is recorded.
func (s *Service) checkChefAtCreate(ctx context.Context, in CreateInstance) error {
	if in.Chef == nil {
		return nil
	}
	var f ovm.Fields
	if !in.Chef.ServerID.Valid() {
		f.Add("chef.serverId", "must be the id of a chef server")
	}
	switch in.Spec.Type {
	case ovm.TypeVM:
		if in.Spec.UserData != "" {
			f.Add("chef", "cannot be given with spec.userData: a VM's chef settings are its cloud-init user-data")
		}
	case ovm.TypeContainer:
		if !in.Start {
			f.Add("start", "must be set to enrol a container as it is created: its key is delivered into it once it runs")
		}
	}
	if err := f.Err("invalid chef enrolment"); err != nil {
		return err
	}
	_, c, err := s.chefServerByID(ctx, in.Chef.ServerID)
	if err != nil {
		return fieldNotFound(err, "chef.serverId")
	}
	_, err = checkRunListOn(ctx, c, "chef.runList", in.Chef.RunList, "chef.environment", in.Chef.Environment)
	return err
}

// enrolAtCreate records, in the create's transaction, the enrolment of a
// new instance and the chef.enrol task that completes it after the
// create task.
func (s *Service) enrolAtCreate(ctx context.Context, tx store.Tx, inst ovm.Instance, createTask ovm.ID, in apitypes.ChefEnrol) error {
	items, err := chef.ParseRunList("chef.runList", in.RunList)
	if err != nil {
		return err
	}
	node := ChefNode{InstanceID: inst.ID, ServerID: in.ServerID, NodeName: string(inst.ID), State: apitypes.ChefNodeEnrolling,
		RunList: chef.Strings(items), Environment: firstNonEmpty(in.Environment, "_default")}
	rec := store.Record{Kind: kindChefNode, ID: inst.ID, VDCID: inst.VDCID, ParentID: in.ServerID, HostID: inst.Status.HostID, Name: string(inst.ID)}
	if err := setData(&rec, node); err != nil {
		return err
	}
	if err := tx.Insert(ctx, &rec); err != nil {
		return err
	}
	// No host: the task waits for the create, and must not hold one of
	// the host's slots while it does.
	_, err = s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskChefEnrol, VDCID: inst.VDCID, TargetID: inst.ID,
		Input: chefEnrolInput{InstanceID: inst.ID, ServerID: in.ServerID, RunList: node.RunList, Environment: node.Environment, AfterTask: createTask}})
	return err
}

// chefSeed runs in a create step: for a VM whose enrolment is being made
// at create, it makes the node's key pair, enrols the node and puts the
// chef settings and the private key in the cloud-init user-data of spec,
// which goes to the driver only (into the NoCloud seed) and is stored
// nowhere else. A driver that gives a VM no user-data (caps) makes no
// node.
func (s *Service) chefSeed(ctx context.Context, r *tasks.Run, caps hypervisor.Capabilities, spec *hypervisor.CreateSpec) error {
	if spec.Spec.Type != ovm.TypeVM {
		return nil
	}
	if !caps.UserData {
		// The enrolment task finds no node and says why.
		return nil
	}
	node, err := viewAs[ChefNode](ctx, s, kindChefNode, spec.ID)
	if ovm.KindOf(err) == ovm.KindNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if node.State != apitypes.ChefNodeEnrolling {
		return nil
	}
	srv, c, err := s.chefServerByID(ctx, node.ServerID)
	if err != nil {
		return err
	}
	keys, err := chef.NewKeyPair()
	if err != nil {
		return err
	}
	if err := c.Enrol(ctx, node.NodeName, keys.Public, node.RunList, node.Environment); err != nil {
		return err
	}
	ud, err := chefCloudConfig(srv, node, keys.Private)
	if err != nil {
		return err
	}
	spec.Spec.UserData = ud
	r.Logf(slog.LevelInfo, "node %s and its client created on chef server %s; the key and chef settings go into the cloud-init seed", node.NodeName, srv.Name)
	return nil
}

// chefCloudConfig is the cloud-init user-data that makes a VM a node of
// srv: the private key written to /etc/chef/client.pem (and the server's
// CA), and cloud-init's chef module settings (server, node name,
// environment, run list, a first converge). It is YAML in JSON's syntax.
func chefCloudConfig(srv chefServerRecord, node ChefNode, key []byte) (string, error) {
	url := firstNonEmpty(srv.GuestURL, srv.URL)
	files := []map[string]string{{"path": chefKeyPath, "permissions": "0600", "owner": "root:root", "content": string(key)}}
	settings := map[string]any{
		"server_url": chef.Config{URL: url, Organization: srv.Organization}.BaseURL(),
		"node_name":  node.NodeName, "environment": node.Environment, "run_list": node.RunList,
		"client_key": chefKeyPath, "exec": true,
	}
	if srv.TLS != nil && srv.TLS.InsecureSkipVerify {
		settings["ssl_verify_mode"] = ":verify_none"
	}
	if srv.TLS != nil && srv.TLS.CACert != "" {
		files = append(files, map[string]string{"path": chefTrustedCerts + "/ovm-ca.crt", "permissions": "0644", "content": srv.TLS.CACert})
	}
	var b bytes.Buffer
	b.WriteString("#cloud-config\n")
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"write_files": files, "chef": settings}); err != nil {
		return "", fmt.Errorf("core: render the chef cloud-config: %w", err)
	}
	return b.String(), nil
}

// awaitCreate waits, in an enrolment made at create, for the instance's
// create task: a create that did not succeed fails the enrolment and
// removes what chefSeed made on the Chef server. It reports whether the
// node is enrolled already (a VM, through its seed).
func (s *Service) awaitCreate(ctx context.Context, r *tasks.Run, in chefEnrolInput) (bool, error) {
	t, err := s.tasks.Wait(ctx, in.AfterTask)
	if err != nil {
		return false, err
	}
	if t.State != ovm.TaskSucceeded {
		if _, c, err := s.chefServerByID(ctx, in.ServerID); err == nil {
			_ = c.Unenrol(ctx, string(in.InstanceID))
		}
		return false, ovm.Errorf(ovm.KindConflict, "the instance was not created (its task %s): %s", t.State, t.Error)
	}
	inst, err := viewAs[instanceRecord](ctx, s, store.KindInstance, in.InstanceID)
	if err != nil {
		return false, err
	}
	if inst.Spec.Type != ovm.TypeVM {
		return false, nil
	}
	_, c, err := s.chefServerByID(ctx, in.ServerID)
	if err != nil {
		return false, err
	}
	if _, err := c.Node(ctx, string(in.InstanceID)); err != nil {
		if ovm.KindOf(err) == ovm.KindNotFound {
			return false, ovm.Errorf(ovm.KindUnsupported, "VM %s was not enrolled: its host gives a VM no cloud-init user-data to carry its key", inst.Name)
		}
		return false, fmt.Errorf("core: the node made at create: %w", err)
	}
	r.Logf(slog.LevelInfo, "node %s enrolled through the VM's cloud-init seed", in.InstanceID)
	return true, nil
}
