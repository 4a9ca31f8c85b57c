package core

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
	"github.com/openovm/ovm/server/auth"
)

func TestHostTextRedact(t *testing.T) {
	h := &hostText{needles: []string{"unix:///var/run/docker.sock", "qemu+tcp://127.0.0.2/system", "0a1b2c3d-0000-4000-8000-000000000001",
		"/var/run/docker.sock", "127.0.0.2", "0a1b2c3d", "docker1", "h1"}}
	tests := []struct{ name, in, want string }{
		{"nothing to hide", "created web-1", "created web-1"},
		{"a host name", "pulled image busybox:1 onto host docker1", "pulled image busybox:1 onto host (host)"},
		{"a name inside a longer word stays", "sha1 of h1x and xh1 is h1", "sha1 of h1x and xh1 is (host)"},
		{"an endpoint", "cannot connect to qemu+tcp://127.0.0.2/system: refused", "cannot connect to (host): refused"},
		{"a socket path", "dial unix /var/run/docker.sock: no such file", "dial unix (host): no such file"},
		{"an address", "dial tcp 127.0.0.2:16509: refused", "dial tcp (host):16509: refused"},
		{"an id and its short form", "host 0a1b2c3d-0000-4000-8000-000000000001 (0a1b2c3d) failed", "host (host) ((host)) failed"},
		{"several at once", "docker1 at unix:///var/run/docker.sock", "(host) at (host)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, h.redact(tc.in))
		})
	}
}

func TestNoRoom(t *testing.T) {
	nf := &placement.NoFitError{Request: "big", Rejections: []placement.Rejection{{HostID: "x", HostName: "h1", Reason: "cpu: need 50 vCPU, 2 vCPU free"}}}
	req := placement.Request{Name: "big", Demand: ovm.Resources{CPU: ovm.CPUs(50), Memory: 4 * ovm.GiB}}
	tenant := auth.Principal{UserID: "u", Role: auth.RoleVDCMember, VDCID: "v"}
	admin := auth.Principal{UserID: "a", Role: auth.RoleAdmin}

	err := noRoom(tenant, nf, req)
	assert.Equal(t, `the pool has no room for "big": 50 vCPU, 4GiB memory`, err.Error())
	assert.ErrorIs(t, err, ovm.ErrUnavailable)
	assert.NotContains(t, err.Error(), "h1")
	assert.Same(t, error(nf), noRoom(admin, nf, req), "administrators read every host's reason")
	other := errors.New("boom")
	assert.Same(t, other, noRoom(tenant, other, req), "other errors pass")
}

func TestWithoutReplicas(t *testing.T) {
	task := ovm.Task{Log: []ovm.TaskLogEntry{{Message: "started on db-7.example-1234-ab12cd34"}, {Message: "resumed on web-2-99-ffee0011 at step create"},
		{Message: "resumed on web-2-99-ffee0011, rolling back"}, {Message: "created web-1"}}}
	got := withoutReplicas(task)
	var msgs []string
	for _, l := range got.Log {
		msgs = append(msgs, l.Message)
	}
	assert.Equal(t, []string{"started", "resumed at step create", "resumed, rolling back", "created web-1"}, msgs)
	assert.Equal(t, "started on db-7.example-1234-ab12cd34", task.Log[0].Message, "the task read is not changed")
}
