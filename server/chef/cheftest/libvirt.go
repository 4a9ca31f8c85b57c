package cheftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// AgentInitrd makes an initramfs for the libvirt test guest: base (the
// guest's initrd.gz, see scripts/testguest.sh) followed by a second
// compressed cpio archive holding the converge stand-in at AgentPath (the
// kernel unpacks both, one over the other). It is written into dir, which
// libvirt's QEMU must be able to read, and removed when the test ends.
func AgentInitrd(t testing.TB, base, dir string) string {
	t.Helper()
	bin := BuildAgent(t)
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(AgentPath)), 0o755))
	b, err := os.ReadFile(bin)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, AgentPath), b, 0o755))
	f, err := os.CreateTemp(dir, "ovm-chef-initrd-*.gz")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.Remove(f.Name()) })
	in, err := os.ReadFile(base)
	require.NoError(t, err, "read the guest's initramfs")
	_, err = f.Write(in)
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), "sh", "-c", "find usr | cpio -o -H newc 2>/dev/null | gzip -1")
	cmd.Dir, cmd.Stdout = root, f
	require.NoError(t, cmd.Run(), "pack the converge stand-in (cpio, gzip)")
	require.NoError(t, f.Close())
	require.NoError(t, os.Chmod(f.Name(), 0o644))
	return f.Name()
}
