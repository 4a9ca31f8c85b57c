package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// FuzzParseIfMatch: "" and "*" are no condition; an accepted header names a
// positive version that its ETag (strong or weak) names again; anything
// else is a version mismatch (412), never a panic.
func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{"", "*", " * ", `"3"`, `W/"3"`, "3", `"0"`, `"-1"`, `"9223372036854775807"`, `"9223372036854775808"`,
		`W/`, `"`, `""`, `"3`, `"abc"`, `"3", "4"`, `+3`, "\t\"7\"\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		v, err := parseIfMatch(h)
		if err != nil {
			require.True(t, errors.Is(err, ovm.ErrConflict), "parseIfMatch(%q): %v is not a conflict", h, err)
			require.True(t, errors.Is(err, store.ErrVersionMismatch), "parseIfMatch(%q): %v is not a version mismatch", h, err)
			require.Zero(t, v)
			return
		}
		trimmed := strings.TrimSpace(h)
		if trimmed == "" || trimmed == "*" {
			require.Zero(t, v, "parseIfMatch(%q): no condition", h)
			return
		}
		require.Positive(t, v, "parseIfMatch(%q)", h)
		for _, tag := range []string{etag(v), "W/" + etag(v)} {
			again, err := parseIfMatch(tag)
			require.NoError(t, err, "parseIfMatch(%q) of the ETag of version %d", tag, v)
			require.Equal(t, v, again, "parseIfMatch(%q)", tag)
		}
	})
}

// fuzzAnswer sends a request and checks the answer: a status of want, a
// problem that decodes for errors, nothing leaked.
func fuzzAnswer(t *testing.T, e *env, method, path, token string, body []byte, want []int) resp {
	t.Helper()
	var b any
	if body != nil {
		b = body
	}
	r := e.doWith(t, method, path, token, b)
	if !slices.Contains(want, r.status) {
		t.Fatalf("%s %s with %q: got %s, want one of %v", method, path, body, r, want)
	}
	if !echoes(body) && !echoes([]byte(path)) {
		noLeak(t, r)
	}
	if r.status >= 400 {
		var p struct {
			Status int `json:"status"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil || p.Status != r.status {
			t.Fatalf("%s %s with %q: the problem %s does not decode or has status %d", method, path, body, r.body, p.Status)
		}
	}
	return r
}

// FuzzListCursor pages through GET /v1/instances with arbitrary cursor and
// limit parameters: a cursor that is not one the server hands out is 422;
// an accepted page holds at most limit items and its next cursor, when
// set, is accepted in turn.
func FuzzListCursor(f *testing.F) {
	for _, c := range [][2]string{{"", ""}, {"", "1"}, {"", "1000"}, {"", "1001"}, {"", "-1"}, {"", "x"}, {"00000000-0000-4000-8000-000000000000", "2"},
		{"ffffffff-ffff-4fff-bfff-ffffffffffff", ""}, {"not-a-cursor", "1"}, {"00000000-0000-4000-8000-00000000000G", ""}, {"%00", "1"}, {"\x00", "1e3"}} {
		f.Add(c[0], c[1])
	}
	e := newEnv(f, openSQLite(f))
	pl := e.setupPlatform(1)
	tn := e.newTenant("fuzz", pl.pool, quota)
	for i := range 3 {
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "i" + strconv.Itoa(i), "spec": container()})
	}
	f.Fuzz(func(t *testing.T, cursor, limit string) {
		q := url.Values{}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		if limit != "" {
			q.Set("limit", limit)
		}
		path := "/v1/instances?" + q.Encode()
		r := fuzzAnswer(t, e, "GET", path, tn.token, nil, []int{http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity})
		n, nerr := strconv.Atoi(limit)
		if r.status != http.StatusOK {
			require.True(t, (cursor != "" && !ovm.ID(cursor).Valid()) || (limit != "" && (nerr != nil || n < 0 || n > core.MaxLimit)),
				"GET %s: refused (%s) a good cursor and limit", path, r)
			goodLimit := limit == "" || (nerr == nil && n >= 0 && n <= core.MaxLimit)
			if r.status == http.StatusUnprocessableEntity && goodLimit && cursor != "" && !ovm.ID(cursor).Valid() {
				var p struct {
					Errors []struct {
						Location string `json:"location"`
					} `json:"errors"`
				}
				r.decode(t, &p)
				var locs []string
				for _, e := range p.Errors {
					locs = append(locs, e.Location)
				}
				require.Contains(t, locs, "query.cursor", "GET %s: the problem %s does not name the cursor parameter", path, r.body)
			}
			return
		}
		require.True(t, cursor == "" || ovm.ID(cursor).Valid(), "GET %s: accepted a cursor the server never returns", path)
		var pg core.Page[ovm.Instance]
		r.decode(t, &pg)
		if limit != "" && n > 0 {
			require.LessOrEqual(t, len(pg.Items), n, "GET %s: page longer than its limit", path)
		}
		for _, it := range pg.Items {
			require.True(t, cursor == "" || string(it.ID) > cursor, "GET %s: item %s is not after the cursor", path, it.ID)
		}
		if pg.Next != "" {
			require.True(t, ovm.ID(pg.Next).Valid(), "GET %s: next cursor %q", path, pg.Next)
			require.Contains(t, r.header.Get("Link"), url.QueryEscape(pg.Next))
			nr := e.doWith(t, "GET", "/v1/instances?cursor="+url.QueryEscape(pg.Next), tn.token, nil)
			require.Equal(t, http.StatusOK, nr.status, "GET with the next cursor %q: %s", pg.Next, nr)
		}
	})
}

// FuzzRegisterHostBody sends arbitrary bodies to POST /v1/hosts. A
// registered host has a valid name and kind and never returns its
// credentials.
func FuzzRegisterHostBody(f *testing.F) {
	e := newEnv(f, openSQLite(f))
	pl := e.setupPlatform(0)
	pool := string(pl.pool)
	for _, s := range []string{
		`{"name":"h1","kind":"fake","endpoint":"fake://h1","poolId":"` + pool + `","credentials":{"username":"root","password":"secret-pw"}}`,
		`{"name":"h2","kind":"fake","endpoint":"fake://h2","poolId":"` + pool + `","options":{"x":"y"}}`,
		`{"name":"k","kind":"kvm","endpoint":"qemu:///system","poolId":"` + pool + `","options":{"templates":"/t","disks":"/d"}}`,
		`{"name":"d","kind":"docker","endpoint":"http://x","poolId":"` + pool + `"}`,
		`{"name":"x","kind":"esxi","endpoint":"https://esx/sdk","poolId":"` + pool + `","credentials":{"thumbprint":"zz"}}`,
		`{"name":"Bad","kind":"vmware","endpoint":"","poolId":"nope"}`, `{"name":"h3","kind":"fake","endpoint":"fake://h3","poolId":"00000000-0000-4000-8000-000000000000"}`,
		`{}`, `[]`, `null`, `{`, ``, `{"name":"h","kind":"fake","endpoint":"fake://","poolId":"` + pool + `","credentials":{"certPem":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	statuses := []int{http.StatusCreated, http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge,
		http.StatusUnprocessableEntity, http.StatusNotImplemented, http.StatusServiceUnavailable}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := fuzzAnswer(t, e, "POST", "/v1/hosts", e.admin, body, statuses)
		if r.status >= 300 {
			return
		}
		var h ovm.Host
		r.decode(t, &h)
		require.Empty(t, ovm.ValidateName(h.Name), "registered host name %q", h.Name)
		require.True(t, h.Kind.Valid(), "registered host kind %q", h.Kind)
		require.True(t, h.ID.Valid())
		low := strings.ToLower(string(r.body))
		require.NotContains(t, low, "password", "a registered host shows its credentials: %s", r.body)
	})
}

// FuzzCreateVDCBody sends arbitrary bodies to POST /v1/vdcs. A created VDC
// has a valid name and a quota that passes Quota.Validate.
func FuzzCreateVDCBody(f *testing.F) {
	e := newEnv(f, openSQLite(f))
	pl := e.setupPlatform(0)
	pool := string(pl.pool)
	for _, s := range []string{
		`{"name":"v1","poolId":"` + pool + `","quota":{"cpuMilli":4000,"memoryBytes":1073741824,"diskBytes":0,"instances":5,"networks":1}}`,
		`{"name":"v2","poolId":"` + pool + `","quota":{}}`, `{"name":"v3","poolId":"` + pool + `","quota":{"cpuMilli":-1}}`,
		`{"name":"v4","poolId":"` + pool + `","quota":{"memoryBytes":1e300}}`, `{"name":"V","poolId":"x","quota":{}}`,
		`{"name":"v5","poolId":"00000000-0000-4000-8000-000000000000","quota":{}}`, `{"name":"v6","quota":{}}`, `{}`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	statuses := []int{http.StatusCreated, http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := fuzzAnswer(t, e, "POST", "/v1/vdcs", e.admin, body, statuses)
		if r.status >= 300 {
			return
		}
		var v ovm.VDC
		r.decode(t, &v)
		require.Empty(t, ovm.ValidateName(v.Name), "created vdc name %q", v.Name)
		require.NoError(t, v.Quota.Validate(), "created vdc quota %+v", v.Quota)
		require.Equal(t, pl.pool, v.PoolID)
	})
}

// FuzzCreateUserBody sends arbitrary bodies to POST /v1/users. A created
// user has a valid name and role, a VDC exactly when it is not an
// administrator, and logs in with the password it was given (or the one
// generated).
func FuzzCreateUserBody(f *testing.F) {
	e := newEnv(f, openSQLite(f))
	pl := e.setupPlatform(0)
	tn := e.newTenant("fuzz", pl.pool, quota)
	vdc := string(tn.vdc)
	for _, s := range []string{
		`{"name":"u1","role":"vdc-member","vdcId":"` + vdc + `","password":"a-long-password-1"}`,
		`{"name":"u2","role":"admin"}`, `{"name":"u3","role":"admin","vdcId":"` + vdc + `"}`, `{"name":"u4","role":"vdc-admin"}`,
		`{"name":"u5","role":"vdc-member","vdcId":"` + vdc + `","password":"short"}`, `{"name":"u6","role":"root","vdcId":"` + vdc + `"}`,
		`{"name":"U","role":"admin"}`, `{"name":"u7","role":"vdc-member","vdcId":"00000000-0000-4000-8000-000000000000"}`, `{}`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	statuses := []int{http.StatusCreated, http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusConflict,
		http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := fuzzAnswer(t, e, "POST", "/v1/users", e.admin, body, statuses)
		if r.status >= 300 {
			return
		}
		var u core.NewUser
		r.decode(t, &u)
		require.Empty(t, ovm.ValidateName(u.Name), "created user name %q", u.Name)
		require.True(t, u.Role.Valid(), "created user role %q", u.Role)
		require.Equal(t, u.Role == auth.RoleAdmin, u.VDCID.IsZero(), "user %+v: a VDC exactly when not an administrator", u.User)
		var in struct {
			Password string `json:"password"`
		}
		require.NoError(t, json.Unmarshal(body, &in))
		pw := in.Password
		if pw == "" {
			pw = u.Password
		}
		require.Empty(t, auth.ValidatePassword(pw), "user created with a password ValidatePassword refuses")
		lr := e.doWith(t, "POST", "/v1/login", "", map[string]string{"name": u.Name, "password": pw})
		require.Equal(t, http.StatusOK, lr.status, "login of the new user %q: %s", u.Name, lr)
	})
}

// FuzzCreateVolumeBody sends arbitrary bodies to POST /v1/volumes. A
// volume accepted for creation has a valid name and a positive size.
func FuzzCreateVolumeBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"v1","sizeBytes":1073741824}`, `{"name":"v2","sizeBytes":0}`, `{"name":"v3","sizeBytes":-5}`, `{"name":"v4","sizeBytes":1e30}`,
		`{"name":"v5","sizeBytes":9223372036854775807}`, `{"name":"v6","sizeBytes":1.5}`, `{"name":"V","sizeBytes":1}`,
		`{"name":"v7","sizeBytes":1,"vdcId":"00000000-0000-4000-8000-000000000000"}`, `{}`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, openSQLite(f))
	pl := e.setupPlatform(1)
	tn := e.newTenant("fuzz", pl.pool, ovm.Quota{CPU: ovm.CPUs(4), Memory: 4 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 20, Networks: 2})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := fuzzAnswer(t, e, "POST", "/v1/volumes", tn.token, body, append(slices.Clone(fuzzStatuses), http.StatusOK))
		if r.status >= 300 {
			return
		}
		var vt struct {
			Volume struct {
				Name string    `json:"name"`
				Size ovm.Bytes `json:"sizeBytes"`
			} `json:"volume"`
		}
		r.decode(t, &vt)
		require.Empty(t, ovm.ValidateName(vt.Volume.Name), "accepted volume name %q: %s", vt.Volume.Name, r.body)
		require.Positive(t, int64(vt.Volume.Size), "accepted volume size: %s", r.body)
	})
}

// FuzzDeployVAppBody sends arbitrary bodies to POST /v1/vapps. An accepted
// vApp passes ovm.VApp.Validate.
func FuzzDeployVAppBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"app","members":[{"name":"web","spec":{"type":"container","cpuMilli":100,"memoryBytes":16777216,"image":{"format":"oci","name":"busybox"}}}]}`,
		`{"name":"app2","antiAffinity":true,"members":[{"name":"a","spec":{"type":"container","cpuMilli":100,"memoryBytes":16777216,"image":{"format":"oci","name":"b"}}},{"name":"b","spec":{"type":"container","cpuMilli":100,"memoryBytes":16777216,"image":{"format":"oci","name":"b"}}}]}`,
		`{"name":"dup","members":[{"name":"a","spec":{}},{"name":"a","spec":{}}]}`, `{"name":"none","members":[]}`, `{"name":"Bad","members":null}`,
		`{"name":"x","vdcId":"x","members":[{"name":"m","spec":{"type":"vm","cpuMilli":1e300}}]}`, `{}`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, openSQLite(f))
	pl := e.setupPlatform(1)
	tn := e.newTenant("fuzz", pl.pool, ovm.Quota{CPU: ovm.CPUs(4), Memory: 4 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 20, Networks: 2})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := fuzzAnswer(t, e, "POST", "/v1/vapps", tn.token, body, append(slices.Clone(fuzzStatuses), http.StatusOK))
		if r.status >= 300 {
			return
		}
		var in struct {
			Name    string           `json:"name"`
			Members []ovm.VAppMember `json:"members"`
		}
		require.NoError(t, json.Unmarshal(body, &in))
		require.NoError(t, ovm.VApp{Name: in.Name, Members: in.Members}.Validate(), "accepted vapp %s", body)
	})
}
