package hypervisor

import (
	"context"
	"io"
)

// TerminalSpec is an interactive command to run inside an instance with a
// terminal.
type TerminalSpec struct {
	// Command is the program and its arguments (a shell when empty is the
	// caller's choice: the driver requires one).
	Command []string
	// Cols and Rows are the terminal's size; zero keeps the engine's.
	Cols, Rows uint
}

// Terminal is an interactive command's terminal: reads give what it
// prints, writes are what is typed; Resize changes its size. Close ends the
// session (the command is left to end with its terminal).
type Terminal interface {
	io.ReadWriteCloser
	Resize(ctx context.Context, cols, rows uint) error
}

// Terminaler is the interactive-exec facet: a command with a terminal
// inside a running instance (containers: docker exec -it).
type Terminaler interface {
	Terminal(ctx context.Context, ref Ref, spec TerminalSpec) (Terminal, error)
}
