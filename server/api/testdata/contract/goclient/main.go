// Command goclient runs a tenant's scenario against an OVM server through
// the client that oapi-codegen generates from the server's OpenAPI document
// (package ovmapi, written next to this file by the contract test): log in,
// make a network, create and start an instance on it, wait for its task,
// find it in the list, page the tokens, delete the instance and the network.
// Every request and answer goes through the generated code; nothing here
// writes or reads JSON. It exits 1 with the step that failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

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

// uuid reads an id of an answer as the UUID the path parameters take.
func uuid(step string, s *string) (openapi_types.UUID, error) {
	var u openapi_types.UUID
	if s == nil {
		return u, fmt.Errorf("%s: no id in the answer", step)
	}
	if err := u.UnmarshalText([]byte(*s)); err != nil {
		return u, fmt.Errorf("%s: id %q: %w", step, *s, err)
	}
	return u, nil
}

func ptr[T any](v T) *T { return &v }

func run(ctx context.Context, server, user, password string) error {
	anon, err := ovmapi.NewClientWithResponses(server)
	if err != nil {
		return err
	}
	login, err := anon.LoginWithResponse(ctx, ovmapi.LoginJSONRequestBody{Name: user, Password: password})
	if err := expect("login", login, err, http.StatusOK); err != nil {
		return err
	}
	if login.JSON200 == nil || login.JSON200.Token == nil {
		return errors.New("login: no token in the answer")
	}
	token := *login.JSON200.Token
	c, err := ovmapi.NewClientWithResponses(server, ovmapi.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
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
	if me.JSON200 == nil || me.JSON200.Name == nil || *me.JSON200.Name != user {
		return fmt.Errorf("get-me: the token is not %s's", user)
	}

	nw, err := c.CreateNetworkWithResponse(ctx, &ovmapi.CreateNetworkParams{IdempotencyKey: ptr("scenario-network")},
		ovmapi.NetworkBody{Name: "scenario-net", Subnet: "10.77.0.0/24", Gateway: ptr("10.77.0.1")})
	if err := expect("create-network", nw, err, http.StatusCreated); err != nil {
		return err
	}
	netID, err := uuid("create-network", nw.JSON201.Id)
	if err != nil {
		return err
	}

	netRef := netID.String()
	created, err := c.CreateInstanceWithResponse(ctx, &ovmapi.CreateInstanceParams{IdempotencyKey: ptr("scenario-instance")},
		ovmapi.InstanceBody{Name: "scenario-web", Start: ptr(true), Spec: ovmapi.InstanceSpec{
			Type: ptr("container"), CpuMilli: ptr(int64(100)), MemoryBytes: ptr(int64(16 << 20)),
			Image: &ovmapi.ImageRef{Format: ptr("oci"), Name: ptr("busybox:1")},
			Nics:  &[]ovmapi.NICSpec{{NetworkId: &netRef}},
		}})
	if err := expect("create-instance", created, err, http.StatusAccepted); err != nil {
		return err
	}
	if created.JSON202.Instance == nil || created.JSON202.Task == nil {
		return errors.New("create-instance: the answer lacks the instance or its task")
	}
	instID, err := uuid("create-instance", created.JSON202.Instance.Id)
	if err != nil {
		return err
	}
	if err := wait(ctx, c, "create-instance", created.JSON202.Task.Id); err != nil {
		return err
	}

	got, err := c.GetInstanceWithResponse(ctx, instID)
	if err := expect("get-instance", got, err, http.StatusOK); err != nil {
		return err
	}
	if st := got.JSON200.Status; st == nil || st.Power == nil || *st.Power != "running" || st.Phase == nil || *st.Phase != "ready" {
		return fmt.Errorf("get-instance: not ready and running after its create task: %+v", got.JSON200.Status)
	}
	if err := listed(ctx, c, instID.String()); err != nil {
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
	if err := wait(ctx, c, "delete-instance", del.JSON202.Task.Id); err != nil {
		return err
	}
	gone, err := c.GetInstanceWithResponse(ctx, instID)
	if err := expect("get-instance after delete", gone, err, http.StatusNotFound); err != nil {
		return err
	}
	if gone.ApplicationproblemJSON404 == nil {
		return errors.New("get-instance after delete: the 404 is not a problem")
	}
	dn, err := c.DeleteNetworkWithResponse(ctx, netID, &ovmapi.DeleteNetworkParams{})
	return expect("delete-network", dn, err, http.StatusNoContent)
}

// wait polls a task until it is final and fails unless it succeeded.
func wait(ctx context.Context, c *ovmapi.ClientWithResponses, step string, id *string) error {
	taskID, err := uuid(step+" task", id)
	if err != nil {
		return err
	}
	for {
		t, err := c.GetTaskWithResponse(ctx, taskID)
		if err := expect("get-task", t, err, http.StatusOK); err != nil {
			return err
		}
		state := ""
		if t.JSON200.State != nil {
			state = *t.JSON200.State
		}
		switch state {
		case "succeeded":
			return nil
		case "failed", "rolled-back":
			msg := ""
			if t.JSON200.Error != nil {
				msg = *t.JSON200.Error
			}
			return fmt.Errorf("%s: task %s ended %s: %s", step, taskID, state, msg)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: task %s still %q: %w", step, taskID, state, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listed finds the instance in the list, one item a page.
func listed(ctx context.Context, c *ovmapi.ClientWithResponses, id string) error {
	params := &ovmapi.ListInstancesParams{Limit: ptr(int64(1))}
	for range 100 {
		pg, err := c.ListInstancesWithResponse(ctx, params)
		if err := expect("list-instances", pg, err, http.StatusOK); err != nil {
			return err
		}
		if pg.JSON200.Items != nil {
			for _, it := range *pg.JSON200.Items {
				if it.Id != nil && *it.Id == id {
					return nil
				}
			}
		}
		if pg.JSON200.Next == nil || *pg.JSON200.Next == "" {
			break
		}
		params.Cursor = pg.JSON200.Next
	}
	return fmt.Errorf("list-instances: instance %s is on no page", id)
}

// pageTokens reads the caller's tokens one a page: at least the session of
// this scenario, each once.
func pageTokens(ctx context.Context, c *ovmapi.ClientWithResponses) error {
	params := &ovmapi.ListTokensParams{Limit: ptr(int64(1))}
	seen := map[string]bool{}
	for range 100 {
		pg, err := c.ListTokensWithResponse(ctx, params)
		if err := expect("list-tokens", pg, err, http.StatusOK); err != nil {
			return err
		}
		if pg.JSON200.Items == nil || len(*pg.JSON200.Items) > 1 {
			return fmt.Errorf("list-tokens: a page of limit 1 holds %v", pg.JSON200.Items)
		}
		for _, t := range *pg.JSON200.Items {
			if t.Id == nil || seen[*t.Id] {
				return fmt.Errorf("list-tokens: token %v without an id or on two pages", t.Id)
			}
			seen[*t.Id] = true
		}
		if pg.JSON200.Next == nil || *pg.JSON200.Next == "" {
			if len(seen) == 0 {
				return errors.New("list-tokens: not even this session")
			}
			return nil
		}
		params.Cursor = pg.JSON200.Next
	}
	return errors.New("list-tokens: the pages do not end")
}
