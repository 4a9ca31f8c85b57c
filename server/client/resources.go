package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// The request and response bodies are package apitypes'. A create's
// IdempotencyKey is sent as the Idempotency-Key header: a retry with the
// same key returns the first result.

// ConsoleOptions bound a console read.
type ConsoleOptions struct {
	// Follow keeps reading until MaxSeconds or MaxBytes or the console's
	// end; without it the read ends once the instance is quiet for a second.
	Follow     bool
	MaxSeconds int
	MaxBytes   int64
}

// get reads one object.
func get[T any](ctx context.Context, c *Client, path string) (T, error) {
	return Call[T](ctx, c, Request{Method: http.MethodGet, Path: path})
}

// post sends a body to path and decodes the answer.
func post[T any](ctx context.Context, c *Client, path string, body any, key string) (T, error) {
	return Call[T](ctx, c, Request{Method: http.MethodPost, Path: path, Body: body, IdempotencyKey: key})
}

// del deletes path, decoding the answer (a task) when there is one.
func del[T any](ctx context.Context, c *Client, path string) (T, error) {
	return Call[T](ctx, c, Request{Method: http.MethodDelete, Path: path})
}

func idPath(collection string, id ovm.ID) string {
	return "/v1/" + collection + "/" + url.PathEscape(string(id))
}

// Login trades a user's password for a session token.
func (c *Client) Login(ctx context.Context, name, password string) (apitypes.Session, error) {
	return post[apitypes.Session](ctx, c, "/v1/login", apitypes.Login{Name: name, Password: password}, "")
}

// Logout revokes the client's own token on the server (POST /v1/logout):
// the server refuses it afterwards. A token already invalid is a 401
// *Problem (see StatusOf).
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/v1/logout"}, nil)
	return err
}

// Me returns the user the token belongs to.
func (c *Client) Me(ctx context.Context) (apitypes.User, error) {
	return get[apitypes.User](ctx, c, "/v1/me")
}

// ListTokens lists the user's tokens and sessions.
func (c *Client) ListTokens(ctx context.Context) ([]apitypes.TokenInfo, error) {
	return All[apitypes.TokenInfo](ctx, c, "/v1/tokens", ListOptions{})
}

// CreateToken makes a personal API token; its secret is in the answer
// only. A zero ttl never expires.
func (c *Client) CreateToken(ctx context.Context, name string, ttl time.Duration) (apitypes.NewToken, error) {
	body := apitypes.TokenCreate{Name: name, ExpiresInSeconds: int64(ttl / time.Second)}
	return post[apitypes.NewToken](ctx, c, "/v1/tokens", body, "")
}

// RevokeToken revokes one of the user's tokens.
func (c *Client) RevokeToken(ctx context.Context, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath("tokens", id)}, nil)
	return err
}

// ListInstances returns every instance (of o.VDCID when set).
func (c *Client) ListInstances(ctx context.Context, o ListOptions) ([]ovm.Instance, error) {
	return All[ovm.Instance](ctx, c, "/v1/instances", o)
}

// GetInstance returns an instance.
func (c *Client) GetInstance(ctx context.Context, id ovm.ID) (ovm.Instance, error) {
	return get[ovm.Instance](ctx, c, idPath("instances", id))
}

// CreateInstance records an instance and returns it with its create task.
func (c *Client) CreateInstance(ctx context.Context, in apitypes.InstanceCreate) (apitypes.InstanceTask, error) {
	return post[apitypes.InstanceTask](ctx, c, "/v1/instances", in, in.IdempotencyKey)
}

// UpdateInstance changes an instance; a size change comes with a task.
func (c *Client) UpdateInstance(ctx context.Context, id ovm.ID, patch apitypes.InstancePatch) (apitypes.InstanceTask, error) {
	return Call[apitypes.InstanceTask](ctx, c, Request{Method: http.MethodPatch, Path: idPath("instances", id), Body: patch})
}

// DeleteInstance deletes an instance and returns the delete task.
func (c *Client) DeleteInstance(ctx context.Context, id ovm.ID) (apitypes.InstanceTask, error) {
	return del[apitypes.InstanceTask](ctx, c, idPath("instances", id))
}

// InstanceAction runs "start", "stop" or "reboot" and returns its task.
func (c *Client) InstanceAction(ctx context.Context, id ovm.ID, action string) (apitypes.InstanceTask, error) {
	return post[apitypes.InstanceTask](ctx, c, idPath("instances", id)+"/"+action, nil, "")
}

// Exec runs a command in a running instance and returns its exit code and
// output. A command that fails is not an error: look at ExitCode.
func (c *Client) Exec(ctx context.Context, id ovm.ID, in apitypes.ExecRequest) (apitypes.ExecResult, error) {
	return post[apitypes.ExecResult](ctx, c, idPath("instances", id)+"/exec", in, "")
}

// Console opens an instance's console output as a stream of bytes; the
// caller closes it.
func (c *Client) Console(ctx context.Context, id ovm.ID, o ConsoleOptions) (io.ReadCloser, error) {
	q := url.Values{}
	if o.Follow {
		q.Set("follow", "true")
	}
	if o.MaxSeconds > 0 {
		q.Set("maxSeconds", strconv.Itoa(o.MaxSeconds))
	}
	if o.MaxBytes > 0 {
		q.Set("maxBytes", strconv.FormatInt(o.MaxBytes, 10))
	}
	req, err := c.newRequest(ctx, Request{Method: http.MethodGet, Path: idPath("instances", id) + "/console", Query: q, Accept: "text/plain"})
	if err != nil {
		return nil, err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("console of %s: %w", id, err)
	}
	if res.StatusCode >= 400 {
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
		return nil, problemOf(res.StatusCode, res.Header, b)
	}
	return res.Body, nil
}

// ListVApps returns every vApp with each member's outcome.
func (c *Client) ListVApps(ctx context.Context, o ListOptions) ([]apitypes.VAppInfo, error) {
	return All[apitypes.VAppInfo](ctx, c, "/v1/vapps", o)
}

// GetVApp returns a vApp with each member's outcome.
func (c *Client) GetVApp(ctx context.Context, id ovm.ID) (apitypes.VAppInfo, error) {
	return get[apitypes.VAppInfo](ctx, c, idPath("vapps", id))
}

// DeployVApp deploys a vApp: one create task per member.
func (c *Client) DeployVApp(ctx context.Context, in apitypes.VAppCreate) (apitypes.VAppTasks, error) {
	return post[apitypes.VAppTasks](ctx, c, "/v1/vapps", in, in.IdempotencyKey)
}

// DeleteVApp deletes a vApp and its members: one delete task per member.
func (c *Client) DeleteVApp(ctx context.Context, id ovm.ID) (apitypes.VAppTasks, error) {
	return del[apitypes.VAppTasks](ctx, c, idPath("vapps", id))
}

// StartVApp starts every member of a vApp, in start group order, through
// one vapp.power task.
func (c *Client) StartVApp(ctx context.Context, id ovm.ID) (apitypes.VAppTask, error) {
	return post[apitypes.VAppTask](ctx, c, idPath("vapps", id)+"/start", nil, "")
}

// StopVApp stops every member of a vApp, in reverse start group order.
func (c *Client) StopVApp(ctx context.Context, id ovm.ID) (apitypes.VAppTask, error) {
	return post[apitypes.VAppTask](ctx, c, idPath("vapps", id)+"/stop", nil, "")
}

// ListNetworks returns every network.
func (c *Client) ListNetworks(ctx context.Context, o ListOptions) ([]ovm.Network, error) {
	return All[ovm.Network](ctx, c, "/v1/networks", o)
}

// GetNetwork returns a network.
func (c *Client) GetNetwork(ctx context.Context, id ovm.ID) (ovm.Network, error) {
	return get[ovm.Network](ctx, c, idPath("networks", id))
}

// CreateNetwork creates a network.
func (c *Client) CreateNetwork(ctx context.Context, in apitypes.NetworkCreate) (ovm.Network, error) {
	return post[ovm.Network](ctx, c, "/v1/networks", in, in.IdempotencyKey)
}

// DeleteNetwork deletes a network no instance uses.
func (c *Client) DeleteNetwork(ctx context.Context, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath("networks", id)}, nil)
	return err
}

// ListVolumes returns every volume.
func (c *Client) ListVolumes(ctx context.Context, o ListOptions) ([]apitypes.VolumeInfo, error) {
	return All[apitypes.VolumeInfo](ctx, c, "/v1/volumes", o)
}

// GetVolume returns a volume.
func (c *Client) GetVolume(ctx context.Context, id ovm.ID) (apitypes.VolumeInfo, error) {
	return get[apitypes.VolumeInfo](ctx, c, idPath("volumes", id))
}

// CreateVolume records a volume and returns it with its create task.
func (c *Client) CreateVolume(ctx context.Context, in apitypes.VolumeCreate) (apitypes.VolumeTask, error) {
	return post[apitypes.VolumeTask](ctx, c, "/v1/volumes", in, in.IdempotencyKey)
}

// ResizeVolume grows a volume to size.
func (c *Client) ResizeVolume(ctx context.Context, id ovm.ID, size ovm.Bytes) (apitypes.VolumeTask, error) {
	return Call[apitypes.VolumeTask](ctx, c, Request{Method: http.MethodPatch, Path: idPath("volumes", id), Body: apitypes.VolumePatch{Size: size}})
}

// DeleteVolume deletes a detached volume.
func (c *Client) DeleteVolume(ctx context.Context, id ovm.ID) (apitypes.VolumeTask, error) {
	return del[apitypes.VolumeTask](ctx, c, idPath("volumes", id))
}

// ListTasks returns every task (of o.VDCID when set).
func (c *Client) ListTasks(ctx context.Context, o ListOptions) ([]ovm.Task, error) {
	return All[ovm.Task](ctx, c, "/v1/tasks", o)
}

// GetTask returns a task with its steps, progress and log.
func (c *Client) GetTask(ctx context.Context, id ovm.ID) (ovm.Task, error) {
	return get[ovm.Task](ctx, c, idPath("tasks", id))
}

// ListDiscovered returns the objects found on hosts without an OVM id.
func (c *Client) ListDiscovered(ctx context.Context, o ListOptions) ([]apitypes.Discovered, error) {
	return All[apitypes.Discovered](ctx, c, "/v1/discovered", o)
}

// ImportDiscovered imports a discovered object into a VDC as an instance.
func (c *Client) ImportDiscovered(ctx context.Context, id ovm.ID, in apitypes.DiscoveredImport) (ovm.Instance, error) {
	return post[ovm.Instance](ctx, c, idPath("discovered", id)+"/import", in, in.IdempotencyKey)
}

// ListDatacenters returns every datacenter.
func (c *Client) ListDatacenters(ctx context.Context) ([]ovm.Datacenter, error) {
	return All[ovm.Datacenter](ctx, c, "/v1/datacenters", ListOptions{})
}

// GetDatacenter returns a datacenter.
func (c *Client) GetDatacenter(ctx context.Context, id ovm.ID) (ovm.Datacenter, error) {
	return get[ovm.Datacenter](ctx, c, idPath("datacenters", id))
}

// CreateDatacenter creates a datacenter.
func (c *Client) CreateDatacenter(ctx context.Context, in apitypes.DatacenterCreate) (ovm.Datacenter, error) {
	return post[ovm.Datacenter](ctx, c, "/v1/datacenters", in, in.IdempotencyKey)
}

// UpdateDatacenter changes a datacenter.
func (c *Client) UpdateDatacenter(ctx context.Context, id ovm.ID, patch apitypes.DatacenterPatch) (ovm.Datacenter, error) {
	return Call[ovm.Datacenter](ctx, c, Request{Method: http.MethodPatch, Path: idPath("datacenters", id), Body: patch})
}

// ListPools returns every resource pool.
func (c *Client) ListPools(ctx context.Context) ([]ovm.ResourcePool, error) {
	return All[ovm.ResourcePool](ctx, c, "/v1/pools", ListOptions{})
}

// GetPool returns a resource pool.
func (c *Client) GetPool(ctx context.Context, id ovm.ID) (ovm.ResourcePool, error) {
	return get[ovm.ResourcePool](ctx, c, idPath("pools", id))
}

// CreatePool creates a resource pool.
func (c *Client) CreatePool(ctx context.Context, in apitypes.PoolCreate) (ovm.ResourcePool, error) {
	return post[ovm.ResourcePool](ctx, c, "/v1/pools", in, in.IdempotencyKey)
}

// UpdatePool changes a pool's policy, scope, HA flag or overcommit.
func (c *Client) UpdatePool(ctx context.Context, id ovm.ID, patch apitypes.PoolPatch) (ovm.ResourcePool, error) {
	return Call[ovm.ResourcePool](ctx, c, Request{Method: http.MethodPatch, Path: idPath("pools", id), Body: patch})
}

// ListHosts returns every host.
func (c *Client) ListHosts(ctx context.Context) ([]ovm.Host, error) {
	return All[ovm.Host](ctx, c, "/v1/hosts", ListOptions{})
}

// GetHost returns a host.
func (c *Client) GetHost(ctx context.Context, id ovm.ID) (ovm.Host, error) {
	return get[ovm.Host](ctx, c, idPath("hosts", id))
}

// RegisterHost registers a host; the server connects and reads its
// capacity.
func (c *Client) RegisterHost(ctx context.Context, in apitypes.HostRegister) (ovm.Host, error) {
	return post[ovm.Host](ctx, c, "/v1/hosts", in, in.IdempotencyKey)
}

// UpdateHost replaces a host's credentials.
func (c *Client) UpdateHost(ctx context.Context, id ovm.ID, patch apitypes.HostPatch) (ovm.Host, error) {
	return Call[ovm.Host](ctx, c, Request{Method: http.MethodPatch, Path: idPath("hosts", id), Body: patch})
}

// SetMaintenance turns a host's maintenance mode on or off.
func (c *Client) SetMaintenance(ctx context.Context, id ovm.ID, on bool) (ovm.Host, error) {
	return Call[ovm.Host](ctx, c, Request{Method: http.MethodPut, Path: idPath("hosts", id) + "/maintenance", Body: apitypes.Maintenance{Enabled: on}})
}

// SyncHost lists a host's instances and returns the unmanaged ones.
func (c *Client) SyncHost(ctx context.Context, id ovm.ID) ([]apitypes.Discovered, error) {
	return post[[]apitypes.Discovered](ctx, c, idPath("hosts", id)+"/sync", nil, "")
}

// ListVDCs returns every VDC (a tenant: its own).
func (c *Client) ListVDCs(ctx context.Context) ([]ovm.VDC, error) {
	return All[ovm.VDC](ctx, c, "/v1/vdcs", ListOptions{})
}

// GetVDC returns a VDC with its quota and usage.
func (c *Client) GetVDC(ctx context.Context, id ovm.ID) (ovm.VDC, error) {
	return get[ovm.VDC](ctx, c, idPath("vdcs", id))
}

// CreateVDC creates a VDC with its quota.
func (c *Client) CreateVDC(ctx context.Context, in apitypes.VDCCreate) (ovm.VDC, error) {
	return post[ovm.VDC](ctx, c, "/v1/vdcs", in, in.IdempotencyKey)
}

// VDCUsage returns a VDC's quota and live usage.
func (c *Client) VDCUsage(ctx context.Context, id ovm.ID) (apitypes.Usage, error) {
	return get[apitypes.Usage](ctx, c, idPath("vdcs", id)+"/usage")
}

// SetQuota replaces a VDC's quota.
func (c *Client) SetQuota(ctx context.Context, id ovm.ID, q ovm.Quota) (ovm.VDC, error) {
	return Call[ovm.VDC](ctx, c, Request{Method: http.MethodPut, Path: idPath("vdcs", id) + "/quota", Body: apitypes.QuotaChange{Quota: q}})
}

// ListUsers returns every user (a VDC administrator: its VDC's).
func (c *Client) ListUsers(ctx context.Context) ([]apitypes.User, error) {
	return All[apitypes.User](ctx, c, "/v1/users", ListOptions{})
}

// GetUser returns a user.
func (c *Client) GetUser(ctx context.Context, id ovm.ID) (apitypes.User, error) {
	return get[apitypes.User](ctx, c, idPath("users", id))
}

// CreateUser creates a user; a generated password is in the answer only.
func (c *Client) CreateUser(ctx context.Context, in apitypes.UserCreate) (apitypes.NewUser, error) {
	return post[apitypes.NewUser](ctx, c, "/v1/users", in, in.IdempotencyKey)
}

// UpdateUser changes a user's role, password or disabled flag.
func (c *Client) UpdateUser(ctx context.Context, id ovm.ID, patch apitypes.UserPatch) (apitypes.User, error) {
	return Call[apitypes.User](ctx, c, Request{Method: http.MethodPatch, Path: idPath("users", id), Body: patch})
}

// Delete deletes the object of a collection ("datacenters", "pools",
// "hosts", "vdcs", "users", ...) that answers 204.
func (c *Client) Delete(ctx context.Context, collection string, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath(collection, id)}, nil)
	return err
}
