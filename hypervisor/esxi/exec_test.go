package esxi

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// TestExecRefusals checks what Exec refuses before a guest operation runs,
// on the simulator: bad input, a host without a guest account, a VM that
// is off, a VM without Tools, and it waits for Tools installed but not
// running yet (the simulator runs guest
// operations only in container-backed VMs; TestChefESXi in server/api runs
// them there).
func TestExecRefusals(t *testing.T) {
	h := newHost(t)
	c := h.admin(t)
	h.makeTemplate(t, c)
	plain := h.dial(t)
	h.cfg.GuestUser, h.cfg.GuestPassword = "root", "guest-pw"
	d := h.dial(t)
	assert.False(t, plain.Capabilities().Exec, "no guest account: no exec")
	assert.True(t, d.Capabilities().Exec, "a guest account: exec")
	spec := vmSpec("ovmt-exec-" + ovm.NewID().Short())
	_, err := d.Create(t.Context(), spec)
	require.NoError(t, err)
	ref := hypervisor.ByID(spec.ID)
	t.Cleanup(func() { _ = d.Delete(t.Context(), ref) })

	for _, tt := range []struct {
		name string
		d    *Driver
		spec hypervisor.ExecSpec
		want error
		text string
	}{
		{"no command", d, hypervisor.ExecSpec{}, ovm.ErrInvalid, "command"},
		{"bad env name", d, hypervisor.ExecSpec{Command: []string{"true"}, Env: map[string]string{"A B": "x"}}, ovm.ErrInvalid, "env.A B"},
		{"stdin too large", d, hypervisor.ExecSpec{Command: []string{"cat"}, Stdin: strings.NewReader(strings.Repeat("x", MaxExecInput+1))},
			ovm.ErrInvalid, "stdin"},
		{"no guest account", plain, hypervisor.ExecSpec{Command: []string{"true"}}, ovm.ErrUnsupported, "guestUsername"},
		{"stopped", d, hypervisor.ExecSpec{Command: []string{"true"}}, ovm.ErrConflict, "stopped"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.d.Exec(t.Context(), ref, tt.spec)
			require.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.text)
		})
	}
	require.NoError(t, d.Start(t.Context(), ref))
	_, err = d.Exec(t.Context(), ref, hypervisor.ExecSpec{Command: []string{"true"}})
	require.ErrorIs(t, err, ovm.ErrUnsupported, "a VM without Tools")
	assert.Contains(t, err.Error(), "Tools are not running")

	// Tools installed but not running yet (a booting guest): Exec waits.
	vm, err := d.c.lookup(t.Context(), ref, []string{"name"})
	require.NoError(t, err)
	reg := h.model.Map()
	sctx := &simulator.Context{Context: t.Context(), Map: reg, Session: &simulator.Session{Registry: simulator.NewRegistry(), Map: reg}}
	reg.AtomicUpdate(sctx, reg.Get(vm.Self), []types.PropertyChange{
		{Name: "guest.toolsStatus", Val: types.VirtualMachineToolsStatusToolsNotRunning},
		{Name: "guest.toolsRunningStatus", Val: string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)},
	})
	short, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	_, err = d.Exec(short, ref, hypervisor.ExecSpec{Command: []string{"true"}})
	require.ErrorIs(t, err, context.DeadlineExceeded, "waiting for the Tools of a booting guest")
	assert.Contains(t, err.Error(), "waiting for VMware Tools")
}

// TestGuestInfo checks the cloud-init guestinfo a VM with user-data gets
// in its extraConfig, and that a VM without user-data gets none.
func TestGuestInfo(t *testing.T) {
	h := newHost(t)
	c := h.admin(t)
	h.makeTemplate(t, c)
	d := h.dial(t)
	for _, tt := range []struct {
		name     string
		userData string
		want     map[string]string
	}{
		{"user-data", "#cloud-config\nruncmd: [true]\n", map[string]string{
			KeyGuestUserData: "#cloud-config\nruncmd: [true]\n", KeyGuestUserData + ".encoding": "base64", KeyGuestMetadata + ".encoding": "base64"}},
		{"none", "", map[string]string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := vmSpec("ovmt-gi-" + ovm.NewID().Short())
			spec.Spec.UserData, spec.Spec.Hostname = tt.userData, "web-1"
			_, err := d.Create(t.Context(), spec)
			require.NoError(t, err)
			t.Cleanup(func() { _ = d.Delete(t.Context(), hypervisor.ByID(spec.ID)) })
			vm, err := d.c.lookup(t.Context(), hypervisor.ByID(spec.ID), []string{"name"})
			require.NoError(t, err)
			var props mo.VirtualMachine
			require.NoError(t, object.NewVirtualMachine(c, vm.Self).Properties(t.Context(), vm.Self, []string{"config.extraConfig"}, &props))
			got := map[string]string{}
			for _, o := range props.Config.ExtraConfig {
				v := o.GetOptionValue()
				if !strings.HasPrefix(v.Key, "guestinfo.") {
					continue
				}
				s := v.Value.(string)
				if v.Key == KeyGuestUserData {
					b, err := base64.StdEncoding.DecodeString(s)
					require.NoError(t, err)
					s = string(b)
				}
				if v.Key == KeyGuestMetadata {
					b, err := base64.StdEncoding.DecodeString(s)
					require.NoError(t, err)
					assert.JSONEq(t, `{"instance-id": "`+string(spec.ID)+`", "local-hostname": "web-1"}`, string(b))
					continue
				}
				got[v.Key] = s
			}
			assert.Equal(t, tt.want, got)
		})
	}
}
