package apitypes

import (
	"time"

	"github.com/openovm/ovm/ovm"
)

// ChefTLS says how OVM verifies a Chef server's certificate.
type ChefTLS struct {
	InsecureSkipVerify bool   `json:"insecureSkipVerify" doc:"Skip the verification of the server's certificate (OVM and the guests)."`
	CACert             string `json:"caCert" maxLength:"65536" doc:"The authority (PEM) that signed the server's certificate, when it is not a public one; delivered to enrolled guests too."`
}

// ChefServerCreate registers a Chef server.
type ChefServerCreate struct {
	Name         string  `json:"name" required:"true"`
	URL          string  `json:"url" required:"true" maxLength:"1024" doc:"The Chef server's URL, such as https://chef.example.com/."`
	Organization string  `json:"organization,omitempty" maxLength:"255" doc:"The organisation (Chef Infra Server 12 and later: requests go to URL/organizations/NAME/); empty for servers without organisations."`
	ClientName   string  `json:"clientName" required:"true" maxLength:"255" doc:"The API client OVM signs its requests as; it must be allowed to create clients and nodes."`
	Key          string  `json:"key" required:"true" maxLength:"16384" doc:"The API client's private key (PEM). Encrypted at rest; never returned."`
	GuestURL     string  `json:"guestUrl,omitempty" maxLength:"1024" doc:"The URL enrolled guests reach the server at, when it is not url (another name or address on their network)."`
	TLS          ChefTLS `json:"tls,omitzero"`
	// ConvergeCommand is run in a guest to converge it.
	ConvergeCommand        []string `json:"convergeCommand,omitempty" maxItems:"64" doc:"The command run inside an instance to converge it, without a shell; default [\"chef-client\"]."`
	ConvergeTimeoutSeconds int      `json:"convergeTimeoutSeconds,omitempty" minimum:"0" maximum:"3600" doc:"How long one converge may run (default 600 seconds)."`
	IdempotencyKey         string   `json:"-"`
}

// ChefServerPatch changes a Chef server; nil fields are unchanged.
type ChefServerPatch struct {
	Key                    *string   `json:"key,omitempty" maxLength:"16384" doc:"A new private key of the API client (PEM)."`
	GuestURL               *string   `json:"guestUrl,omitempty" maxLength:"1024"`
	TLS                    *ChefTLS  `json:"tls,omitempty"`
	ConvergeCommand        *[]string `json:"convergeCommand,omitempty" maxItems:"64"`
	ConvergeTimeoutSeconds *int      `json:"convergeTimeoutSeconds,omitempty" minimum:"0" maximum:"3600"`
}

// ChefServer is a registered Chef server. Tenants read its id, name and
// organisation only; the rest is for administrators.
type ChefServer struct {
	ID                     ovm.ID    `json:"id"`
	Name                   string    `json:"name"`
	Organization           string    `json:"organization"`
	URL                    string    `json:"url,omitempty" doc:"Administrators only."`
	ClientName             string    `json:"clientName,omitempty" doc:"Administrators only."`
	GuestURL               string    `json:"guestUrl,omitempty" doc:"Administrators only."`
	TLS                    *ChefTLS  `json:"tls,omitempty" doc:"Administrators only."`
	ConvergeCommand        []string  `json:"convergeCommand,omitempty" doc:"Administrators only."`
	ConvergeTimeoutSeconds int       `json:"convergeTimeoutSeconds,omitempty" doc:"Administrators only."`
	CreatedAt              time.Time `json:"createdAt"`
}

// ChefCatalog is what a Chef server offers to run on instances.
type ChefCatalog struct {
	Cookbooks    []ChefCookbook    `json:"cookbooks"`
	Roles        []ChefRole        `json:"roles"`
	Environments []ChefEnvironment `json:"environments"`
}

// ChefCookbook is a cookbook and its versions, newest first.
type ChefCookbook struct {
	Name     string                `json:"name"`
	Versions []ChefCookbookVersion `json:"versions"`
}

// ChefCookbookVersion is a cookbook version and its recipes.
type ChefCookbookVersion struct {
	Version string   `json:"version"`
	Recipes []string `json:"recipes" doc:"Recipe names; run one as recipe[COOKBOOK::RECIPE] (default: recipe[COOKBOOK])."`
}

// ChefRole is a role and its run list.
type ChefRole struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	RunList     []string `json:"runList"`
}

// ChefEnvironment is an environment.
type ChefEnvironment struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// ChefEnrol enrols an instance as a node of a Chef server.
type ChefEnrol struct {
	ServerID    ovm.ID   `json:"serverId" required:"true" doc:"The Chef server."`
	RunList     []string `json:"runList,omitempty" maxItems:"100" doc:"The node's initial run list: recipe[COOKBOOK], recipe[COOKBOOK::RECIPE], role[ROLE]."`
	Environment string   `json:"environment,omitempty" maxLength:"255" doc:"The node's environment (default _default)."`
}

// ChefNodeState is where an instance's enrolment is.
type ChefNodeState string

// The enrolment states.
const (
	ChefNodeEnrolling   ChefNodeState = "enrolling"
	ChefNodeEnrolled    ChefNodeState = "enrolled"
	ChefNodeFailed      ChefNodeState = "failed"
	ChefNodeUnenrolling ChefNodeState = "unenrolling"
)

// ChefOutcome is how one instance's converge ended.
type ChefOutcome string

// The converge outcomes.
const (
	ChefPending     ChefOutcome = "pending"
	ChefRunning     ChefOutcome = "running"
	ChefSucceeded   ChefOutcome = "succeeded"
	ChefFailed      ChefOutcome = "failed"
	ChefUnreachable ChefOutcome = "unreachable"
	ChefCancelled   ChefOutcome = "cancelled"
)

// Final reports whether the outcome will not change any more.
func (o ChefOutcome) Final() bool { return o != ChefPending && o != ChefRunning }

// ChefNode is an instance's enrolment: its node on a Chef server, named by
// the instance's id.
type ChefNode struct {
	InstanceID   ovm.ID        `json:"instanceId"`
	ServerID     ovm.ID        `json:"serverId"`
	NodeName     string        `json:"nodeName" doc:"The node's (and its API client's) name on the Chef server: the instance's id."`
	State        ChefNodeState `json:"state"`
	Message      string        `json:"message,omitempty" doc:"Why the enrolment failed."`
	RunList      []string      `json:"runList"`
	Environment  string        `json:"environment"`
	EnrolledAt   *time.Time    `json:"enrolledAt,omitempty"`
	LastConverge *ChefConverge `json:"lastConverge,omitempty"`
}

// ChefConverge is the last converge of a node.
type ChefConverge struct {
	RunID    ovm.ID      `json:"runId"`
	At       time.Time   `json:"at"`
	Outcome  ChefOutcome `json:"outcome"`
	OhaiTime *time.Time  `json:"ohaiTime,omitempty" doc:"When the node's converge saved its automatic attributes, as the Chef server has it."`
}

// ChefNodeTask is an enrolment change and the task that carries it out.
type ChefNodeTask struct {
	Node ChefNode `json:"node"`
	Task ovm.Task `json:"task"`
}

// ChefRunCreate converges instances: "install X on Y" (a run list added to
// the nodes of Y) or "update all" (every enrolled instance of a VDC, their
// run lists as they are).
type ChefRunCreate struct {
	VDCID       ovm.ID            `json:"vdcId,omitempty" doc:"The VDC (administrators; tenants run in their own)."`
	InstanceIDs []ovm.ID          `json:"instanceIds,omitempty" maxItems:"1000" doc:"The instances to converge; each must be enrolled."`
	All         bool              `json:"all,omitempty" doc:"Converge every enrolled instance of the VDC."`
	Labels      map[string]string `json:"labels,omitempty" doc:"Converge the enrolled instances that carry all these labels."`
	RunList     []string          `json:"runList,omitempty" maxItems:"100" doc:"Entries added to each node's run list before it converges (install X); each must exist on the node's Chef server."`
	Environment string            `json:"environment,omitempty" maxLength:"255" doc:"Move the nodes to this environment before they converge."`
	Concurrency int               `json:"concurrency,omitempty" minimum:"0" maximum:"50" doc:"How many instances converge at once (default 5)."`
	// IdempotencyKey makes the create safe to retry.
	IdempotencyKey string `json:"-"`
}

// ChefRunState is where a converge run is.
type ChefRunState string

// The run states: failed means some instance did not succeed.
const (
	ChefRunRunning    ChefRunState = "running"
	ChefRunCancelling ChefRunState = "cancelling"
	ChefRunSucceeded  ChefRunState = "succeeded"
	ChefRunFailed     ChefRunState = "failed"
	ChefRunCancelled  ChefRunState = "cancelled"
)

// ChefRun is one bulk converge and its per-instance results.
type ChefRun struct {
	ID          ovm.ID          `json:"id"`
	VDCID       ovm.ID          `json:"vdcId"`
	TaskID      ovm.ID          `json:"taskId"`
	State       ChefRunState    `json:"state"`
	RunList     []string        `json:"runList"`
	Environment string          `json:"environment"`
	Concurrency int             `json:"concurrency"`
	RetryOf     ovm.ID          `json:"retryOf,omitempty" doc:"The run whose failed instances this one retries."`
	Counts      ChefRunCounts   `json:"counts"`
	Results     []ChefRunResult `json:"results"`
	CreatedAt   time.Time       `json:"createdAt"`
	FinishedAt  *time.Time      `json:"finishedAt,omitempty"`
}

// ChefRunCounts counts a run's instances by outcome.
type ChefRunCounts struct {
	Total       int `json:"total"`
	Pending     int `json:"pending"`
	Running     int `json:"running"`
	Succeeded   int `json:"succeeded"`
	Failed      int `json:"failed"`
	Unreachable int `json:"unreachable"`
	Cancelled   int `json:"cancelled"`
}

// ChefRunResult is one instance's converge in a run.
type ChefRunResult struct {
	InstanceID   ovm.ID      `json:"instanceId"`
	InstanceName string      `json:"instanceName"`
	Outcome      ChefOutcome `json:"outcome"`
	ExitCode     int         `json:"exitCode"`
	Output       string      `json:"output" doc:"What the converge command printed (stdout, then stderr; at most 64 KiB)."`
	Message      string      `json:"message,omitempty" doc:"Why the instance could not be converged or read back."`
	RunList      []string    `json:"runList" doc:"The node's run list on the Chef server after the run."`
	OhaiTime     *time.Time  `json:"ohaiTime,omitempty" doc:"The node's ohai_time read back from the Chef server."`
	// Automatic are the node's top-level automatic attributes that are
	// plain values, as text.
	Automatic  map[string]string `json:"automatic,omitempty" doc:"The node's top-level automatic attributes that are plain values (hostname, platform...), read back from the Chef server."`
	Reenrolled bool              `json:"reenrolled,omitempty" doc:"The node was missing on the Chef server and was enrolled again."`
	StartedAt  *time.Time        `json:"startedAt,omitempty"`
	DurationMs int64             `json:"durationMs"`
}

// ChefRunTask is a run and the task that carries it out.
type ChefRunTask struct {
	Run  ChefRun  `json:"run"`
	Task ovm.Task `json:"task"`
}
