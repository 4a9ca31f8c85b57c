// Command goclient runs a tenant's scenario against an OVM server through
// the client that oapi-codegen generates from the server's OpenAPI document
// (package ovmapi, written next to this file by the contract test): log in,
// make a network, create and start an instance on it, wait for its task,
// find it in the list, page the tokens, delete the instance and the network,
// and find the tasks of those changes in the task list.
// Every request and answer goes through the generated code; nothing here
// writes or reads JSON. Every answer is also checked against the document
// the server serves (kin-openapi's openapi3filter): a status it does not
// declare, a required field missing, a value outside an enum or a format
// fails the step. It exits 1 with the step that failed.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/openovm/ovm/server/api/testdata/contract/goclient/ovmapi"
)

func main() {
	server := flag.String("server", "", "the OVM server's base URL")
	user := flag.String("user", "", "a tenant user's name")
	password := flag.String("password", "", "its password")
	timeout := flag.Duration("timeout", 2*time.Minute, "how long the whole scenario may take")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *server, *user, *password); err != nil {
		fmt.Fprintln(os.Stderr, "scenario:", err)
		os.Exit(1)
	}
	fmt.Println("scenario: ok")
}

// answer is what every generated response has.
type answer interface{ StatusCode() int }

// expect fails unless the call succeeded with status want.
func expect(step string, r answer, err error, want int) error {
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	if r.StatusCode() != want {
		body := ""
		if b, ok := r.(interface{ Body() []byte }); ok {
			body = string(b.Body())
		}
		return fmt.Errorf("%s: status %d, want %d %s", step, r.StatusCode(), want, body)
	}
	return nil
}

// id fails on the zero UUID: an answer's id is required and a generated
// client decodes a missing one to the zero value.
func id(step string, u openapi_types.UUID) (openapi_types.UUID, error) {
	if u == (openapi_types.UUID{}) {
		return u, fmt.Errorf("%s: no id in the answer", step)
	}
	return u, nil
}

func ptr[T any](v T) *T { return &v }

// checked is a transport that fails every answer the served document does
// not allow for its request.
type checked struct {
	next   http.RoundTripper
	router routers.Router
}

// newChecked loads the document the server serves and routes on it.
func newChecked(ctx context.Context, server string) (*http.Client, error) {
	loc, err := url.Parse(server + "/openapi.json")
	if err != nil {
		return nil, fmt.Errorf("the document: %w", err)
	}
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromURI(loc)
	if err != nil {
		return nil, fmt.Errorf("the document: %w", err)
	}
	// huma annotates patterns with patternDescription, a keyword JSON
	// Schema 2020-12 lets through as an annotation.
	extra := openapi3.AllowExtraSiblingFields("patternDescription")
	if err := doc.Validate(ctx, extra); err != nil {
		return nil, fmt.Errorf("the document is not valid OpenAPI: %w", err)
	}
	// The document's server is "/", relative to where it is served.
	doc.Servers = openapi3.Servers{{URL: server}}
	router, err := legacy.NewRouter(doc, extra)
	if err != nil {
		return nil, fmt.Errorf("routes of the document: %w", err)
	}
	return &http.Client{Transport: checked{next: http.DefaultTransport, router: router}}, nil
}

func (c checked) RoundTrip(r *http.Request) (*http.Response, error) {
	route, params, err := c.router.FindRoute(r)
	if err != nil {
		return nil, fmt.Errorf("%s %s is not in the document: %w", r.Method, r.URL.Path, err)
	}
	res, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", r.Method, r.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(r.Context(), in.SetBodyBytes(body)); err != nil {
		return nil, fmt.Errorf("%s %s: the %d answer breaks the document: %w\n%s", r.Method, r.URL.Path, res.StatusCode, err, body)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

func run(ctx context.Context, server, user, password string) error {
	hc, err := newChecked(ctx, server)
	if err != nil {
		return err
	}
	anon, err := ovmapi.NewClientWithResponses(server, ovmapi.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	login, err := anon.LoginWithResponse(ctx, ovmapi.LoginJSONRequestBody{Name: user, Password: password})
	if err := expect("login", login, err, http.StatusOK); err != nil {
		return err
	}
	if login.JSON200 == nil || login.JSON200.Token == "" {
		return errors.New("login: no token in the answer")
	}
	if login.JSON200.User.Name != user {
		return fmt.Errorf("login: the session is %q's, not %s's", login.JSON200.User.Name, user)
	}
	token := login.JSON200.Token
	c, err := ovmapi.NewClientWithResponses(server, ovmapi.WithHTTPClient(hc), ovmapi.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+token)
		return nil
	}))
	if err != nil {
		return err
	}

	me, err := c.GetMeWithResponse(ctx)
	if err := expect("get-me", me, err, http.StatusOK); err != nil {
		return err
	}
	if me.JSON200 == nil || me.JSON200.Name != user {
		return fmt.Errorf("get-me: the token is not %s's", user)
	}
	if me.JSON200.Role != ovmapi.VdcAdmin || me.JSON200.VdcId == nil {
		return fmt.Errorf("get-me: %s is %q of VDC %v, want a VDC's %q", user, me.JSON200.Role, me.JSON200.VdcId, ovmapi.VdcAdmin)
	}

	nw, err := c.CreateNetworkWithResponse(ctx, &ovmapi.CreateNetworkParams{IdempotencyKey: ptr("scenario-network")},
		ovmapi.CreateNetworkJSONRequestBody{Name: "scenario-net", Subnet: "10.77.0.0/24", Gateway: ptr("10.77.0.1")})
	if err := expect("create-network", nw, err, http.StatusCreated); err != nil {
		return err
	}
	netID, err := id("create-network", nw.JSON201.Id)
	if err != nil {
		return err
	}

	created, err := c.CreateInstanceWithResponse(ctx, &ovmapi.CreateInstanceParams{IdempotencyKey: ptr("scenario-instance")},
		ovmapi.CreateInstanceJSONRequestBody{Name: "scenario-web", Start: ptr(true), Spec: ovmapi.InstanceSpecInput{
			Type: ptr(ovmapi.InstanceTypeContainer), CpuMilli: ptr(int64(100)), MemoryBytes: ptr(int64(16 << 20)),
			Image: &ovmapi.ImageRefInput{Format: ptr(ovmapi.Oci), Name: ptr("busybox:1")},
			Nics:  &[]ovmapi.NICSpecInput{{NetworkId: &netID}},
		}})
	if err := expect("create-instance", created, err, http.StatusAccepted); err != nil {
		return err
	}
	if created.JSON202.Task == nil {
		return errors.New("create-instance: the answer lacks the task that starts the instance")
	}
	instID, err := id("create-instance", created.JSON202.Instance.Id)
	if err != nil {
		return err
	}
	if spec := created.JSON202.Instance.Spec; spec.Type != ovmapi.InstanceTypeContainer || spec.Image.Format != ovmapi.Oci ||
		spec.Nics == nil || len(*spec.Nics) != 1 || (*spec.Nics)[0].NetworkId != netID {
		return fmt.Errorf("create-instance: the answer's spec is not the one asked for: %+v", spec)
	}
	if err := wait(ctx, c, "create-instance", *created.JSON202.Task, ovmapi.TaskKindInstanceCreate, instID); err != nil {
		return err
	}

	got, err := c.GetInstanceWithResponse(ctx, instID)
	if err := expect("get-instance", got, err, http.StatusOK); err != nil {
		return err
	}
	if st := got.JSON200.Status; st.Power != ovmapi.PowerStateRunning || st.Phase != ovmapi.PhaseReady {
		return fmt.Errorf("get-instance: not ready and running after its create task: %+v", st)
	}
	if got.JSON200.Status.HostId != nil {
		return errors.New("get-instance: a tenant sees the instance's host")
	}
	if err := listed(ctx, c, instID); err != nil {
		return err
	}
	if err := pageTokens(ctx, c); err != nil {
		return err
	}

	del, err := c.DeleteInstanceWithResponse(ctx, instID, &ovmapi.DeleteInstanceParams{})
	if err := expect("delete-instance", del, err, http.StatusAccepted); err != nil {
		return err
	}
	if del.JSON202.Task == nil {
		return errors.New("delete-instance: no task in the answer")
	}
	if err := wait(ctx, c, "delete-instance", *del.JSON202.Task, ovmapi.TaskKindInstanceDelete, instID); err != nil {
		return err
	}
	gone, err := c.GetInstanceWithResponse(ctx, instID)
	if err := expect("get-instance after delete", gone, err, http.StatusNotFound); err != nil {
		return err
	}
	if p := gone.ApplicationproblemJSON404; p == nil || p.Status != http.StatusNotFound || p.Title == "" {
		return fmt.Errorf("get-instance after delete: the 404 is not a problem: %s", gone.Body)
	}
	dn, err := c.DeleteNetworkWithResponse(ctx, netID, &ovmapi.DeleteNetworkParams{})
	if err := expect("delete-network", dn, err, http.StatusNoContent); err != nil {
		return err
	}
	return tasksDone(ctx, c, map[ovmapi.TaskKind]openapi_types.UUID{
		ovmapi.TaskKindInstanceCreate: instID, ovmapi.TaskKindInstanceDelete: instID, ovmapi.TaskKindNetworkDelete: netID,
	})
}

// wait checks that task is the kind of change asked for on target, then
// polls it until it is final and fails unless it succeeded.
func wait(ctx context.Context, c *ovmapi.ClientWithResponses, step string, task ovmapi.Task, kind ovmapi.TaskKind, target openapi_types.UUID) error {
	taskID, err := id(step+" task", task.Id)
	if err != nil {
		return err
	}
	if task.Kind != kind || task.TargetId == nil || *task.TargetId != target {
		return fmt.Errorf("%s: task %s is %q on %v, want %q on %s", step, taskID, task.Kind, task.TargetId, kind, target)
	}
	for {
		t, err := c.GetTaskWithResponse(ctx, taskID)
		if err := expect("get-task", t, err, http.StatusOK); err != nil {
			return err
		}
		state := t.JSON200.State
		if !state.Valid() {
			return fmt.Errorf("%s: task %s is in state %q, which the document does not declare", step, taskID, state)
		}
		switch state {
		case ovmapi.TaskStateSucceeded:
			if t.JSON200.Progress != 100 || t.JSON200.FinishedAt == nil {
				return fmt.Errorf("%s: task %s succeeded at %d%%, finished at %v", step, taskID, t.JSON200.Progress, t.JSON200.FinishedAt)
			}
			return nil
		case ovmapi.TaskStateFailed, ovmapi.TaskStateRolledBack:
			msg := ""
			if t.JSON200.Error != nil {
				msg = *t.JSON200.Error
			}
			return fmt.Errorf("%s: task %s ended %s: %s", step, taskID, state, msg)
		case ovmapi.TaskStatePending, ovmapi.TaskStateRunning, ovmapi.TaskStateRollingBack:
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: task %s still %q: %w", step, taskID, state, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listed finds the instance in the list, one item a page.
func listed(ctx context.Context, c *ovmapi.ClientWithResponses, inst openapi_types.UUID) error {
	params := &ovmapi.ListInstancesParams{Limit: ptr(int64(1))}
	for range 100 {
		pg, err := c.ListInstancesWithResponse(ctx, params)
		if err := expect("list-instances", pg, err, http.StatusOK); err != nil {
			return err
		}
		if pg.JSON200.Items == nil || len(*pg.JSON200.Items) > 1 {
			return fmt.Errorf("list-instances: a page of limit 1 holds %v", pg.JSON200.Items)
		}
		for _, it := range *pg.JSON200.Items {
			if it.Id == inst {
				return nil
			}
		}
		if pg.JSON200.Next == nil || *pg.JSON200.Next == "" {
			break
		}
		params.Cursor = pg.JSON200.Next
	}
	return fmt.Errorf("list-instances: instance %s is on no page", inst)
}

// tasksDone reads the tenant's tasks two a page, finds the task of each
// kind of change the scenario made on its target and waits for it to
// succeed (the network's segments leave the hosts after the 204).
func tasksDone(ctx context.Context, c *ovmapi.ClientWithResponses, want map[ovmapi.TaskKind]openapi_types.UUID) error {
	params := &ovmapi.ListTasksParams{Limit: ptr(int64(2))}
	found := map[ovmapi.TaskKind]ovmapi.Task{}
	for range 100 {
		pg, err := c.ListTasksWithResponse(ctx, params)
		if err := expect("list-tasks", pg, err, http.StatusOK); err != nil {
			return err
		}
		if pg.JSON200.Items == nil || len(*pg.JSON200.Items) > 2 {
			return fmt.Errorf("list-tasks: a page of limit 2 holds %v", pg.JSON200.Items)
		}
		for _, t := range *pg.JSON200.Items {
			if target, ok := want[t.Kind]; ok && t.TargetId != nil && *t.TargetId == target {
				found[t.Kind] = t
			}
		}
		if pg.JSON200.Next == nil || *pg.JSON200.Next == "" {
			break
		}
		params.Cursor = pg.JSON200.Next
	}
	for kind, target := range want {
		t, ok := found[kind]
		if !ok {
			return fmt.Errorf("list-tasks: no %s task on %s", kind, target)
		}
		if err := wait(ctx, c, "list-tasks", t, kind, target); err != nil {
			return err
		}
	}
	return nil
}

// pageTokens reads the caller's tokens one a page: at least the session of
// this scenario, each once.
func pageTokens(ctx context.Context, c *ovmapi.ClientWithResponses) error {
	params := &ovmapi.ListTokensParams{Limit: ptr(int64(1))}
	seen := map[openapi_types.UUID]bool{}
	session := false
	for range 100 {
		pg, err := c.ListTokensWithResponse(ctx, params)
		if err := expect("list-tokens", pg, err, http.StatusOK); err != nil {
			return err
		}
		if pg.JSON200.Items == nil || len(*pg.JSON200.Items) > 1 {
			return fmt.Errorf("list-tokens: a page of limit 1 holds %v", pg.JSON200.Items)
		}
		for _, t := range *pg.JSON200.Items {
			if t.Id == (openapi_types.UUID{}) || seen[t.Id] {
				return fmt.Errorf("list-tokens: token %s without an id or on two pages", t.Id)
			}
			seen[t.Id] = true
			session = session || t.Session
		}
		if pg.JSON200.Next == nil || *pg.JSON200.Next == "" {
			if !session {
				return errors.New("list-tokens: not even this session")
			}
			return nil
		}
		params.Cursor = pg.JSON200.Next
	}
	return errors.New("list-tokens: the pages do not end")
}
