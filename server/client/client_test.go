package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
	"github.com/openovm/ovm/server/client/clienttest"
)

// setup starts an API with a datacenter, a pool, the fake host h1 and a
// tenant with quota q; it returns the administrator's and the tenant's
// clients.
func setup(t *testing.T, q ovm.Quota) (*clienttest.Server, *client.Client, *client.Client) {
	t.Helper()
	ctx := t.Context()
	srv := clienttest.Start(t)
	anon, err := client.New(srv.URL, "", nil)
	require.NoError(t, err)
	sess, err := anon.Login(ctx, srv.AdminName, srv.AdminPassword)
	require.NoError(t, err, "admin login")
	admin := anon.WithToken(sess.Token)
	dc, err := admin.CreateDatacenter(ctx, apitypes.DatacenterCreate{Name: "dc1"})
	require.NoError(t, err)
	pool, err := admin.CreatePool(ctx, apitypes.PoolCreate{Name: "pool1", DatacenterID: dc.ID})
	require.NoError(t, err)
	_, err = admin.RegisterHost(ctx, apitypes.HostRegister{Name: "h1", Kind: ovm.HostFake, Endpoint: "fake://h1", PoolID: pool.ID})
	require.NoError(t, err)
	vdc, err := admin.CreateVDC(ctx, apitypes.VDCCreate{Name: "acme", PoolID: pool.ID, Quota: q})
	require.NoError(t, err)
	_, err = admin.CreateUser(ctx, apitypes.UserCreate{Name: "alice", Role: "vdc-admin", VDCID: vdc.ID, Password: "tenant-password-1"})
	require.NoError(t, err)
	ts, err := anon.Login(ctx, "alice", "tenant-password-1")
	require.NoError(t, err)
	return srv, admin, anon.WithToken(ts.Token)
}

func container(name string) apitypes.InstanceCreate {
	return apitypes.InstanceCreate{Name: name, Spec: ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1")}}
}

var quota = ovm.Quota{CPU: ovm.CPUs(4), Memory: 8 * ovm.GiB, Disk: ovm.TiB, Instances: 10, Networks: 5}

// TestProblems: the server's refusals decode into *Problem whose message
// names each field once.
func TestProblems(t *testing.T) {
	_, _, tenant := setup(t, quota)
	ctx := t.Context()
	big := container("big")
	big.Spec.CPU = ovm.CPUs(8)
	tests := []struct {
		name   string
		call   func() error
		status int
		fields []string // errors[] locations
		want   []string // in Error()
	}{
		{"invalid cidr", func() error {
			_, err := tenant.CreateNetwork(ctx, apitypes.NetworkCreate{Name: "n1", Subnet: "10.0.0.0/33"})
			return err
		}, 422, []string{"body.subnet"}, []string{"invalid network: subnet: must be a CIDR", "(422 Unprocessable Entity)"}},
		{"huma validation", func() error {
			_, err := client.Call[ovm.Network](ctx, tenant, client.Request{Method: "POST", Path: "/v1/networks", Body: []byte(`{"name":"n1","subnet":"10.0.0.0/24","colour":"red"}`)})
			return err
		}, 422, []string{"body.colour"}, []string{"colour: unexpected property", `(got {"colour":"red"`}},
		{"quota exceeded", func() error { _, err := tenant.CreateInstance(ctx, big); return err },
			403, []string{"quota.cpuMilli"}, []string{"quota exceeded: cpuMilli: needs 8 vCPU"}},
		{"not found", func() error { _, err := tenant.GetInstance(ctx, ovm.NewID()); return err },
			404, nil, []string{"not found (404 Not Found)"}},
		{"unauthenticated", func() error { _, err := tenant.WithToken("bogus").Me(ctx); return err },
			401, nil, []string{"(401 Unauthorized)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var p *client.Problem
			require.ErrorAs(t, err, &p, "got %v, want a *Problem", err)
			assert.Equal(t, tc.status, p.Status, "status")
			assert.Equal(t, tc.status, client.StatusOf(err))
			assert.NotEmpty(t, p.RequestID, "the request id is kept")
			var locs []string
			for _, f := range p.Errors {
				locs = append(locs, f.Location)
			}
			for _, f := range tc.fields {
				assert.Contains(t, locs, f, "errors[] locations")
			}
			for _, w := range tc.want {
				assert.Contains(t, p.Error(), w, "message")
			}
			for _, f := range p.Errors {
				assert.LessOrEqual(t, strings.Count(p.Error(), f.Message), 1, "each field once in %q", p.Error())
			}
		})
	}
	assert.True(t, client.IsNotFound(tests[3].call()), "IsNotFound")
}

func TestProblemMessage(t *testing.T) {
	tests := []struct {
		name string
		p    client.Problem
		want string
	}{
		{"detail and fields", client.Problem{Status: 422, Detail: "validation failed", Errors: []client.ProblemField{
			{Location: "body.name", Message: "must be lower-case", Value: "Bad_Name"}, {Location: "query.limit", Message: "too big"}}},
			`validation failed: name: must be lower-case (got "Bad_Name"); query.limit: too big (422 Unprocessable Entity)`},
		{"fields already in the detail", client.Problem{Status: 422, Detail: "invalid network: subnet: must be a CIDR", Errors: []client.ProblemField{
			{Location: "body.subnet", Message: "must be a CIDR"}}}, "invalid network: subnet: must be a CIDR (422 Unprocessable Entity)"},
		{"title only", client.Problem{Status: 503, Title: "Service Unavailable"}, "Service Unavailable (503 Service Unavailable)"},
		{"nothing", client.Problem{}, "request failed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.p.Error())
		})
	}
}

// TestNonProblemAnswer: an error page that is not a problem still becomes
// a *Problem with its status and first line.
func TestNonProblemAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<h1>Bad Gateway</h1>\n<p>upstream down</p>"))
	}))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL, "t", nil)
	require.NoError(t, err)
	_, err = c.Me(t.Context())
	var p *client.Problem
	require.ErrorAs(t, err, &p)
	assert.Equal(t, http.StatusBadGateway, p.Status)
	assert.Equal(t, "<h1>Bad Gateway</h1> (502 Bad Gateway)", p.Error())
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "://nope"} {
		_, err := client.New(u, "", nil)
		assert.Error(t, err, "New(%q)", u)
	}
}

// TestAllFollowsNext: All reads every page of a list.
func TestAllFollowsNext(t *testing.T) {
	_, _, tenant := setup(t, quota)
	ctx := t.Context()
	for i := range 5 {
		_, err := tenant.CreateNetwork(ctx, apitypes.NetworkCreate{Name: fmt.Sprintf("n%d", i), Subnet: fmt.Sprintf("10.%d.0.0/24", i)})
		require.NoError(t, err)
	}
	pg, err := client.List[ovm.Network](ctx, tenant, "/v1/networks", client.ListOptions{Limit: 2})
	require.NoError(t, err)
	assert.Len(t, pg.Items, 2, "one page")
	assert.NotEmpty(t, pg.Next, "a next cursor")
	all, err := client.All[ovm.Network](ctx, tenant, "/v1/networks", client.ListOptions{Limit: 2})
	require.NoError(t, err)
	seen := map[ovm.ID]bool{}
	for _, n := range all {
		seen[n.ID] = true
	}
	assert.Len(t, seen, 5, "distinct networks over 3 pages")
}

// TestIdempotencyKey: a create retried with the same key makes one
// instance.
func TestIdempotencyKey(t *testing.T) {
	_, _, tenant := setup(t, quota)
	ctx := t.Context()
	in := container("web")
	in.IdempotencyKey = "retry-me"
	a, err := tenant.CreateInstance(ctx, in)
	require.NoError(t, err)
	b, err := tenant.CreateInstance(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, a.Instance.ID, b.Instance.ID, "the retry returns the first instance")
	is, err := tenant.ListInstances(ctx, client.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, is, 1)
}

// TestWatchTask: the watch streams progress to the final state, and polls
// when the event stream is unavailable.
func TestWatchTask(t *testing.T) {
	srv, _, tenant := setup(t, quota)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	srv.Host(t, "fake://h1").Hypervisor.SetLatency(50 * time.Millisecond)

	it, err := tenant.CreateInstance(ctx, container("web"))
	require.NoError(t, err)
	var states []ovm.TaskState
	final, err := tenant.WatchTask(ctx, it.Task.ID, func(tk ovm.Task) { states = append(states, tk.State) })
	require.NoError(t, err)
	assert.Equal(t, ovm.TaskSucceeded, final.State)
	require.NotEmpty(t, states)
	assert.Equal(t, ovm.TaskSucceeded, states[len(states)-1], "the last change is final: %v", states)

	// A proxy that refuses event streams: the watch polls instead.
	target, err := url.Parse(srv.URL)
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	var refused atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/events") {
			refused.Add(1)
			http.Error(w, "streaming disabled", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	viaProxy, err := client.New(proxy.URL, "", nil)
	require.NoError(t, err)
	tok, err := tenant.CreateToken(ctx, "proxy", 0)
	require.NoError(t, err)
	viaProxy = viaProxy.WithToken(tok.Token)
	viaProxy.PollInterval = 10 * time.Millisecond
	st, err := viaProxy.InstanceAction(ctx, it.Instance.ID, "start")
	require.NoError(t, err)
	changes := 0
	final, err = viaProxy.WatchTask(ctx, st.Task.ID, func(ovm.Task) { changes++ })
	require.NoError(t, err)
	assert.Equal(t, ovm.TaskSucceeded, final.State, "polled to the end")
	assert.Equal(t, int32(1), refused.Load(), "the stream was tried once")
	assert.Positive(t, changes)

	// Another tenant's task, or none: the problem, not a poll loop.
	_, err = tenant.WatchTask(ctx, ovm.NewID(), nil)
	assert.True(t, client.IsNotFound(err), "watch of an unknown task: %v", err)

	// A cancelled watch stops.
	it2, err := tenant.CreateInstance(ctx, container("web2"))
	require.NoError(t, err)
	cctx, ccancel := context.WithCancel(ctx)
	ccancel()
	_, err = tenant.WatchTask(cctx, it2.Task.ID, nil)
	assert.True(t, errors.Is(err, context.Canceled), "cancelled watch: %v", err)
}
