package api

import (
	"github.com/danielgtaylor/huma/v2"
)

// tags are the groups of operations, in the order the document lists them.
// Every operation's tags are among them (TestOperationsDocumented).
var tags = []*huma.Tag{
	{Name: "auth", Description: "Log in and out, the calling user, and personal API tokens."},
	{Name: "datacenters", Description: "Datacenters: the top of the platform's hierarchy (administrators)."},
	{Name: "pools", Description: "Resource pools: the hosts an instance may be placed on, their placement policy, HA and overcommit (administrators)."},
	{Name: "hosts", Description: "KVM, ESXi and Docker hosts of the pools: registration, credentials, maintenance and sync (administrators)."},
	{Name: "discovered", Description: "Objects found on hosts that OVM does not manage yet, and their import into a VDC (administrators)."},
	{Name: "vdcs", Description: "Virtual datacenters: tenants, each with its pool and quota."},
	{Name: "users", Description: "Users and their roles: administrators, VDC administrators and VDC members."},
	{Name: "instances", Description: "Virtual machines and containers: create, change, power, delete, exec and console."},
	{Name: "vapps", Description: "vApps: groups of instances deployed together, optionally on different hosts."},
	{Name: "networks", Description: "A VDC's networks and their address ranges."},
	{Name: "volumes", Description: "A VDC's data volumes."},
	{Name: "snapshots", Description: "Snapshots of instances and volumes: take, list, revert, delete."},
	{Name: "storage-pools", Description: "Where disks live: local pools of one host and shared pools several hosts reach (administrators)."},
	{Name: "tasks", Description: "The tasks that carry out changes on hosts: their steps, progress and log, as a list, one by one or as a stream."},
	{Name: "alerts", Description: "HA alerts the host monitor raises (administrators)."},
	{Name: "registries", Description: "Container image registries: registered by administrators (credentials encrypted, never returned), browsed, pushed to and deleted from; a VDC's private images live under its namespace vdc-<short id>/ and count against its disk quota."},
	{Name: "chef", Description: "Chef automation: Chef servers (administrators), their catalog, instances' enrolment, and converge runs that install software on chosen instances or update them all."},
	{Name: "admin", Description: "Operating the server: online backups (administrators)."},
	{Name: "audit", Description: "The audit trail: who changed what, from where, with which outcome."},
	{Name: "scaling-groups", Description: "Groups of VMs or containers that grow and shrink by one policy, and the scaler's decisions."},
	{Name: "metric-alerts", Description: "Threshold rules on instances' and hosts' metrics, and the alerts they raise and clear."},
	{Name: "images", Description: "The image catalog: VM templates of the template library (platform-wide or a VDC's), uploaded, downloaded and imported, and container images of registries."},
}

// document completes cfg's OpenAPI document with what is not an operation:
// tags, the server, the contact.
func document(cfg *huma.Config) {
	cfg.Info.Contact = &huma.Contact{Name: "OVM", URL: "https://github.com/openovm/ovm"}
	cfg.Servers = []*huma.Server{{URL: "/", Description: "The server that serves this document; its API is under /v1."}}
	cfg.Tags = tags
}

// event is one kind of Server-Sent Event of a stream: its name (the
// `event:` field) and the schema of its JSON data.
type event struct {
	name, description string
	data              *huma.Schema
}

// eventStream is the schema of a text/event-stream body: a sequence of
// events, each an object of the SSE fields whose data is the event's JSON.
func eventStream(description string, events ...event) *huma.Schema {
	one := make([]*huma.Schema, 0, len(events))
	for _, e := range events {
		one = append(one, &huma.Schema{
			Title:       "Event " + e.name,
			Description: e.description,
			Type:        huma.TypeObject,
			Properties: map[string]*huma.Schema{
				"id":    {Type: huma.TypeInteger, Description: "The event's sequence number in the stream, when the stream numbers its events."},
				"event": {Type: huma.TypeString, Enum: []any{e.name}, Description: "The event's name."},
				"data":  e.data,
			},
			Required: []string{"event", "data"},
		})
	}
	return &huma.Schema{
		Type:        huma.TypeArray,
		Description: description + " Each item is one event, sent as `event:` and `data:` lines (with `id:` when numbered) and a blank line.",
		Items:       &huma.Schema{OneOf: one},
	}
}
