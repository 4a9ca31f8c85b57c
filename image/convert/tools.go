package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// Tool is an external program the conversions run, and the Debian package
// that provides it.
type Tool struct {
	Name    string // program name, looked up in PATH
	Package string // Debian package to install when it is missing
}

// The tools the conversions need.
var (
	ToolMke2fs  = Tool{Name: "mke2fs", Package: "e2fsprogs"}
	ToolDebugfs = Tool{Name: "debugfs", Package: "e2fsprogs"}
	ToolQemuImg = Tool{Name: "qemu-img", Package: "qemu-utils"}
)

// lookPath resolves a tool, or fails with ovm.ErrUnavailable naming the
// package to install.
func lookPath(t Tool) (string, error) {
	p, err := exec.LookPath(t.Name)
	if err != nil {
		return "", ovm.Wrap(ovm.KindUnavailable, err, "%s is not installed on this server: install the %s package (apt-get install %s)", t.Name, t.Package, t.Package)
	}
	return p, nil
}

// lookTools checks that every tool a conversion needs is installed, before
// it starts.
func lookTools(ts ...Tool) error {
	for _, t := range ts {
		if _, err := lookPath(t); err != nil {
			return err
		}
	}
	return nil
}

// run runs a tool and returns its standard output; a failure carries the
// tool's own error text.
func run(ctx context.Context, t Tool, args ...string) ([]byte, error) {
	out, _, err := runBoth(ctx, t, args...)
	return out, err
}

// runBoth runs a tool and returns its standard output and error, for tools
// that report some failures on standard error only (debugfs).
func runBoth(ctx context.Context, t Tool, args ...string) ([]byte, []byte, error) {
	p, err := lookPath(t)
	if err != nil {
		return nil, nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("%s: %w", t.Name, ctx.Err())
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, nil, ovm.Internal(err, "%s %s: %s", t.Name, strings.Join(args, " "), strings.TrimSpace(stderr.String()))
		}
		return nil, nil, ovm.Internal(err, "%s", t.Name)
	}
	return stdout.Bytes(), stderr.Bytes(), nil
}
