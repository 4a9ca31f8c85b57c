package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// runningInstance creates and starts a container in tn's VDC and returns it.
func (e *env) runningInstance(tn tenant, name string) ovm.Instance {
	e.t.Helper()
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": name, "spec": container(), "start": true}).decode(e.t, &it)
	done := e.waitTask(tn.token, it.Task.ID)
	require.Equal(e.t, ovm.TaskSucceeded, done.State, "create %s: %+v", name, done)
	return it.Instance
}

// power runs a start or stop action and waits for its task.
func (e *env) power(token string, id ovm.ID, action string) {
	e.t.Helper()
	var at core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(id)+"/"+action, token, nil).decode(e.t, &at)
	done := e.waitTask(token, at.Task.ID)
	require.Equal(e.t, ovm.TaskSucceeded, done.State, "%s: %+v", action, done)
}

// TestExec runs commands inside a fake host's container through the API.
func TestExec(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	other := e.newTenant("other", pl.pool, quota)
	inst := e.runningInstance(tn, "web")
	path := "/v1/instances/" + string(inst.ID) + "/exec"

	for _, tt := range []struct {
		name string
		body map[string]any
		want core.ExecResult
	}{
		{"echo", map[string]any{"command": []string{"echo", "hello", "world"}}, core.ExecResult{Stdout: "hello world\n"}},
		{"exit status", map[string]any{"command": []string{"false"}}, core.ExecResult{ExitCode: 1}},
		{"not found", map[string]any{"command": []string{"nosuch"}}, core.ExecResult{ExitCode: 127, Stderr: "nosuch: command not found\n"}},
		{"stdin", map[string]any{"command": []string{"cat"}, "stdin": "typed\n"}, core.ExecResult{Stdout: "typed\n"}},
		{"env", map[string]any{"command": []string{"env"}, "env": map[string]string{"ZZ_OVM": "1"}}, core.ExecResult{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got core.ExecResult
			e.must(http.StatusOK, "POST", path, tn.token, tt.body).decode(t, &got)
			if tt.name == "env" {
				assert.Contains(t, got.Stdout, "ZZ_OVM=1\n", "env of the command")
				return
			}
			assert.Equal(t, tt.want, got)
		})
	}

	t.Run("bad input", func(t *testing.T) {
		for _, tt := range []struct {
			name  string
			body  any
			field string
		}{
			{"no command", map[string]any{"command": []string{}}, "body.command"},
			{"empty program", map[string]any{"command": []string{""}}, "body.command"},
			{"timeout too long", map[string]any{"command": []string{"true"}, "timeoutSeconds": 301}, "body.timeoutSeconds"},
			{"bad env name", map[string]any{"command": []string{"true"}, "env": map[string]string{"A=B": "x"}}, "body.env.A=B"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				p := problemOf(t, e.must(http.StatusUnprocessableEntity, "POST", path, tn.token, tt.body))
				assert.Contains(t, fieldLocations(p), tt.field, "problem names the field: %+v", p)
			})
		}
	})

	t.Run("other tenant", func(t *testing.T) {
		problemOf(t, e.must(http.StatusNotFound, "POST", path, other.token, map[string]any{"command": []string{"hostname"}}))
	})

	t.Run("stopped", func(t *testing.T) {
		e.power(tn.token, inst.ID, "stop")
		t.Cleanup(func() { e.power(tn.token, inst.ID, "start") })
		p := problemOf(t, e.must(http.StatusConflict, "POST", path, tn.token, map[string]any{"command": []string{"hostname"}}))
		assert.Contains(t, p.Detail, "stopped", "the conflict says why")
	})
}

// readSSE splits a Server-Sent Events body into its events.
func readSSE(t *testing.T, body []byte) (output string, events []string) {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			events = append(events, ev)
			continue
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && len(events) > 0 && events[len(events)-1] == "output" {
			var chunk string
			require.NoError(t, json.Unmarshal([]byte(data), &chunk), "output data is a JSON string: %s", data)
			output += chunk
		}
	}
	return output, events
}

// TestConsole reads a fake container's console through the API as text
// and as Server-Sent Events, bounded in bytes.
func TestConsole(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	other := e.newTenant("other", pl.pool, quota)
	inst := e.runningInstance(tn, "web")
	var admin ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(inst.ID), e.admin, nil).decode(t, &admin)
	banner := "OVM fake console: web-" + string(inst.ID.Short())
	path := "/v1/instances/" + string(inst.ID) + "/console"

	t.Run("text", func(t *testing.T) {
		r := e.must(http.StatusOK, "GET", path, tn.token, nil)
		assert.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
		assert.Contains(t, string(r.body), banner, "console output")
		assert.Contains(t, string(r.body), "login: ", "console output")
	})
	t.Run("max bytes", func(t *testing.T) {
		r := e.must(http.StatusOK, "GET", path+"?follow=true&maxBytes=10", tn.token, nil)
		assert.Equal(t, banner[:10], string(r.body), "the first 10 bytes only")
	})
	t.Run("follow ends at maxSeconds", func(t *testing.T) {
		r := e.must(http.StatusOK, "GET", path+"?follow=true&maxSeconds=1", tn.token, nil)
		assert.Contains(t, string(r.body), banner)
	})
	t.Run("events", func(t *testing.T) {
		r := e.must(http.StatusOK, "GET", path, tn.token, nil, "Accept", "text/event-stream")
		assert.Equal(t, "text/event-stream", r.header.Get("Content-Type"))
		out, events := readSSE(t, r.body)
		assert.Contains(t, out, banner, "output events")
		require.NotEmpty(t, events)
		assert.Equal(t, "end", events[len(events)-1], "the last event ends the stream: %v", events)
	})
	t.Run("bad input", func(t *testing.T) {
		for _, q := range []string{"?maxBytes=99999999999", "?maxSeconds=601", "?maxSeconds=-1", "?follow=maybe", "?tail=5"} {
			r := e.do("GET", path+q, tn.token, nil)
			assert.Contains(t, []int{http.StatusBadRequest, http.StatusUnprocessableEntity}, r.status, "GET console%s: got %s", q, r)
			problemOf(t, r)
		}
	})
	t.Run("other tenant", func(t *testing.T) {
		problemOf(t, e.must(http.StatusNotFound, "GET", path, other.token, nil))
	})
	t.Run("stopped", func(t *testing.T) {
		e.power(tn.token, inst.ID, "stop")
		t.Cleanup(func() { e.power(tn.token, inst.ID, "start") })
		problemOf(t, e.must(http.StatusConflict, "GET", path, tn.token, nil))
	})
	t.Run("creating", func(t *testing.T) {
		var h ovm.Host
		e.must(http.StatusOK, "GET", "/v1/hosts/"+string(admin.Status.HostID), e.admin, nil).decode(t, &h)
		fh, err := e.fakes.Host(h.Endpoint)
		require.NoError(t, err)
		fh.Hypervisor.SetLatency(300 * time.Millisecond) // the create task is still running while we ask
		t.Cleanup(func() { fh.Hypervisor.SetLatency(0) })
		var it core.InstanceTask
		e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "slow", "spec": container()}).decode(t, &it)
		p := problemOf(t, e.must(http.StatusConflict, "GET", "/v1/instances/"+string(it.Instance.ID)+"/console", tn.token, nil))
		assert.Contains(t, p.Detail, "creating")
		e.waitTask(tn.token, it.Task.ID)
	})
}

// bare hides every facet of a driver: the host kind can neither exec nor
// show a console.
type bare struct{ hypervisor.Driver }

// Capabilities announces no facet.
func (b bare) Capabilities() hypervisor.Capabilities {
	c := b.Driver.Capabilities()
	return hypervisor.Capabilities{InstanceTypes: c.InstanceTypes}
}

// TestExecConsoleUnsupported: a host whose driver has neither facet answers
// 501 naming what is missing.
func TestExecConsoleUnsupported(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	full := e.fakes.Factory()
	e.reg.Register(ovm.HostFake, func(ctx context.Context, h ovm.Host, c drivers.Credentials) (drivers.Conn, error) {
		conn, err := full(ctx, h, c)
		conn.Hypervisor = bare{conn.Hypervisor}
		return conn, err
	})
	pl := e.setupPlatform(1)
	tn := e.newTenant("acme", pl.pool, quota)
	inst := e.runningInstance(tn, "web")
	p := problemOf(t, e.must(http.StatusNotImplemented, "POST", "/v1/instances/"+string(inst.ID)+"/exec", tn.token,
		map[string]any{"command": []string{"hostname"}}))
	assert.Contains(t, p.Detail, "the host kind cannot exec")
	p = problemOf(t, e.must(http.StatusNotImplemented, "GET", "/v1/instances/"+string(inst.ID)+"/console", tn.token, nil))
	assert.Contains(t, p.Detail, "has no console")
}

// TestHostOptions: options reach the factory, which refuses unknown keys
// naming each one; the registered host shows its options.
func TestHostOptions(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	var got ovm.Host
	e.reg.Register(ovm.HostDocker, func(ctx context.Context, h ovm.Host, c drivers.Credentials) (drivers.Conn, error) {
		got = h
		fh, err := e.fakes.Host("fake://as-docker")
		if err != nil {
			return drivers.Conn{}, err
		}
		var f ovm.Fields
		for k := range h.Options {
			if k != "uplink" {
				f.Add("options."+k, "unknown option")
			}
		}
		if err := f.Err("invalid docker host"); err != nil {
			return drivers.Conn{}, err
		}
		return drivers.Conn{Hypervisor: fh.Hypervisor, Close: func() error { return nil }}, nil
	})
	pl := e.setupPlatform(0)
	body := func(name, kind string, opts map[string]string) map[string]any {
		return map[string]any{"name": name, "kind": kind, "endpoint": "fake://" + name, "poolId": pl.pool, "options": opts}
	}
	p := problemOf(t, e.must(http.StatusUnprocessableEntity, "POST", "/v1/hosts", e.admin, body("f1", "fake", map[string]string{"uplink": "eth1"})))
	require.Len(t, p.Errors, 1, "%+v", p)
	assert.Equal(t, "body.options.uplink", p.Errors[0].Location)
	assert.Contains(t, p.Errors[0].Message, "a fake host takes no options")

	p = problemOf(t, e.must(http.StatusUnprocessableEntity, "POST", "/v1/hosts", e.admin, body("d1", "docker", map[string]string{"bridge": "x"})))
	require.Len(t, p.Errors, 1, "%+v", p)
	assert.Equal(t, "body.options.bridge", p.Errors[0].Location)

	var h ovm.Host
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, body("d2", "docker", map[string]string{"uplink": "eth1"})).decode(t, &h)
	assert.Equal(t, map[string]string{"uplink": "eth1"}, h.Options, "the host's options")
	assert.Equal(t, map[string]string{"uplink": "eth1"}, got.Options, "the factory's options")
	var again ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(h.ID), e.admin, nil).decode(t, &again)
	assert.Equal(t, h.Options, again.Options, "options are stored")
}
