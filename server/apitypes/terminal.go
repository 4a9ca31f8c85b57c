package apitypes

import "time"

// TerminalMode says what a terminal session reaches.
type TerminalMode string

const (
	// TerminalSerial is the instance's console: a VM's serial console, a
	// container's attached standard streams.
	TerminalSerial TerminalMode = "serial"
	// TerminalExec is a command run with a terminal inside the instance
	// (containers), a shell by default.
	TerminalExec TerminalMode = "exec"
	// TerminalVNC is a VM's graphical display: the RFB (VNC) protocol in
	// binary messages, for a VNC client such as noVNC.
	TerminalVNC TerminalMode = "vnc"
)

// TerminalModes are the modes, for the API's enum.
var TerminalModes = []TerminalMode{TerminalSerial, TerminalExec, TerminalVNC}

// TerminalTicketRequest asks for a ticket to open a terminal session (the
// WebSocket GET /v1/instances/{id}/terminal) on an instance.
type TerminalTicketRequest struct {
	Mode    TerminalMode `json:"mode" required:"true" doc:"serial: the instance's console (a VM's serial console, a container's attached streams); exec: a command run with a terminal inside a container; vnc: a KVM VM's graphical display (RFB)."`
	Command []string     `json:"command,omitempty" maxItems:"256" doc:"The command of an exec session (default [\"/bin/sh\"]); none for serial."`
	Cols    uint         `json:"cols,omitempty" maximum:"1000" doc:"The terminal's width in columns."`
	Rows    uint         `json:"rows,omitempty" maximum:"1000" doc:"The terminal's height in rows."`
}

// TerminalTicket is a short-lived, single-use ticket that opens one
// terminal session.
type TerminalTicket struct {
	Ticket    string    `json:"ticket" doc:"The ticket: pass it as the ticket query parameter of the WebSocket URL."`
	URL       string    `json:"url" doc:"The WebSocket's path with the ticket, relative to the API's origin (ws: or wss:)."`
	ExpiresAt time.Time `json:"expiresAt" doc:"The ticket opens a session until then, once."`
}
