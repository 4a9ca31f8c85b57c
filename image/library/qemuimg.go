package library

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// fdPath is how qemu-img sees the file handed to it: its first extra file
// descriptor. qemu-img then reads exactly the file the library opened, not
// whatever a path names by the time it runs.
const fdPath = "/dev/fd/3"

// qemuInfo is what the library reads of `qemu-img info --output=json`.
type qemuInfo struct {
	Format          string `json:"format"`
	VirtualSize     int64  `json:"virtual-size"`
	BackingFilename string `json:"backing-filename"`
	FormatSpecific  struct {
		Data struct {
			DataFile string `json:"data-file"`
			Extents  []struct {
				Filename string `json:"filename"`
			} `json:"extents"`
		} `json:"data"`
	} `json:"format-specific"`
}

// inspection is a template file's format and virtual size, or why the
// file cannot be a template of the format its name gives.
type inspection struct {
	virtualSize ovm.Bytes
	// refused is why the file is not a template of the wanted format:
	// another format, or a file that reads other files (a backing file, an
	// external data file, a VMDK extent elsewhere). Empty when it is one.
	refused string
}

// inspect runs qemu-img info on f and checks that it is a self-contained
// image of format want. qemu-img info opens no backing file.
func (l *Library) inspect(ctx context.Context, f *os.File, want ovm.ImageFormat) (inspection, error) {
	tool, err := exec.LookPath(l.qemuImg)
	if err != nil {
		return inspection{}, ovm.Errorf(ovm.KindUnavailable, "reading templates needs qemu-img (Debian package qemu-utils): %w", err)
	}
	cmd := exec.CommandContext(ctx, tool, "info", "--output=json", "--force-share", fdPath)
	cmd.ExtraFiles = []*os.File{f}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return inspection{}, ctx.Err()
		}
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			// qemu-img could not make sense of the file.
			return inspection{refused: "qemu-img cannot read it: " + strings.TrimSpace(stderr.String())}, nil
		}
		return inspection{}, ovm.Internal(err, "running qemu-img info")
	}
	var info qemuInfo
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		return inspection{}, ovm.Internal(err, "reading the output of qemu-img info")
	}
	in := inspection{virtualSize: ovm.Bytes(info.VirtualSize)}
	switch {
	case info.Format != string(want):
		in.refused = fmt.Sprintf("the bytes are a %s image, the name says %s", info.Format, want)
	case info.BackingFilename != "":
		in.refused = "a template must not have a backing file"
	case info.FormatSpecific.Data.DataFile != "":
		in.refused = "a template must not have an external data file"
	}
	for _, e := range info.FormatSpecific.Data.Extents {
		if in.refused == "" && e.Filename != fdPath {
			in.refused = "a template must not have extents in other files"
		}
	}
	return in, nil
}
