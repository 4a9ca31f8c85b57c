package docker

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// FuzzSSHArgv: for an ssh:// endpoint sshArgv accepts, the ssh command
// line ends with "--", the host and the remote command, so that nothing
// taken from the URL can be read as an ssh option; it carries -p PORT and
// -l USER exactly when the URL names them. Refusals are ovm.ErrInvalid
// naming the field "host".
func FuzzSSHArgv(f *testing.F) {
	for _, s := range []string{"ssh://h", "ssh://root@h:2222", "ssh://u@[::1]:22/", "ssh://-oProxyCommand=x", "ssh://-l@h", "ssh://h/path",
		"ssh://h?x=1", "ssh://", "ssh://:22", "ssh://u:pw@h", "ssh://%2Doevil@h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		argv, err := sshArgv(u, SSHOptions{Args: []string{"-o", "BatchMode=yes"}})
		if err != nil {
			require.True(t, errors.Is(err, ovm.ErrInvalid), "sshArgv(%q): %v", s, err)
			fs := ovm.FieldsOf(err)
			require.Len(t, fs, 1)
			require.Equal(t, "host", fs[0].Field)
			return
		}
		require.NotEmpty(t, u.Hostname())
		require.True(t, u.Path == "" || u.Path == "/")
		require.Empty(t, u.RawQuery)
		n := len(argv)
		require.GreaterOrEqual(t, n, 6)
		require.Equal(t, "ssh", argv[0])
		require.Equal(t, []string{"--", u.Hostname(), "docker", "system", "dial-stdio"}, argv[n-5:], "sshArgv(%q) = %q", s, argv)
		opts := argv[1 : n-5]
		require.Equal(t, u.Port() != "", slices.Contains(opts, "-p"), "sshArgv(%q) = %q", s, argv)
		if p := u.Port(); p != "" {
			i := slices.Index(opts, "-p")
			require.Equal(t, p, opts[i+1])
		}
		user := u.User != nil && u.User.Username() != ""
		require.Equal(t, user, slices.Contains(opts, "-l"), "sshArgv(%q) = %q", s, argv)
		if user {
			i := slices.Index(opts, "-l")
			require.Equal(t, u.User.Username(), opts[i+1])
		}
		require.Equal(t, []string{"-o", "BatchMode=yes"}, opts[len(opts)-2:], "the caller's arguments come last before --")
	})
}

// FuzzConnectEndpoint: Connect with a cancelled context checks the
// endpoint and never reaches an engine. An endpoint it refuses is
// ovm.ErrInvalid; one it takes is a unix, npipe, tcp or ssh URL (ssh with
// a host and without a path or query).
func FuzzConnectEndpoint(f *testing.F) {
	for _, s := range []string{"unix:///var/run/docker.sock", "tcp://127.0.0.1:2375", "ssh://u@h", "ssh://h/x", "http://h", "h:2375", "::", "npipe:////./pipe/x",
		"tcp://[::1]:1", "unix://", "tcp://h:notaport", "ssh://"} {
		f.Add(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.Fuzz(func(t *testing.T, host string) {
		if host == "" {
			return // the environment's engine
		}
		d, err := Connect(ctx, Options{Host: host, SSH: SSHOptions{Command: []string{"false"}}})
		require.Error(t, err, "Connect(%q) with a cancelled context", host)
		require.Nil(t, d)
		if errors.Is(err, ovm.ErrInvalid) {
			return
		}
		u, perr := url.Parse(host)
		require.NoError(t, perr, "Connect(%q) took an endpoint that does not parse: %v", host, err)
		require.Contains(t, []string{"unix", "npipe", "tcp", "ssh"}, u.Scheme, "Connect(%q): %v", host, err)
		if u.Scheme == "ssh" {
			require.NotEmpty(t, u.Hostname())
			require.True(t, u.Path == "" || u.Path == "/")
			require.Empty(t, u.RawQuery)
		}
	})
}
