package fake

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// maxStdin bounds what cat reads from ExecSpec.Stdin.
const maxStdin = 1 << 20

// Exec runs a command of a tiny built-in set inside a running instance:
//
//	echo [-n] ARGS...  prints ARGS
//	true, false        exit 0, exit 1
//	hostname           prints the instance's hostname
//	cat                copies stdin to stdout (a file argument is not found, exit 1)
//	env                prints the instance's and the command's environment, sorted
//	sleep SECONDS      waits, bounded by ctx
//
// Any other command exits 127 with "command not found" on stderr, as a
// shell would. An empty command is ovm.ErrInvalid, a stopped instance
// ovm.ErrConflict.
func (d *Driver) Exec(ctx context.Context, ref hypervisor.Ref, spec hypervisor.ExecSpec) (hypervisor.ExecResult, error) {
	if err := d.gate(ctx, MethodExec); err != nil {
		return hypervisor.ExecResult{}, err
	}
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		return hypervisor.ExecResult{}, ovm.Invalid("invalid exec", ovm.FieldError{Field: "command", Reason: "must name a program"})
	}
	d.mu.Lock()
	r, err := d.lookupLocked(ref)
	if err == nil && !r.running() {
		err = hypervisor.ErrPower(ref, "exec in", r.inst.Power)
	}
	var env map[string]string
	var host string
	if err == nil {
		env = maps.Clone(r.spec.Spec.Env)
		host = r.hostname()
	}
	d.mu.Unlock()
	if err != nil {
		return hypervisor.ExecResult{}, err
	}
	if env == nil {
		env = map[string]string{}
	}
	env["HOSTNAME"] = host
	maps.Copy(env, spec.Env)
	return run(ctx, spec.Command[0], spec.Command[1:], spec.Stdin, env)
}

// run runs one built-in command.
func run(ctx context.Context, name string, args []string, stdin io.Reader, env map[string]string) (hypervisor.ExecResult, error) {
	var res hypervisor.ExecResult
	switch name {
	case "echo":
		nl := "\n"
		if len(args) > 0 && args[0] == "-n" {
			args, nl = args[1:], ""
		}
		res.Stdout = []byte(strings.Join(args, " ") + nl)
	case "true":
	case "false":
		res.ExitCode = 1
	case "hostname":
		res.Stdout = []byte(env["HOSTNAME"] + "\n")
	case "cat":
		if len(args) > 0 {
			res.ExitCode = 1
			res.Stderr = fmt.Appendf(nil, "cat: %s: No such file or directory\n", args[0])
			break
		}
		if stdin != nil {
			b, err := io.ReadAll(io.LimitReader(stdin, maxStdin))
			if err != nil {
				return res, fmt.Errorf("exec cat: read stdin: %w", err)
			}
			res.Stdout = b
		}
	case "env":
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(env)) {
			fmt.Fprintf(&b, "%s=%s\n", k, env[k])
		}
		res.Stdout = []byte(b.String())
	case "sleep":
		secs := -1.0
		if len(args) == 1 {
			if f, err := strconv.ParseFloat(args[0], 64); err == nil {
				secs = f
			}
		}
		if secs < 0 || secs > 86400 {
			res.ExitCode = 1
			res.Stderr = []byte("sleep: invalid time interval\n")
			break
		}
		timer := time.NewTimer(time.Duration(secs * float64(time.Second)))
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("exec sleep: %w", ctx.Err())
		case <-timer.C:
		}
	default:
		res.ExitCode = 127
		res.Stderr = fmt.Appendf(nil, "%s: command not found\n", name)
	}
	return res, nil
}
