//go:build integration

package portal_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/app"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/config"
)

// server is an in-process OVM server (embedded store, fake hosts allowed)
// with the administrator logged in through the API.
type server struct {
	*app.Server
	url   string
	admin string
}

var cheap = auth.Argon2idParams{Memory: 1024, Time: 1, Threads: 1, KeyLen: 32, SaltLen: 16}

func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	cfg, err := config.Load(append([]string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--fake-hosts"}, args...), func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	s, err := app.Start(context.Background(), app.Options{Config: cfg, Argon2: cheap})
	require.NoError(t, err, "start the server")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	srv := &server{Server: s, url: s.URL()}
	srv.admin = srv.login(t, "admin", s.AdminPassword())
	return srv
}

func (s *server) login(t *testing.T, name, password string) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	s.must(t, http.StatusOK, "POST", "/v1/login", "", map[string]string{"name": name, "password": password}, &out)
	return out.Token
}

// must makes one API request, requires its status and decodes the body
// into out.
func (s *server) must(t *testing.T, status int, method, path, token string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, r)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, status, resp.StatusCode, "%s %s: %s", method, path, b)
	if out != nil {
		require.NoError(t, json.Unmarshal(b, out), "%s %s: %s", method, path, b)
	}
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// platform makes a datacenter, a pool, a VDC with a quota and a tenant
// (vdc-admin) in it; it returns the pool's and the VDC's ids.
func (s *server) platform(t *testing.T, tenant, password string) (pool, vdc string) {
	t.Helper()
	var dc, p, v idName
	s.must(t, http.StatusCreated, "POST", "/v1/datacenters", s.admin, map[string]any{"name": "dc1"}, &dc)
	s.must(t, http.StatusCreated, "POST", "/v1/pools", s.admin, map[string]any{"name": "pool1", "datacenterId": dc.ID, "policy": "PERFORMANCE"}, &p)
	q := map[string]any{"cpuMilli": 8000, "memoryBytes": 8 << 30, "diskBytes": 100 << 30, "instances": 100, "networks": 4}
	s.must(t, http.StatusCreated, "POST", "/v1/vdcs", s.admin, map[string]any{"name": "acme", "poolId": p.ID, "quota": q}, &v)
	s.must(t, http.StatusCreated, "POST", "/v1/users", s.admin, map[string]any{"name": tenant, "role": "vdc-admin", "vdcId": v.ID, "password": password}, nil)
	return p.ID, v.ID
}

// response is an answer of the API the page received.
type response struct {
	url  string
	body string
}

// browser is a headless Chromium driven over the DevTools protocol, with a
// fresh profile, recording every API response its pages receive.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string
	mu    sync.Mutex
	resp  []response // guarded by mu
	wg    sync.WaitGroup
}

type void = chromedp.Action[chromedp.Void]

func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := testEnv(t, "OVM_TEST_CHROMIUM")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx, shots: os.Getenv("OVM_TEST_PORTAL_SHOTS")}
	if b.shots == "" {
		b.shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(b.shots, 0o755))
	t.Cleanup(func() {
		b.wg.Wait()
		cancel()
		cancelAlloc()
	})
	urls := map[network.RequestID]string{}
	var umu sync.Mutex
	err := chromedp.Listen(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *network.EventResponseReceived:
			if strings.Contains(ev.Response.URL, "/v1/") {
				umu.Lock()
				urls[ev.RequestID] = ev.Response.URL
				umu.Unlock()
			}
		case *network.EventLoadingFinished:
			umu.Lock()
			u, ok := urls[ev.RequestID]
			delete(urls, ev.RequestID)
			umu.Unlock()
			if ok {
				b.wg.Go(func() { b.record(u, ev.RequestID) })
			}
		}
	})
	require.NoError(t, err, "start the browser")
	return b
}

// record keeps the body of one API response.
func (b *browser) record(url string, id network.RequestID) {
	c := chromedp.FromContext(b.ctx)
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	r, err := cdp.Call(ctx, c.Target, network.GetResponseBody, network.GetResponseBodyParams{RequestID: id})
	if err != nil {
		return // the page went away with its responses
	}
	b.mu.Lock()
	b.resp = append(b.resp, response{url: url, body: string(r.Body)})
	b.mu.Unlock()
}

// do runs steps, failing the test after a minute.
func (b *browser) do(steps ...void) {
	b.t.Helper()
	b.doFor(time.Minute, steps...)
}

func (b *browser) doFor(d time.Duration, steps ...void) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.failed()
		require.NoError(b.t, err)
	}
}

// failed saves what the page shows when a step failed.
func (b *browser) failed() {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		p := filepath.Join(b.shots, "failure-"+strings.ReplaceAll(b.t.Name(), "/", "-")+".png")
		_ = os.WriteFile(p, png, 0o644)
		b.t.Logf("the page when the step failed: %s", p)
	}
}

func run[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	require.NoError(b.t, err)
	return v
}

// responses are the API responses received so far.
func (b *browser) responses() []response {
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]response(nil), b.resp...)
}

// shot writes a screenshot of the whole page as NAME.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	b.do(chromedp.Sleep(200 * time.Millisecond))
	png := run(b, chromedp.FullScreenshot(100))
	p := filepath.Join(b.shots, name+".png")
	require.NoError(b.t, os.WriteFile(p, png, 0o644))
	b.t.Logf("screenshot %s", p)
}

// text is the text of the first element sel matches, once visible.
func (b *browser) text(sel string) string {
	b.t.Helper()
	b.do(chromedp.WaitVisible(chromedp.CSS(sel)))
	return run(b, chromedp.Text(chromedp.CSS(sel)))
}

// html is the page's whole DOM.
func (b *browser) html() string {
	b.t.Helper()
	return run(b, chromedp.OuterHTML(chromedp.CSS("html")))
}

// js runs a statement in the page.
func js(stmt string) void {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool]("(() => {"+stmt+"; return true })()")(ctx, t)
		return chromedp.Void{}, err
	}
}

// choose selects value in the select sel as a user does (a change event).
func choose(sel, value string) void {
	return js(fmt.Sprintf(`const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event("change", {bubbles: true}))`, sel, value))
}

// chooseText selects the option of sel whose text contains text.
func chooseText(sel, text string) void {
	return chromedp.Steps(waitFor(fmt.Sprintf(`[...document.querySelectorAll(%q)].some(o => o.text.includes(%q))`, sel+" option", text)), js(fmt.Sprintf(`const e = document.querySelector(%q); const o = [...e.options].find(o => o.text.includes(%q)); if (!o) throw new Error("no option " + %q); e.value = o.value; e.dispatchEvent(new Event("change", {bubbles: true}))`, sel, text, text)))
}

// waitFor waits until the expression is true in the page.
func waitFor(expr string) void { return chromedp.Poll[chromedp.Void](expr) }

// fill replaces the value of the input sel by typing value.
func fill(sel, value string) void {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS(sel)),
		js(fmt.Sprintf(`const e = document.querySelector(%q); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true}))`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), value),
	)
}

func click(sel string) void { return chromedp.Click(chromedp.CSS(sel)) }

func visible(sel string) void { return chromedp.WaitVisible(chromedp.CSS(sel)) }

func gone(sel string) void { return chromedp.WaitNotPresent(chromedp.CSS(sel)) }

// login logs in through the login form and waits for the navigation.
func (b *browser) login(url, name, password string) {
	b.t.Helper()
	b.do(
		chromedp.Navigate(url+"/login"),
		fill("#login-name", name),
		fill("#login-password", password),
		click(`form button[type="submit"]`),
		visible("nav.side"),
		// The portal asks before deleting; the tests answer yes.
		js(`window.confirm = () => true`),
	)
}

// goTo follows the navigation link to path and waits for the page.
func (b *browser) goTo(path string) {
	b.t.Helper()
	b.do(
		click(fmt.Sprintf(`nav.side a[href=%q]`, path)),
		visible(fmt.Sprintf(`nav.side a[href=%q][aria-current="page"]`, path)),
		visible("#page-title"),
		gone(".loading"),
	)
}

func (b *browser) setLang(lang string) {
	b.t.Helper()
	b.do(choose("select.lang", lang), chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`html[lang^=%q]`, lang))))
}

// axeViolation is one rule axe-core found broken on a page.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// axe runs axe-core (from the portal's npm packages) on the current page
// and returns its serious and critical violations; it fails the test when
// axe checked no rule.
func (b *browser) axe(src string) []axeViolation {
	b.t.Helper()
	if !run(b, chromedp.Evaluate[bool](`typeof window.axe === "object"`)) {
		run(b, chromedp.Evaluate[bool](src+"\n;true"))
	}
	res := run(b, chromedp.Evaluate[struct {
		Passes     int            `json:"passes"`
		Violations []axeViolation `json:"violations"`
	}](`axe.run(document).then(r => ({passes: r.passes.length, violations: r.violations.filter(v => v.impact === "serious" || v.impact === "critical")}))`, chromedp.EvalAwaitPromise))
	require.Positive(b.t, res.Passes, "axe-core checked the page")
	return res.Violations
}

// reload reloads the page and answers yes to its questions again.
func reload() void {
	return chromedp.Steps(chromedp.Reload(), visible("nav.side"), js(`window.confirm = () => true`))
}

// shotName turns a path into a part of a file name.
func shotName(path string) string {
	return strings.NewReplacer("/admin/", "-", "/", "-").Replace(path)
}

func navigate(url string) void { return chromedp.Navigate(url) }

// jsValue evaluates an expression in the page.
func jsValue[T any](expr string) chromedp.Action[T] { return chromedp.Evaluate[T](expr) }
