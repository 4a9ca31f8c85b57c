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
	"github.com/openovm/ovm/server/core"
)

// The request bodies below match the API's; the answers are the server's
// own types. A create's IdempotencyKey is sent as the Idempotency-Key
// header: a retry with the same key returns the first result.

// InstanceCreate is a new instance.
type InstanceCreate struct {
	VDCID          ovm.ID           `json:"vdcId,omitempty"`
	Name           string           `json:"name"`
	Spec           ovm.InstanceSpec `json:"spec"`
	Start          bool             `json:"start,omitempty"`
	IdempotencyKey string           `json:"-"`
}

// InstancePatch changes an instance's size (a task) or labels (at once).
type InstancePatch struct {
	CPU    *ovm.MilliCPU      `json:"cpuMilli,omitempty"`
	Memory *ovm.Bytes         `json:"memoryBytes,omitempty"`
	Labels *map[string]string `json:"labels,omitempty"`
}

// ExecRequest is a command to run inside an instance, without a shell.
type ExecRequest struct {
	Command        []string          `json:"command"`
	Env            map[string]string `json:"env,omitempty"`
	Stdin          string            `json:"stdin,omitempty"`
	TimeoutSeconds int               `json:"timeoutSeconds,omitempty"`
}

// ConsoleOptions bound a console read.
type ConsoleOptions struct {
	// Follow keeps reading until MaxSeconds or MaxBytes or the console's
	// end; without it the read ends once the instance is quiet for a second.
	Follow     bool
	MaxSeconds int
	MaxBytes   int64
}

// VAppCreate is a vApp to deploy.
type VAppCreate struct {
	VDCID          ovm.ID           `json:"vdcId,omitempty"`
	Name           string           `json:"name"`
	AntiAffinity   bool             `json:"antiAffinity,omitempty"`
	Members        []ovm.VAppMember `json:"members"`
	IdempotencyKey string           `json:"-"`
}

// AddrRange is an address range of a new network, as text.
type AddrRange struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// NetworkCreate is a new network; addresses are text, so that the server
// names the one that does not parse.
type NetworkCreate struct {
	VDCID          ovm.ID      `json:"vdcId,omitempty"`
	Name           string      `json:"name"`
	VLAN           int         `json:"vlan,omitempty"`
	Subnet         string      `json:"subnet"`
	Gateway        string      `json:"gateway,omitempty"`
	Ranges         []AddrRange `json:"ranges,omitempty"`
	DNS            []string    `json:"dns,omitempty"`
	IdempotencyKey string      `json:"-"`
}

// VolumeCreate is a new volume.
type VolumeCreate struct {
	VDCID          ovm.ID    `json:"vdcId,omitempty"`
	Name           string    `json:"name"`
	Size           ovm.Bytes `json:"sizeBytes"`
	IdempotencyKey string    `json:"-"`
}

// DatacenterCreate is a new datacenter.
type DatacenterCreate struct {
	Name           string `json:"name"`
	Description    string `json:"description,omitempty"`
	IdempotencyKey string `json:"-"`
}

// PoolCreate is a new resource pool.
type PoolCreate struct {
	Name           string              `json:"name"`
	DatacenterID   ovm.ID              `json:"datacenterId"`
	Policy         ovm.PlacementPolicy `json:"policy,omitempty"`
	Scope          ovm.Scope           `json:"scope,omitzero"`
	HAEnabled      bool                `json:"haEnabled,omitempty"`
	Overcommit     ovm.Overcommit      `json:"overcommit,omitzero"`
	IdempotencyKey string              `json:"-"`
}

// Credentials are how the server logs in to a host; they are encrypted at
// rest and never returned.
type Credentials struct {
	Username   string `json:"username,omitempty"`
	Password   string `json:"password,omitempty"`
	CertPEM    string `json:"certPem,omitempty"`
	KeyPEM     string `json:"keyPem,omitempty"`
	CAPEM      string `json:"caPem,omitempty"`
	Thumbprint string `json:"thumbprint,omitempty"`
}

// HostRegister registers a host.
type HostRegister struct {
	Name        string       `json:"name"`
	Kind        ovm.HostKind `json:"kind"`
	Endpoint    string       `json:"endpoint"`
	PoolID      ovm.ID       `json:"poolId"`
	Credentials Credentials  `json:"credentials,omitzero"`
	// Options are the driver's non-secret settings (kvm: templates, disks;
	// esxi: datastore; docker: uplink...).
	Options        map[string]string `json:"options,omitempty"`
	IdempotencyKey string            `json:"-"`
}

// VDCCreate is a new VDC.
type VDCCreate struct {
	Name           string    `json:"name"`
	PoolID         ovm.ID    `json:"poolId"`
	Quota          ovm.Quota `json:"quota"`
	IdempotencyKey string    `json:"-"`
}

// Usage is a VDC's quota and live usage.
type Usage struct {
	Quota ovm.Quota `json:"quota"`
	Usage ovm.Usage `json:"usage"`
}

// UserCreate is a new user. An empty Password makes the server generate
// one, returned once.
type UserCreate struct {
	Name           string `json:"name"`
	Role           string `json:"role"`
	VDCID          ovm.ID `json:"vdcId,omitempty"`
	Password       string `json:"password,omitempty"`
	IdempotencyKey string `json:"-"`
}

// UserPatch changes a user.
type UserPatch struct {
	Role     *string `json:"role,omitempty"`
	Password *string `json:"password,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
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
func (c *Client) Login(ctx context.Context, name, password string) (core.Session, error) {
	return post[core.Session](ctx, c, "/v1/login", map[string]string{"name": name, "password": password}, "")
}

// Logout revokes the client's own token on the server (POST /v1/logout):
// the server refuses it afterwards. A token already invalid is a 401
// *Problem (see StatusOf).
func (c *Client) Logout(ctx context.Context) error {
	_, err := c.Do(ctx, Request{Method: http.MethodPost, Path: "/v1/logout"}, nil)
	return err
}

// Me returns the user the token belongs to.
func (c *Client) Me(ctx context.Context) (core.User, error) { return get[core.User](ctx, c, "/v1/me") }

// ListTokens lists the user's tokens and sessions.
func (c *Client) ListTokens(ctx context.Context) ([]core.TokenInfo, error) {
	return get[[]core.TokenInfo](ctx, c, "/v1/tokens")
}

// CreateToken makes a personal API token; its secret is in the answer
// only. A zero ttl never expires.
func (c *Client) CreateToken(ctx context.Context, name string, ttl time.Duration) (core.NewToken, error) {
	body := map[string]any{"name": name}
	if ttl > 0 {
		body["expiresInSeconds"] = int64(ttl / time.Second)
	}
	return post[core.NewToken](ctx, c, "/v1/tokens", body, "")
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
func (c *Client) CreateInstance(ctx context.Context, in InstanceCreate) (core.InstanceTask, error) {
	return post[core.InstanceTask](ctx, c, "/v1/instances", in, in.IdempotencyKey)
}

// UpdateInstance changes an instance; a size change comes with a task.
func (c *Client) UpdateInstance(ctx context.Context, id ovm.ID, patch InstancePatch) (core.InstanceTask, error) {
	return Call[core.InstanceTask](ctx, c, Request{Method: http.MethodPatch, Path: idPath("instances", id), Body: patch})
}

// DeleteInstance deletes an instance and returns the delete task.
func (c *Client) DeleteInstance(ctx context.Context, id ovm.ID) (core.InstanceTask, error) {
	return del[core.InstanceTask](ctx, c, idPath("instances", id))
}

// InstanceAction runs "start", "stop" or "reboot" and returns its task.
func (c *Client) InstanceAction(ctx context.Context, id ovm.ID, action string) (core.InstanceTask, error) {
	return post[core.InstanceTask](ctx, c, idPath("instances", id)+"/"+action, nil, "")
}

// Exec runs a command in a running instance and returns its exit code and
// output. A command that fails is not an error: look at ExitCode.
func (c *Client) Exec(ctx context.Context, id ovm.ID, in ExecRequest) (core.ExecResult, error) {
	return post[core.ExecResult](ctx, c, idPath("instances", id)+"/exec", in, "")
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
func (c *Client) ListVApps(ctx context.Context, o ListOptions) ([]core.VAppInfo, error) {
	return All[core.VAppInfo](ctx, c, "/v1/vapps", o)
}

// GetVApp returns a vApp with each member's outcome.
func (c *Client) GetVApp(ctx context.Context, id ovm.ID) (core.VAppInfo, error) {
	return get[core.VAppInfo](ctx, c, idPath("vapps", id))
}

// DeployVApp deploys a vApp: one create task per member.
func (c *Client) DeployVApp(ctx context.Context, in VAppCreate) (core.VAppTasks, error) {
	return post[core.VAppTasks](ctx, c, "/v1/vapps", in, in.IdempotencyKey)
}

// DeleteVApp deletes a vApp and its members: one delete task per member.
func (c *Client) DeleteVApp(ctx context.Context, id ovm.ID) (core.VAppTasks, error) {
	return del[core.VAppTasks](ctx, c, idPath("vapps", id))
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
func (c *Client) CreateNetwork(ctx context.Context, in NetworkCreate) (ovm.Network, error) {
	return post[ovm.Network](ctx, c, "/v1/networks", in, in.IdempotencyKey)
}

// DeleteNetwork deletes a network no instance uses.
func (c *Client) DeleteNetwork(ctx context.Context, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath("networks", id)}, nil)
	return err
}

// ListVolumes returns every volume.
func (c *Client) ListVolumes(ctx context.Context, o ListOptions) ([]core.VolumeInfo, error) {
	return All[core.VolumeInfo](ctx, c, "/v1/volumes", o)
}

// GetVolume returns a volume.
func (c *Client) GetVolume(ctx context.Context, id ovm.ID) (core.VolumeInfo, error) {
	return get[core.VolumeInfo](ctx, c, idPath("volumes", id))
}

// CreateVolume records a volume and returns it with its create task.
func (c *Client) CreateVolume(ctx context.Context, in VolumeCreate) (core.VolumeTask, error) {
	return post[core.VolumeTask](ctx, c, "/v1/volumes", in, in.IdempotencyKey)
}

// ResizeVolume grows a volume to size.
func (c *Client) ResizeVolume(ctx context.Context, id ovm.ID, size ovm.Bytes) (core.VolumeTask, error) {
	return Call[core.VolumeTask](ctx, c, Request{Method: http.MethodPatch, Path: idPath("volumes", id), Body: map[string]any{"sizeBytes": size}})
}

// DeleteVolume deletes a detached volume.
func (c *Client) DeleteVolume(ctx context.Context, id ovm.ID) (core.VolumeTask, error) {
	return del[core.VolumeTask](ctx, c, idPath("volumes", id))
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
func (c *Client) ListDiscovered(ctx context.Context, o ListOptions) ([]core.Discovered, error) {
	return All[core.Discovered](ctx, c, "/v1/discovered", o)
}

// ImportDiscovered imports a discovered object into a VDC as an instance.
// cpu and memory are the instance's demand for an object without limits
// of its own (zero: the object's own limits).
func (c *Client) ImportDiscovered(ctx context.Context, id, vdc ovm.ID, name string, cpu ovm.MilliCPU, memory ovm.Bytes) (ovm.Instance, error) {
	body := map[string]any{"vdcId": vdc, "name": name}
	if cpu != 0 {
		body["cpuMilli"] = cpu
	}
	if memory != 0 {
		body["memoryBytes"] = memory
	}
	return post[ovm.Instance](ctx, c, idPath("discovered", id)+"/import", body, "")
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
func (c *Client) CreateDatacenter(ctx context.Context, in DatacenterCreate) (ovm.Datacenter, error) {
	return post[ovm.Datacenter](ctx, c, "/v1/datacenters", in, in.IdempotencyKey)
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
func (c *Client) CreatePool(ctx context.Context, in PoolCreate) (ovm.ResourcePool, error) {
	return post[ovm.ResourcePool](ctx, c, "/v1/pools", in, in.IdempotencyKey)
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
func (c *Client) RegisterHost(ctx context.Context, in HostRegister) (ovm.Host, error) {
	return post[ovm.Host](ctx, c, "/v1/hosts", in, in.IdempotencyKey)
}

// SetMaintenance turns a host's maintenance mode on or off.
func (c *Client) SetMaintenance(ctx context.Context, id ovm.ID, on bool) (ovm.Host, error) {
	return Call[ovm.Host](ctx, c, Request{Method: http.MethodPut, Path: idPath("hosts", id) + "/maintenance", Body: map[string]bool{"enabled": on}})
}

// SyncHost lists a host's instances and returns the unmanaged ones.
func (c *Client) SyncHost(ctx context.Context, id ovm.ID) ([]core.Discovered, error) {
	return post[[]core.Discovered](ctx, c, idPath("hosts", id)+"/sync", nil, "")
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
func (c *Client) CreateVDC(ctx context.Context, in VDCCreate) (ovm.VDC, error) {
	return post[ovm.VDC](ctx, c, "/v1/vdcs", in, in.IdempotencyKey)
}

// VDCUsage returns a VDC's quota and live usage.
func (c *Client) VDCUsage(ctx context.Context, id ovm.ID) (Usage, error) {
	return get[Usage](ctx, c, idPath("vdcs", id)+"/usage")
}

// SetQuota replaces a VDC's quota.
func (c *Client) SetQuota(ctx context.Context, id ovm.ID, q ovm.Quota) (ovm.VDC, error) {
	return Call[ovm.VDC](ctx, c, Request{Method: http.MethodPut, Path: idPath("vdcs", id) + "/quota", Body: map[string]any{"quota": q}})
}

// ListUsers returns every user (a VDC administrator: its VDC's).
func (c *Client) ListUsers(ctx context.Context) ([]core.User, error) {
	return All[core.User](ctx, c, "/v1/users", ListOptions{})
}

// GetUser returns a user.
func (c *Client) GetUser(ctx context.Context, id ovm.ID) (core.User, error) {
	return get[core.User](ctx, c, idPath("users", id))
}

// CreateUser creates a user; a generated password is in the answer only.
func (c *Client) CreateUser(ctx context.Context, in UserCreate) (core.NewUser, error) {
	return post[core.NewUser](ctx, c, "/v1/users", in, in.IdempotencyKey)
}

// UpdateUser changes a user's role, password or disabled flag.
func (c *Client) UpdateUser(ctx context.Context, id ovm.ID, patch UserPatch) (core.User, error) {
	return Call[core.User](ctx, c, Request{Method: http.MethodPatch, Path: idPath("users", id), Body: patch})
}

// Delete deletes the object of a collection ("datacenters", "pools",
// "hosts", "vdcs", "users", ...) that answers 204.
func (c *Client) Delete(ctx context.Context, collection string, id ovm.ID) error {
	_, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: idPath(collection, id)}, nil)
	return err
}
