package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// benchInstance makes an environment with one ready instance and returns
// it with the tenant's token.
func benchInstance(b *testing.B, open func(testing.TB) store.Store) (*env, ovm.Instance, string) {
	e := newEnv(b, open(b))
	pl := e.setupPlatform(2)
	tn := e.newTenant("bench", pl.pool, ovm.Unlimited)
	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token, map[string]any{"name": "web", "spec": container(), "start": true}).decode(b, &it)
	e.waitTask(tn.token, it.Task.ID)
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(it.Instance.ID), tn.token, nil).decode(b, &inst)
	return e, inst, tn.token
}

// bareHandler serves the same JSON as GET /v1/instances/{id}, with nothing
// else: the floor the full stack is compared with.
func bareHandler(inst ovm.Instance) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"1"`)
		_ = json.NewEncoder(w).Encode(inst)
	})
}

// get sends one GET over a kept-alive connection and returns its latency.
func get(b *testing.B, c *http.Client, url, token string) time.Duration {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	res, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	d := time.Since(start)
	if res.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: status %d", url, res.StatusCode)
	}
	return d
}

func p50(ds []time.Duration) float64 {
	slices.Sort(ds)
	return float64(ds[len(ds)/2].Nanoseconds())
}

// BenchmarkGetInstance GETs one instance through the full stack (HTTP,
// huma, authentication, tenancy, the store: SQLite, and PostgreSQL under the
// integration tag) and, interleaved, the
// same JSON from a bare net/http handler, over loopback TCP. It reports
// both medians and their ratio (full/bare at p50).
func BenchmarkGetInstance(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) { benchGetInstance(b, be.open) })
	}
}

func benchGetInstance(b *testing.B, open func(testing.TB) store.Store) {
	e, inst, token := benchInstance(b, open)
	full := httptest.NewServer(e.h)
	defer full.Close()
	bare := httptest.NewServer(bareHandler(inst))
	defer bare.Close()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	fullURL, bareURL := full.URL+"/v1/instances/"+string(inst.ID), bare.URL+"/v1/instances/"+string(inst.ID)
	interleaved(b, c, fullURL, token, bareURL, 1)
}

// interleaved GETs fullURL (with token) and bareURL in turns, warm times
// each first, then b.N times each, and reports both medians and their
// ratio (full/bare at p50).
func interleaved(b *testing.B, c *http.Client, fullURL, token, bareURL string, warm int) {
	for range warm {
		get(b, c, fullURL, token)
		get(b, c, bareURL, "")
	}
	fulls := make([]time.Duration, 0, b.N)
	bares := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		fulls = append(fulls, get(b, c, fullURL, token))
		bares = append(bares, get(b, c, bareURL, ""))
	}
	b.StopTimer()
	f, bb := p50(fulls), p50(bares)
	b.ReportMetric(f, "p50-ns")
	b.ReportMetric(bb, "bare-p50-ns")
	b.ReportMetric(f/bb, "ratio-p50")
}

// BenchmarkGetInstanceBareHTTP GETs the same JSON from a bare net/http
// handler only, over loopback TCP.
func BenchmarkGetInstanceBareHTTP(b *testing.B) {
	inst := ovm.Instance{ID: ovm.NewID(), Name: "web", VDCID: ovm.NewID(), Spec: ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB,
		Image: ovm.ContainerImage("busybox:1")}, Status: ovm.InstanceStatus{Phase: ovm.PhaseReady, Power: ovm.PowerRunning}}
	bare := httptest.NewServer(bareHandler(inst))
	defer bare.Close()
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	url := bare.URL + "/v1/instances/" + string(inst.ID)
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		ds = append(ds, get(b, c, url, ""))
	}
	b.StopTimer()
	b.ReportMetric(p50(ds), "p50-ns")
}

// BenchmarkCreateInstance creates instances through the API with the task
// engine running them on fake hosts, 8 clients at once, and reports
// instances/s from the first request to the last task's end.
func BenchmarkCreateInstance(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) { benchCreateInstance(b, be.open) })
	}
}

func benchCreateInstance(b *testing.B, open func(testing.TB) store.Store) {
	e := newEnv(b, open(b))
	pl := e.setupPlatform(4)
	tn := e.newTenant("bench", pl.pool, ovm.Unlimited)
	ids := make([]ovm.ID, b.N)
	next := make(chan int)
	done := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range next {
				r := e.do("POST", "/v1/instances", tn.token, map[string]any{"name": fmt.Sprintf("b%06d", i), "spec": container(), "start": true})
				if r.status != http.StatusAccepted {
					b.Errorf("create %d: %s", i, r)
					continue
				}
				var it core.InstanceTask
				r.decode(b, &it)
				ids[i] = it.Task.ID
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	for range 8 {
		<-done
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "accepted/s")
	for _, id := range ids {
		if id != "" {
			t, err := core.NewSystem(e.svc).Tasks().Wait(b.Context(), id)
			require.NoError(b, err)
			require.Equal(b, ovm.TaskSucceeded, t.State)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "instances/s")
}

// BenchmarkGetInstanceHandler serves GET /v1/instances/{id} in process,
// without the network: the full stack's own cost per request.
func BenchmarkGetInstanceHandler(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			e, inst, token := benchInstance(b, be.open)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/v1/instances/"+string(inst.ID), nil)
				req.Header.Set("Authorization", "Bearer "+token)
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
