package libvirt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// AgentChannel is the name of the virtio-serial port the QEMU guest agent
// listens on; every domain OVM defines has it.
const AgentChannel = "org.qemu.guest_agent.0"

// MaxExecInput bounds the standard input Exec hands to the guest agent,
// which takes it base64-encoded in one JSON message.
const MaxExecInput = 4 << 20

// Timings of Exec: how long one agent call may take in libvirtd, how long
// Exec waits for the agent of a guest that is still booting to connect,
// and how often it asks whether the command ended.
const (
	agentCallTimeout = 30 * time.Second
	agentConnectWait = 2 * time.Minute
	execPollMin      = 20 * time.Millisecond
	execPollMax      = 500 * time.Millisecond
)

// execPath is the PATH of a command given an environment without one.
const execPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// agentChannel is the <channel> of the guest agent in a domain definition:
// a virtio-serial port whose host side is a UNIX socket libvirt names and
// connects to itself.
func agentChannel() libvirtxml.DomainChannel {
	return libvirtxml.DomainChannel{
		Source: &libvirtxml.DomainChardevSource{UNIX: &libvirtxml.DomainChardevSourceUNIX{Mode: "bind"}},
		Target: &libvirtxml.DomainChannelTarget{VirtIO: &libvirtxml.DomainChannelTargetVirtIO{Name: AgentChannel}},
	}
}

// hasAgentChannel reports whether a domain has the guest agent's port.
func hasAgentChannel(def libvirtxml.Domain) bool {
	if def.Devices == nil {
		return false
	}
	for _, c := range def.Devices.Channels {
		if c.Target != nil && c.Target.VirtIO != nil && c.Target.VirtIO.Name == AgentChannel {
			return true
		}
	}
	return false
}

// guestExec is the argument of the agent's guest-exec command.
type guestExec struct {
	Path          string   `json:"path"`
	Arg           []string `json:"arg,omitempty"`
	Env           []string `json:"env,omitempty"`
	InputData     string   `json:"input-data,omitempty"`
	CaptureOutput bool     `json:"capture-output"`
}

// guestExecStatus is the answer of guest-exec-status.
type guestExecStatus struct {
	Exited       bool   `json:"exited"`
	ExitCode     *int   `json:"exitcode"`
	Signal       *int   `json:"signal"`
	OutData      string `json:"out-data"`
	ErrData      string `json:"err-data"`
	OutTruncated bool   `json:"out-truncated"`
	ErrTruncated bool   `json:"err-truncated"`
}

// Exec runs a command in a running guest through the QEMU guest agent
// (guest-exec, then guest-exec-status until the command ends) on the
// domain's org.qemu.guest_agent.0 port: the guest must run qemu-ga. The
// command is a program and its arguments (no shell), stdin (at most
// MaxExecInput bytes) is handed over whole before it starts, an
// environment given replaces the guest's (with a standard PATH unless it
// has one), and stdout
// and stderr come back whole when it ends. A command killed by a signal
// exits with 128+signal, as a shell reports it. Exec waits for the agent
// of a guest that is still booting to connect (ctx bounds the wait);
// a domain without the agent's port is ovm.ErrUnsupported, a stopped one
// ovm.ErrConflict. When ctx ends first the command is killed (the guest's
// kill -9 on its pid, through the agent).
func (d *Driver) Exec(ctx context.Context, ref hypervisor.Ref, spec hypervisor.ExecSpec) (hypervisor.ExecResult, error) {
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		return hypervisor.ExecResult{}, ovm.Invalid("invalid exec", ovm.FieldError{Field: "command", Reason: "must name a program"})
	}
	args := guestExec{Path: spec.Command[0], Arg: spec.Command[1:], CaptureOutput: true}
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		args.Env = append(args.Env, k+"="+spec.Env[k])
	}
	if _, ok := spec.Env["PATH"]; len(args.Env) > 0 && !ok {
		// The agent's env replaces the command's whole environment.
		args.Env = append(args.Env, "PATH="+execPath)
	}
	if spec.Stdin != nil {
		in, err := io.ReadAll(io.LimitReader(spec.Stdin, MaxExecInput+1))
		if err != nil {
			return hypervisor.ExecResult{}, fmt.Errorf("libvirt: read the standard input of exec: %w", err)
		}
		if len(in) > MaxExecInput {
			return hypervisor.ExecResult{}, ovm.Invalid("invalid exec", ovm.FieldError{Field: "stdin", Reason: fmt.Sprintf("must be at most %d bytes", MaxExecInput)})
		}
		args.InputData = base64.StdEncoding.EncodeToString(in)
	}
	f, err := d.lookup(ctx, ref)
	if err != nil {
		return hypervisor.ExecResult{}, err
	}
	if f.power != ovm.PowerRunning {
		return hypervisor.ExecResult{}, hypervisor.ErrPower(ref, "exec in", f.power)
	}
	if !hasAgentChannel(f.def) {
		return hypervisor.ExecResult{}, ovm.Errorf(ovm.KindUnsupported,
			"libvirt: domain %s has no %s channel: commands run in a guest through the QEMU guest agent", f.dom.Name, AgentChannel)
	}
	var started struct {
		PID int64 `json:"pid"`
	}
	if err := d.agentWhenUp(ctx, f.dom, "guest-exec", args, &started); err != nil {
		if ovm.KindOf(err) == ovm.KindInternal && libvirtCode(err) == golibvirt.ErrInternalError {
			// The agent could not start the program: its own text.
			return hypervisor.ExecResult{}, ovm.Wrap(ovm.KindInvalid, err, "libvirt: exec %q in %s", spec.Command[0], ref)
		}
		return hypervisor.ExecResult{}, err
	}
	st, err := d.awaitExec(ctx, f.dom, started.PID)
	if err != nil {
		return hypervisor.ExecResult{}, err
	}
	res := hypervisor.ExecResult{}
	switch {
	case st.ExitCode != nil:
		res.ExitCode = *st.ExitCode
	case st.Signal != nil:
		res.ExitCode = 128 + *st.Signal
	}
	if res.Stdout, err = base64.StdEncoding.DecodeString(st.OutData); err != nil {
		return hypervisor.ExecResult{}, ovm.Wrap(ovm.KindInternal, err, "libvirt: the guest agent's stdout of pid %d", started.PID)
	}
	if res.Stderr, err = base64.StdEncoding.DecodeString(st.ErrData); err != nil {
		return hypervisor.ExecResult{}, ovm.Wrap(ovm.KindInternal, err, "libvirt: the guest agent's stderr of pid %d", started.PID)
	}
	return res, nil
}

// awaitExec asks the agent about a command it started until it ended.
func (d *Driver) awaitExec(ctx context.Context, dom golibvirt.Domain, pid int64) (guestExecStatus, error) {
	wait := execPollMin
	for {
		var st guestExecStatus
		if err := d.agent(ctx, dom, "guest-exec-status", map[string]int64{"pid": pid}, &st); err != nil {
			return st, err
		}
		if st.Exited {
			return st, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			d.killGuest(ctx, dom, pid)
			return st, fmt.Errorf("libvirt: command %d in %s did not end: %w", pid, dom.Name, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, execPollMax)
	}
}

// killGuest ends a command the agent started, best effort: the agent has
// no command for it, so it runs the guest's kill on the pid.
func (d *Driver) killGuest(ctx context.Context, dom golibvirt.Domain, pid int64) {
	kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var started struct {
		PID int64 `json:"pid"`
	}
	_ = d.agent(kctx, dom, "guest-exec", guestExec{Path: "kill", Arg: []string{"-9", strconv.FormatInt(pid, 10)}}, &started)
}

// agentWhenUp runs an agent command, waiting (up to agentConnectWait, and
// ctx) for an agent that is not connected yet: a guest that has just
// started has not started its agent.
func (d *Driver) agentWhenUp(ctx context.Context, dom golibvirt.Domain, cmd string, args, out any) error {
	deadline := time.Now().Add(agentConnectWait)
	for {
		err := d.agent(ctx, dom, cmd, args, out)
		if !isCode(err, golibvirt.ErrAgentUnresponsive) || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(250 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (waiting for it: %w)", err, ctx.Err())
		case <-t.C:
		}
	}
}

// agent runs one guest agent command through libvirtd
// (virDomainQemuAgentCommand) and decodes its "return" into out.
func (d *Driver) agent(ctx context.Context, dom golibvirt.Domain, cmd string, args, out any) error {
	msg, err := json.Marshal(map[string]any{"execute": cmd, "arguments": args})
	if err != nil {
		return fmt.Errorf("libvirt: agent command %s: %w", cmd, err)
	}
	timeout := agentCallTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	secs := int32(max(1, math.Ceil(timeout.Seconds())))
	ret, err := rpc(ctx, func() (golibvirt.OptString, error) { return d.l.QEMUDomainAgentCommand(dom, string(msg), secs, 0) })
	if err != nil {
		return wrap(err, "libvirt: guest agent of %s: %s", dom.Name, cmd)
	}
	if len(ret) == 0 {
		return ovm.Errorf(ovm.KindInternal, "libvirt: guest agent of %s: %s answered nothing", dom.Name, cmd)
	}
	var reply struct {
		Return json.RawMessage `json:"return"`
	}
	if err := json.Unmarshal([]byte(ret[0]), &reply); err != nil {
		return ovm.Wrap(ovm.KindInternal, err, "libvirt: guest agent of %s: the answer to %s", dom.Name, cmd)
	}
	if err := json.Unmarshal(reply.Return, out); err != nil {
		return ovm.Wrap(ovm.KindInternal, err, "libvirt: guest agent of %s: the answer to %s", dom.Name, cmd)
	}
	return nil
}
