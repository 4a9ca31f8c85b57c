package esxi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vmware/govmomi/guest/toolbox"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// MaxExecInput bounds the standard input Exec uploads into the guest.
const MaxExecInput = 16 << 20

// execPoll is how often Exec asks whether the command ended.
const execPoll = 200 * time.Millisecond

// envName is a variable name a POSIX shell takes.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// execScript is the shell command line that runs spec with its standard
// streams on files of dir in the guest. The redirections are the guest
// shell's: VMware Tools gives a started program no streams.
func execScript(spec hypervisor.ExecSpec, dir string, stdin bool) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		b.WriteString(k + "=" + shellQuote(spec.Env[k]) + " ")
	}
	for i, a := range spec.Command {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(shellQuote(a))
	}
	in := "/dev/null"
	if stdin {
		in = dir + "/stdin"
	}
	fmt.Fprintf(&b, " <%s >%s 2>%s", shellQuote(in), shellQuote(dir+"/stdout"), shellQuote(dir+"/stderr"))
	return b.String()
}

// Exec runs a command in a powered-on VM through VMware Tools guest
// operations, as the host's guest account (Config.GuestUser): it makes a
// directory of its own under /tmp in the guest, uploads stdin there, starts /bin/sh
// -c with the command (a program and its arguments, quoted) and its
// streams redirected to files of that directory, waits for the process to
// end, downloads stdout and stderr and removes the directory. It waits for
// the Tools of a guest that is still booting (awaitTools). A host without a
// guest account, or a VM without running Tools, is
// ovm.ErrUnsupported; a VM that is not powered on ovm.ErrConflict. When ctx
// ends first the process is terminated.
func (d *Driver) Exec(ctx context.Context, ref hypervisor.Ref, spec hypervisor.ExecSpec) (hypervisor.ExecResult, error) {
	var f ovm.Fields
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		f.Add("command", "must name a program")
	}
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		if !envName.MatchString(k) {
			f.Addf("env."+k, "must be a shell variable name")
		}
	}
	var stdin []byte
	if spec.Stdin != nil {
		var err error
		if stdin, err = io.ReadAll(io.LimitReader(spec.Stdin, MaxExecInput+1)); err != nil {
			return hypervisor.ExecResult{}, fmt.Errorf("esxi: read the standard input of exec: %w", err)
		}
		if len(stdin) > MaxExecInput {
			f.Addf("stdin", "must be at most %d bytes", MaxExecInput)
		}
	}
	if err := f.Err("invalid exec"); err != nil {
		return hypervisor.ExecResult{}, err
	}
	if err := d.c.ready(ctx, "exec"); err != nil {
		return hypervisor.ExecResult{}, err
	}
	if d.c.cfg.GuestUser == "" {
		return hypervisor.ExecResult{}, ovm.Errorf(ovm.KindUnsupported,
			"esxi %s: no guest account is configured for VMware Tools guest operations (the host's guestUsername)", d.c.host)
	}
	vm, err := d.awaitTools(ctx, ref)
	if err != nil {
		return hypervisor.ExecResult{}, err
	}
	auth := &types.NamePasswordAuthentication{Username: d.c.cfg.GuestUser, Password: d.c.cfg.GuestPassword}
	tc, err := toolbox.NewClient(ctx, d.c.client, vm.Self, auth)
	if err != nil {
		return hypervisor.ExecResult{}, d.guestError(err, ref, "open guest operations")
	}
	// A directory of its own (MakeDirectoryInGuest, not the guest's
	// mktemp, which differs between guests).
	dir := "/tmp/ovm-exec-" + string(ovm.NewID())
	if err := tc.FileManager.MakeDirectory(ctx, auth, dir, false); err != nil {
		return hypervisor.ExecResult{}, d.guestError(err, ref, "make a directory in the guest")
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = tc.FileManager.DeleteDirectory(cctx, auth, dir, true)
	}()
	if len(stdin) > 0 {
		p := soap.DefaultUpload
		p.ContentLength = int64(len(stdin))
		if err := tc.Upload(ctx, bytes.NewReader(stdin), dir+"/stdin", p, &types.GuestPosixFileAttributes{}, true); err != nil {
			return hypervisor.ExecResult{}, d.guestError(err, ref, "upload stdin")
		}
	}
	prog := types.GuestProgramSpec{ProgramPath: "/bin/sh", Arguments: "-c " + shellQuote(execScript(spec, dir, len(stdin) > 0)), WorkingDirectory: "/"}
	pid, err := tc.ProcessManager.StartProgram(ctx, auth, &prog)
	if err != nil {
		return hypervisor.ExecResult{}, d.guestError(err, ref, "start %q", spec.Command[0])
	}
	var res hypervisor.ExecResult
	for {
		procs, err := tc.ProcessManager.ListProcesses(ctx, auth, []int64{pid})
		if err != nil {
			return res, d.guestError(err, ref, "read process %d", pid)
		}
		if len(procs) == 1 && procs[0].EndTime != nil {
			res.ExitCode = int(procs[0].ExitCode)
			break
		}
		select {
		case <-ctx.Done():
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			_ = tc.ProcessManager.TerminateProcess(kctx, auth, pid)
			cancel()
			return res, fmt.Errorf("esxi %s: exec in %s: %w", d.c.host, ref, ctx.Err())
		case <-time.After(execPoll):
		}
	}
	for _, out := range []struct {
		name string
		dst  *[]byte
	}{{"stdout", &res.Stdout}, {"stderr", &res.Stderr}} {
		r, _, err := tc.Download(ctx, dir+"/"+out.name)
		if err != nil {
			return res, d.guestError(err, ref, "download %s", out.name)
		}
		*out.dst, err = io.ReadAll(r)
		_ = r.Close()
		if err != nil {
			return res, d.guestError(err, ref, "download %s", out.name)
		}
	}
	return res, nil
}

// toolsWait bounds how long Exec waits for the Tools of a booting guest.
const toolsWait = 2 * time.Minute

// awaitTools returns the powered-on VM once its Tools run. Tools that are
// installed but not running yet (guest.toolsStatus toolsNotRunning: a
// guest still booting) are waited for, up to toolsWait and ctx; a VM
// without Tools is ovm.ErrUnsupported at once.
func (d *Driver) awaitTools(ctx context.Context, ref hypervisor.Ref) (mo.VirtualMachine, error) {
	deadline := time.Now().Add(toolsWait)
	for {
		vm, err := d.c.lookup(ctx, ref, []string{"runtime.powerState", "guest.toolsStatus", "guest.toolsRunningStatus"})
		if err != nil {
			return vm, err
		}
		if p := power(vm.Runtime.PowerState); p != ovm.PowerRunning {
			return vm, hypervisor.ErrPower(ref, "exec in", p)
		}
		if vm.Guest != nil && vm.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
			return vm, nil
		}
		if vm.Guest == nil || vm.Guest.ToolsStatus != types.VirtualMachineToolsStatusToolsNotRunning || time.Now().After(deadline) {
			return vm, ovm.Errorf(ovm.KindUnsupported,
				"esxi %s: exec in %s: VMware Tools guest operations are not available in the VM: its Tools are not running", d.c.host, ref)
		}
		select {
		case <-ctx.Done():
			return vm, fmt.Errorf("esxi %s: exec in %s: waiting for VMware Tools: %w", d.c.host, ref, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// guestError classifies a guest operations fault: Tools not running or a
// VM without them are ovm.ErrUnsupported, a refused guest login
// ovm.ErrInvalid, the host's other faults as always, and an operation the
// guest failed ovm.ErrUnavailable.
func (d *Driver) guestError(err error, ref hypervisor.Ref, format string, args ...any) error {
	what := fmt.Sprintf("exec in %s: ", ref) + fmt.Sprintf(format, args...)
	switch {
	case isFault[*types.GuestOperationsUnavailable](err), isFault[*types.ToolsUnavailable](err):
		return ovm.Wrap(ovm.KindUnsupported, err, "esxi %s: %s: VMware Tools guest operations are not available in the VM", d.c.host, what)
	case isFault[*types.InvalidGuestLogin](err), isFault[*types.GuestPermissionDenied](err):
		return ovm.Wrap(ovm.KindInvalid, err, "esxi %s: %s: the guest refused the host's guest account", d.c.host, what)
	}
	err = d.c.wrap(err, "%s", what)
	if ovm.KindOf(err) == ovm.KindInternal {
		// A guest operation the VM's Tools could not carry out.
		return ovm.Wrap(ovm.KindUnavailable, err, "esxi %s: the guest operation failed", d.c.host)
	}
	return err
}
