// Package fake is an in-memory network driver: it keeps real state
// (segments and their attachments), is safe for concurrent use, passes the
// whole networktest conformance suite with no exceptions, and has fault
// knobs for the tests of its callers: SetUnreachable makes every call fail
// with ovm.ErrUnavailable, FailNext makes the next call of one method fail
// with a given error. Options narrow what it announces (no VLAN, no
// IPv6), and it then refuses those networks as a real engine would.
package fake
