package api

// What the route helpers add to the description of the operations they
// register.
const (
	pageDoc = "Answers one page of at most `limit` items in id order. While more follow, `next` in the body is the " +
		"cursor of the next page (pass it as `cursor`) and the Link header points at it with rel=\"next\"; " +
		"the last page has no `next`."
	etagDoc    = "The ETag header is the object's version, which the operations that change the object take as If-Match."
	ifMatchDoc = "With If-Match, the change applies only to that version of the object (412 when it changed since)."
	taskDoc    = "Answers 202 with the object and the task that does the work on its host; follow the task with " +
		"get-task or watch-task."
	createDoc = "A retry with the same Idempotency-Key answers the first result and makes nothing twice."
)

// operationDocs are the descriptions of the operations that do not carry
// their own (op.desc), by operation id.
var operationDocs = map[string]string{
	// auth
	"login": "Trades a user's name and password for a session token, sent as `Authorization: Bearer TOKEN` " +
		"on every other call. The session expires; a wrong name or password is 401 without saying which.",
	"get-me":      "The user the bearer token of the request belongs to, with its role and VDC.",
	"list-tokens": "Your personal API tokens and login sessions: names, expiry and last use, never their secrets.",
	"create-token": "Makes a personal API token for scripts and machines. Its secret is in this answer only; " +
		"OVM keeps only its hash.",
	"delete-token": "Revokes one of your tokens or sessions; anybody else's is 404. The token is refused at once afterwards.",

	// platform
	"list-datacenters":  "The datacenters of the platform.",
	"create-datacenter": "Makes a datacenter, the container of resource pools. " + createDoc,
	"get-datacenter":    "One datacenter.",
	"update-datacenter": "Changes a datacenter's description. " + ifMatchDoc,
	"delete-datacenter": "Deletes a datacenter; 409 while it has pools.",
	"list-pools":        "The resource pools of the platform.",
	"create-pool": "Makes a resource pool in a datacenter: its placement policy (PERFORMANCE spreads instances, " +
		"PROGRESSIVE fills one host first), scope, HA and overcommit. " + createDoc,
	"get-pool":    "One resource pool.",
	"update-pool": "Changes a pool's placement policy, scope, HA or overcommit; fields left out stay. " + ifMatchDoc,
	"delete-pool": "Deletes a pool; 409 while it has hosts or VDCs.",
	"list-hosts":  "The hosts of the platform with their kind, state and capacity.",
	"register-host": "Connects to the host with the credentials given, reads its capacity and adds it to a pool. " +
		"Credentials are encrypted at rest and never returned. 503 when the host does not answer, 501 for a kind " +
		"this server has no driver for. " + createDoc,
	"get-host": "One host with its kind, state and capacity.",
	"update-host": "Replaces the credentials OVM uses to reach the host; the next call to the host uses them. " +
		ifMatchDoc,
	"set-host-maintenance": "In maintenance a host takes no new instances. Turning it on drains the host: each running instance gets an " +
		"instance.migrate task to the host placement picks (VMs live where the engine can, cold otherwise; containers with volumes on shared " +
		"storage recreated). The host is entering-maintenance while they move and maintenance once none is left; an instance that cannot move " +
		"keeps it entering-maintenance with the reason in stateReason, and turning it on again retries. Stopped instances stay. " + ifMatchDoc,
	"migrate-instance": "Moves the instance in an instance.migrate task whose progress follows the engine's. Left out, the mode is live for a VM " +
		"whose host migrates live (cold otherwise: ESXi without vCenter) and placement picks the target host in the instance's resource pool " +
		"(503 with each host's reason when none fits). Only administrators name hostId or storagePoolId (422 for a tenant). 501 when the host " +
		"cannot do the mode (a container without volumes on shared storage, live migration on ESXi without vCenter). Snapshots move with " +
		"the instance where the mode carries them (live on KVM); any other mode is 409 while the instance has snapshots (storage and " +
		"shared-nothing on KVM copy only the disk's current state; an ESXi cold move does not bring them back on a standalone host). " + ifMatchDoc,
	"cancel-instance-migration": "Asks the instance's migration to stop: the task aborts the move and ends rolled back, the instance running " +
		"on its source host. A cancel that arrives once the instance runs on its new host changes nothing. 409 when no migration is under way.",
	"delete-host": "Removes a host from the platform; 409 while instances are on it. Nothing on the host changes.",
	"sync-host": "Lists the instances on the host now and records those OVM does not manage as discovered " +
		"objects, which it answers. 503 when the host does not answer.",
	"list-discovered": "Objects found on hosts by sync that OVM does not manage: candidates for import.",
	"get-discovered":  "One discovered object with its host and what the host reports of it.",
	"import-discovered": "Makes a discovered object a managed instance of a VDC, charging its quota (403 beyond it). " +
		"Nothing changes on the host. " + createDoc,

	// tenancy
	"list-vdcs":  "The VDCs: every one for administrators, their own for tenants.",
	"create-vdc": "Makes a VDC (a tenant) on a resource pool with its quota. " + createDoc,
	"get-vdc":    "One VDC with its quota and live usage.",
	"get-vdc-usage": "A VDC's quota and what its instances, volumes and networks use of it now. " +
		"The ETag header is the VDC's version.",
	"set-vdc-quota": "Replaces a VDC's quota (administrators). " + ifMatchDoc,
	"delete-vdc":    "Deletes a VDC; 409 while it has instances, vApps, networks, volumes or users.",
	"list-users":    "The users: every one for administrators, their VDC's for VDC administrators.",
	"create-user": "Makes a user with a role. Without a password one is generated and answered once. " +
		"VDC administrators make users of their own VDC only. " + createDoc,
	"get-user": "One user with its role and VDC; never its password.",
	"update-user": "Changes a user's role, password or disabled flag; fields left out stay. A disabled user's " +
		"sessions and tokens are refused. " + ifMatchDoc,
	"delete-user": "Deletes a user and revokes its sessions and tokens; 409 for the caller itself.",

	// instances
	"list-instances": "The instances of the caller's VDC (administrators: every VDC, or one with vdcId).",
	"create-instance": "Checks and charges the VDC's quota (403 beyond it), allocates the NICs' addresses and " +
		"places the instance on a host of the VDC's pool now (503 when no host has room), then answers 202 " +
		"with the instance and its create task, which makes it on the host (and starts it with `start`). " +
		"409 when the VDC has an instance of that name. " + createDoc,
	"get-instance": "One instance with its spec and status (phase, power, addresses).",
	"update-instance": "Labels change at once (200). A new cpuMilli or memoryBytes is charged to the quota now " +
		"and applied by a resize task (202 with the task). " + ifMatchDoc,
	"delete-instance": "Stops the instance, deletes it on its host, then releases its quota and addresses.",
	"start-instance":  "Powers the instance on; 409 when it is not ready, is busy with another task or is not stopped.",
	"stop-instance":   "Powers the instance off; 409 when it is not ready, is busy with another task or is not running.",
	"reboot-instance": "Restarts the instance; 409 when it is not ready, is busy with another task or is not running.",
	"list-vapps":      "The vApps of the caller's VDC with the outcome of each member.",
	"deploy-vapp": "Places every member at once (on different hosts with antiAffinity; 503 when they do not all " +
		"fit), charges the quota for all of them, then answers 202 with one create task per member. " + createDoc,
	"get-vapp":    "One vApp with each member's instance and outcome.",
	"delete-vapp": "Deletes every member of the vApp, then the vApp, in one task.",

	// resources
	"list-networks": "The networks of the caller's VDC.",
	"create-network": "Makes a network of the VDC with its subnet, gateway, address ranges and DNS servers, " +
		"counted against the networks quota (403 beyond it). " + createDoc,
	"get-network":    "One network with its subnet and ranges.",
	"delete-network": "Deletes a network; 409 while an instance has a NIC on it.",
	"list-volumes":   "The volumes of the caller's VDC.",
	"create-volume": "Charges the size to the VDC's disk quota now (403 beyond it), then answers 202 with the " +
		"volume and the task that makes it. " + createDoc,
	"get-volume": "One volume with its size and phase.",
	"resize-volume": "Grows a volume to sizeBytes (a smaller size is 422), charging the difference to the disk " +
		"quota; answers 202 with the resize task. " + ifMatchDoc,
	"delete-volume": "Deletes a volume that no instance has attached (409 otherwise) and releases its quota in a task.",

	// tasks and alerts
	"list-tasks": "The tasks of the caller's VDC (administrators: every task, or one VDC's with vdcId) with their state and progress.",
	"get-task":   "One task: its state, progress, steps and log. Poll it, or follow it with watch-task.",
	"get-alert":  "One HA alert with its host, instances and whether it is open.",
	"ack-alert":  "Marks an open HA alert resolved: an administrator has dealt with it. The ETag header is its new version.",
}
