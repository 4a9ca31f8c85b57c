package api

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// schemaPrefix is where the document's named schemas live.
const schemaPrefix = "#/components/schemas/"

// enum is a closed set of values: one named schema of the document.
type enum struct {
	name   string
	values []any
}

func values[T ~string](vs ...T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// enums are the closed sets of the API by Go type. Each is one named
// schema that every field of its type refers to.
var enums = map[reflect.Type]enum{
	reflect.TypeFor[ovm.InstanceType]():    {"InstanceType", values(ovm.TypeVM, ovm.TypeContainer)},
	reflect.TypeFor[ovm.ImageFormat]():     {"ImageFormat", values(ovm.FormatQCOW2, ovm.FormatRaw, ovm.FormatVMDK, ovm.FormatOCI)},
	reflect.TypeFor[ovm.TaskState]():       {"TaskState", values(ovm.TaskPending, ovm.TaskRunning, ovm.TaskSucceeded, ovm.TaskRollingBack, ovm.TaskRolledBack, ovm.TaskFailed)},
	reflect.TypeFor[ovm.StepState]():       {"StepState", values(ovm.StepPending, ovm.StepRunning, ovm.StepDone, ovm.StepFailed, ovm.StepCompensated)},
	reflect.TypeFor[ovm.Phase]():           {"Phase", values(ovm.PhasePending, ovm.PhaseCreating, ovm.PhaseReady, ovm.PhaseFailed, ovm.PhaseDeleting, ovm.PhaseLost, ovm.PhaseUnknown, ovm.PhaseResizing, ovm.PhaseAttaching, ovm.PhaseDetaching)},
	reflect.TypeFor[ovm.PowerState]():      {"PowerState", values(ovm.PowerRunning, ovm.PowerStopped, ovm.PowerPaused, ovm.PowerUnknown)},
	reflect.TypeFor[ovm.HostKind]():        {"HostKind", values(ovm.HostKVM, ovm.HostESXi, ovm.HostDocker, ovm.HostFake)},
	reflect.TypeFor[ovm.HostState]():       {"HostState", values(ovm.HostUp, ovm.HostSuspect, ovm.HostFailed, ovm.HostMaintenance, ovm.HostEnteringMaintenance)},
	reflect.TypeFor[ovm.PlacementPolicy](): {"PlacementPolicy", values(ovm.PolicyPerformance, ovm.PolicyProgressive)},
	reflect.TypeFor[ovm.ScopeKind]():       {"ScopeKind", values(ovm.ScopeDatacenter, ovm.ScopePool, ovm.ScopeHosts)},
	reflect.TypeFor[ovm.StoragePoolKind](): {"StoragePoolKind", values(ovm.StorageLocal, ovm.StorageShared, ovm.StorageNFS)},
	reflect.TypeFor[ovm.RestartPolicy]():   {"RestartPolicy", values(ovm.RestartNo, ovm.RestartAlways, ovm.RestartOnFailure, ovm.RestartUnlessStopped)},
	reflect.TypeFor[ovm.Protocol]():        {"Protocol", values(ovm.ProtocolTCP, ovm.ProtocolUDP)},
	reflect.TypeFor[ovm.ChassisPower]():    {"ChassisPower", values(ovm.ChassisOn, ovm.ChassisOff)},
	reflect.TypeFor[ovm.AlertKind](): {"AlertKind", values(ha.AlertPartition, ha.AlertPartitionCleared, ha.AlertFenceUnconfirmed,
		ha.AlertInstancesLost, ha.AlertNotRestarted, ha.AlertStaleCopies)},
	reflect.TypeFor[apitypes.Role]():                {"Role", values(apitypes.Roles...)},
	reflect.TypeFor[apitypes.ConversionDirection](): {"ConversionDirection", values(apitypes.ConversionDirections...)},
	reflect.TypeFor[apitypes.ChefNodeState](): {"ChefNodeState", values(apitypes.ChefNodeEnrolling, apitypes.ChefNodeEnrolled,
		apitypes.ChefNodeFailed, apitypes.ChefNodeUnenrolling)},
	reflect.TypeFor[apitypes.ChefOutcome](): {"ChefOutcome", values(apitypes.ChefPending, apitypes.ChefRunning, apitypes.ChefSucceeded,
		apitypes.ChefFailed, apitypes.ChefUnreachable, apitypes.ChefCancelled)},
	reflect.TypeFor[apitypes.ChefRunState](): {"ChefRunState", values(apitypes.ChefRunRunning, apitypes.ChefRunCancelling,
		apitypes.ChefRunSucceeded, apitypes.ChefRunFailed, apitypes.ChefRunCancelled)},
	reflect.TypeFor[apitypes.AuditOutcome]():     {"AuditOutcome", values(apitypes.AuditOutcomes...)},
	reflect.TypeFor[apitypes.MigrationMode]():    {"MigrationMode", values(apitypes.MigrationModes...)},
	reflect.TypeFor[apitypes.Metric]():           {"Metric", values(apitypes.Metrics...)},
	reflect.TypeFor[apitypes.MetricSubject]():    {"MetricSubject", values(apitypes.MetricSubjects...)},
	reflect.TypeFor[apitypes.ScaleDirection]():   {"ScaleDirection", values(apitypes.ScaleDirections...)},
	reflect.TypeFor[apitypes.ScalingEventKind](): {"ScalingEventKind", values(apitypes.ScalingEventKinds...)},
	reflect.TypeFor[apitypes.TerminalMode]():     {"TerminalMode", values(apitypes.TerminalModes...)},
	reflect.TypeFor[apitypes.AlertComparison]():  {"AlertComparison", values(apitypes.AlertComparisons...)},
	reflect.TypeFor[apitypes.AlertSubject]():     {"AlertSubject", values(apitypes.AlertSubjects...)},
	reflect.TypeFor[apitypes.ImageKind]():        {"ImageKind", values(apitypes.ImageTemplate, apitypes.ImageContainer)},
	reflect.TypeFor[apitypes.ImagePhase]():       {"ImagePhase", values(apitypes.ImageUploading, apitypes.ImageReady, apitypes.ImageFailed)},
}

// enumSchema stands for the enum T in the schema generator: it answers a
// reference to T's named schema, adding that schema on first use.
type enumSchema[T ~string] struct{}

// Schema implements huma.SchemaProvider.
func (enumSchema[T]) Schema(r huma.Registry) *huma.Schema {
	e := enums[reflect.TypeFor[T]()]
	if _, ok := r.Map()[e.name]; !ok {
		s := &huma.Schema{Type: huma.TypeString, Enum: e.values}
		s.PrecomputeMessages()
		r.Map()[e.name] = s
	}
	return &huma.Schema{Ref: schemaPrefix + e.name}
}

// idSchema stands for ovm.ID: a UUID.
type idSchema struct{}

// Schema implements huma.SchemaProvider.
func (idSchema) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Format: "uuid"}
}

// registerTypes makes the schema generator describe every enum as a
// reference to its named schema and every ovm.ID as a UUID.
func registerTypes(r huma.Registry) {
	alias := func(t, by reflect.Type) { r.RegisterTypeAlias(t, by) }
	alias(reflect.TypeFor[ovm.ID](), reflect.TypeFor[idSchema]())
	alias(reflect.TypeFor[ovm.InstanceType](), reflect.TypeFor[enumSchema[ovm.InstanceType]]())
	alias(reflect.TypeFor[ovm.ImageFormat](), reflect.TypeFor[enumSchema[ovm.ImageFormat]]())
	alias(reflect.TypeFor[ovm.TaskState](), reflect.TypeFor[enumSchema[ovm.TaskState]]())
	alias(reflect.TypeFor[ovm.StepState](), reflect.TypeFor[enumSchema[ovm.StepState]]())
	alias(reflect.TypeFor[ovm.Phase](), reflect.TypeFor[enumSchema[ovm.Phase]]())
	alias(reflect.TypeFor[ovm.PowerState](), reflect.TypeFor[enumSchema[ovm.PowerState]]())
	alias(reflect.TypeFor[ovm.HostKind](), reflect.TypeFor[enumSchema[ovm.HostKind]]())
	alias(reflect.TypeFor[ovm.HostState](), reflect.TypeFor[enumSchema[ovm.HostState]]())
	alias(reflect.TypeFor[ovm.PlacementPolicy](), reflect.TypeFor[enumSchema[ovm.PlacementPolicy]]())
	alias(reflect.TypeFor[ovm.ScopeKind](), reflect.TypeFor[enumSchema[ovm.ScopeKind]]())
	alias(reflect.TypeFor[ovm.StoragePoolKind](), reflect.TypeFor[enumSchema[ovm.StoragePoolKind]]())
	alias(reflect.TypeFor[ovm.RestartPolicy](), reflect.TypeFor[enumSchema[ovm.RestartPolicy]]())
	alias(reflect.TypeFor[ovm.Protocol](), reflect.TypeFor[enumSchema[ovm.Protocol]]())
	alias(reflect.TypeFor[ovm.AlertKind](), reflect.TypeFor[enumSchema[ovm.AlertKind]]())
	alias(reflect.TypeFor[apitypes.Role](), reflect.TypeFor[enumSchema[apitypes.Role]]())
	alias(reflect.TypeFor[apitypes.ChefNodeState](), reflect.TypeFor[enumSchema[apitypes.ChefNodeState]]())
	alias(reflect.TypeFor[apitypes.ChefOutcome](), reflect.TypeFor[enumSchema[apitypes.ChefOutcome]]())
	alias(reflect.TypeFor[apitypes.ChefRunState](), reflect.TypeFor[enumSchema[apitypes.ChefRunState]]())
	alias(reflect.TypeFor[apitypes.AuditOutcome](), reflect.TypeFor[enumSchema[apitypes.AuditOutcome]]())
	alias(reflect.TypeFor[apitypes.Metric](), reflect.TypeFor[enumSchema[apitypes.Metric]]())
	alias(reflect.TypeFor[apitypes.MetricSubject](), reflect.TypeFor[enumSchema[apitypes.MetricSubject]]())
	alias(reflect.TypeFor[apitypes.ScaleDirection](), reflect.TypeFor[enumSchema[apitypes.ScaleDirection]]())
	alias(reflect.TypeFor[apitypes.ScalingEventKind](), reflect.TypeFor[enumSchema[apitypes.ScalingEventKind]]())
	alias(reflect.TypeFor[apitypes.TerminalMode](), reflect.TypeFor[enumSchema[apitypes.TerminalMode]]())
	alias(reflect.TypeFor[apitypes.AlertComparison](), reflect.TypeFor[enumSchema[apitypes.AlertComparison]]())
	alias(reflect.TypeFor[apitypes.AlertSubject](), reflect.TypeFor[enumSchema[apitypes.AlertSubject]]())
	alias(reflect.TypeFor[apitypes.ImageKind](), reflect.TypeFor[enumSchema[apitypes.ImageKind]]())
	alias(reflect.TypeFor[apitypes.ImagePhase](), reflect.TypeFor[enumSchema[apitypes.ImagePhase]]())
	alias(reflect.TypeFor[apitypes.ConversionDirection](), reflect.TypeFor[enumSchema[apitypes.ConversionDirection]]())
}

// limits are the bounds package core enforces on fields of named request
// schemas, shown in the document (see documented).
var limits = map[string]map[string]func(s *huma.Schema){
	"InstanceSpec":  {"cpuMilli": cpuBounds, "memoryBytes": memoryBounds, "disks": maxItems(ovm.MaxDisks), "nics": maxItems(ovm.MaxNICs)},
	"InstancePatch": {"cpuMilli": cpuBounds, "memoryBytes": memoryBounds},
	"VolumeCreate":  {"sizeBytes": volumeSize},
	"VolumePatch":   {"sizeBytes": volumeSize},
	"ImageCreate":   {"size": func(s *huma.Schema) { s.Minimum, s.Maximum = ptr(1), ptr(float64(4*ovm.TiB)) }},
	"NetworkCreate": {"vlan": func(s *huma.Schema) { s.Minimum, s.Maximum = ptr(0), ptr(4094) }},
}

func cpuBounds(s *huma.Schema) { s.ExclusiveMinimum, s.Maximum = ptr(0), ptr(float64(ovm.MaxCPU)) }
func memoryBounds(s *huma.Schema) {
	s.Minimum, s.Maximum = ptr(float64(ovm.MinMemory)), ptr(float64(ovm.MaxMemory))
}
func volumeSize(s *huma.Schema) { s.Minimum, s.Maximum = ptr(1), ptr(float64(64*ovm.TiB)) }
func maxItems(n int) func(*huma.Schema) {
	return func(s *huma.Schema) { s.MaxItems = iptr(n) }
}

// named are the request schemas whose "name" is an object name.
var named = []string{"InstanceCreate", "VAppCreate", "VAppMember", "NetworkCreate", "VolumeCreate", "DatacenterCreate",
	"PoolCreate", "HostRegister", "DiscoveredImport", "VDCCreate", "UserCreate", "SnapshotCreate", "ScalingGroupCreate",
	"AlertRuleCreate"}

func ptr(f float64) *float64 { return &f }
func iptr(i int) *int        { return &i }

// finishDocument completes the document once every operation is
// registered: the statuses every operation can answer, and request and
// response schemas apart (see splitSchemas).
func finishDocument(api huma.API, taskKinds []string) {
	oapi := api.OpenAPI()
	nameTaskKinds(oapi, taskKinds)
	for _, item := range oapi.Paths {
		for _, o := range operationsOf(item) {
			declareStatuses(o)
		}
	}
	splitSchemas(oapi)
}

// nameTaskKinds makes a task's kind the named enum TaskKind of the kinds
// the task engine runs. (ovm.Task.Kind is a plain string: the kinds are
// the server's.)
func nameTaskKinds(oapi *huma.OpenAPI, kinds []string) {
	all := oapi.Components.Schemas.Map()
	task := all["Task"]
	if task == nil || task.Properties["kind"] == nil || len(kinds) == 0 {
		return
	}
	e := &huma.Schema{Type: huma.TypeString, Enum: values(kinds...)}
	e.PrecomputeMessages()
	all["TaskKind"] = e
	props := maps.Clone(task.Properties)
	props["kind"] = &huma.Schema{Ref: schemaPrefix + "TaskKind", Description: task.Properties["kind"].Description}
	task.Properties = props
	task.PrecomputeMessages()
}

func operationsOf(item *huma.PathItem) []*huma.Operation {
	var out []*huma.Operation
	for _, o := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Options, item.Head, item.Patch, item.Trace} {
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

// declareStatuses declares, in one place, the statuses the framework and
// the helpers answer: 413 and 415 on every operation that takes a body,
// 412 on every one that takes If-Match, 409 on every create (a duplicate
// name, or an idempotency key reused with another request), and the 202
// of the operations in alsoAccepted.
func declareStatuses(o *huma.Operation) {
	problem := func(status int) {
		k := strconv.Itoa(status)
		if _, ok := o.Responses[k]; ok {
			return
		}
		o.Responses[k] = &huma.Response{Description: http.StatusText(status),
			Content: map[string]*huma.MediaType{"application/problem+json": {Schema: &huma.Schema{Ref: schemaPrefix + "ErrorModel"}}}}
	}
	if o.RequestBody != nil {
		problem(http.StatusRequestEntityTooLarge)
		problem(http.StatusUnsupportedMediaType)
	}
	for _, p := range o.Parameters {
		switch {
		case p.In == "header" && p.Name == "If-Match":
			problem(http.StatusPreconditionFailed)
		case p.In == "header" && p.Name == "Idempotency-Key":
			problem(http.StatusConflict)
		}
	}
	if desc, ok := alsoAccepted[o.OperationID]; ok {
		if ok, found := o.Responses["200"]; found {
			if _, declared := o.Responses["202"]; !declared {
				o.Responses["202"] = &huma.Response{Description: desc, Content: ok.Content}
			}
		}
	}
}

// alsoAccepted are the operations that answer 200 when the change is done
// at once and 202 when it needs a task, with what the 202 means.
var alsoAccepted = map[string]string{
	"update-instance":     "Accepted: the size changes in the resize task of the answer.",
	"update-storage-pool": "Accepted: the added hosts get the pool in the task of the answer.",
	"delete-storage-pool": "Accepted: the pool is removed from its hosts in the task of the answer (a discovered pool is forgotten at once: 200).",
}

// splitSchemas keeps requests strict and responses open. A named schema
// that both a request and a response use is copied for requests
// (NAMEInput), so that the two can differ: request schemas keep refusing
// unknown fields and require only what a request must give, response
// schemas require every field the server always sends and allow fields
// added later. The bounds of limits and names go on the request schemas.
func splitSchemas(oapi *huma.OpenAPI) {
	reg := oapi.Components.Schemas
	all := reg.Map()
	doc := &documented{Registry: reg, bounded: map[string]*huma.Schema{}}
	oapi.Components.Schemas = doc
	var reqRoots, respRoots []*huma.Schema
	for _, item := range oapi.Paths {
		for _, o := range operationsOf(item) {
			if o.RequestBody != nil {
				for _, mt := range o.RequestBody.Content {
					reqRoots = append(reqRoots, mt.Schema)
				}
			}
			for _, r := range o.Responses {
				for _, mt := range r.Content {
					respRoots = append(respRoots, mt.Schema)
				}
			}
		}
	}
	req, resp := reachable(all, reqRoots), reachable(all, respRoots)
	renamed := map[string]string{}
	for name := range req {
		if resp[name] && isObject(all[name]) {
			renamed[schemaPrefix+name] = schemaPrefix + name + "Input"
		}
	}
	for name := range req {
		if !isObject(all[name]) {
			continue
		}
		in := name
		if to, ok := renamed[schemaPrefix+name]; ok {
			in = strings.TrimPrefix(to, schemaPrefix)
			c := *all[name]
			all[in] = &c
		}
		all[in] = rewriteRefs(all[in], renamed)
		if b := requestBounds(strings.TrimSuffix(in, "Input"), all[in]); b != nil {
			doc.bounded[in] = b
		}
	}
	for _, item := range oapi.Paths {
		for _, o := range operationsOf(item) {
			if o.RequestBody != nil {
				for _, mt := range o.RequestBody.Content {
					// In place: the framework validates bodies against the
					// schema it was given at registration.
					if to, ok := renamed[mt.Schema.Ref]; ok {
						mt.Schema.Ref = to
					}
				}
			}
		}
	}
	for name := range resp {
		s := all[name]
		if !isObject(s) {
			continue
		}
		if b, ok := s.AdditionalProperties.(bool); ok && !b {
			s.AdditionalProperties = nil
		}
		s.Required = alwaysSent(reg.TypeFromRef(schemaPrefix+name), s)
		s.PrecomputeMessages()
	}
}

// requestBounds returns the request schema s of the named type as the
// document shows it, with the bounds the server enforces (nil when it has
// none).
func requestBounds(name string, s *huma.Schema) *huma.Schema {
	var props map[string]*huma.Schema
	set := func(field string, f func(*huma.Schema)) {
		p, ok := s.Properties[field]
		if !ok {
			return
		}
		if props == nil {
			props = maps.Clone(s.Properties)
		}
		c := *p
		f(&c)
		props[field] = &c
	}
	for field, f := range limits[name] {
		set(field, f)
	}
	if slices.Contains(named, name) {
		set("name", func(p *huma.Schema) {
			p.Pattern, p.PatternDescription, p.MaxLength = ovm.NamePattern, "a lower-case DNS label", iptr(63)
		})
	}
	if props == nil {
		return nil
	}
	c := *s
	c.Properties = props
	return &c
}

// documented is the schema registry as the document shows it: the request
// schemas carry the bounds that package core enforces (limits, name
// patterns). The framework validates requests against the registry
// without them, so that core checks those bounds itself and names every
// field that breaks one in one answer, in its own words.
type documented struct {
	huma.Registry
	bounded map[string]*huma.Schema
}

func (d *documented) schemas() map[string]*huma.Schema {
	out := maps.Clone(d.Map())
	maps.Copy(out, d.bounded)
	return out
}

// MarshalJSON writes the documented schemas.
func (d *documented) MarshalJSON() ([]byte, error) { return json.Marshal(d.schemas()) }

// MarshalYAML returns the documented schemas.
func (d *documented) MarshalYAML() (any, error) { return d.schemas(), nil }

func isObject(s *huma.Schema) bool {
	return s != nil && s.Type == huma.TypeObject && s.Properties != nil
}

// reachable returns the names of the schemas the roots refer to, directly
// or through other schemas.
func reachable(all map[string]*huma.Schema, roots []*huma.Schema) map[string]bool {
	seen := map[string]bool{}
	var walk func(s *huma.Schema)
	walk = func(s *huma.Schema) {
		if s == nil {
			return
		}
		if s.Ref != "" {
			name := strings.TrimPrefix(s.Ref, schemaPrefix)
			if !seen[name] {
				seen[name] = true
				walk(all[name])
			}
		}
		walk(s.Items)
		walk(s.Not)
		if ap, ok := s.AdditionalProperties.(*huma.Schema); ok {
			walk(ap)
		}
		for _, p := range s.Properties {
			walk(p)
		}
		for _, l := range [][]*huma.Schema{s.OneOf, s.AnyOf, s.AllOf} {
			for _, p := range l {
				walk(p)
			}
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return seen
}

// rewriteRefs returns s with the references of renamed replaced, copying
// only what changes.
func rewriteRefs(s *huma.Schema, renamed map[string]string) *huma.Schema {
	if s == nil {
		return nil
	}
	c := *s
	changed := false
	if to, ok := renamed[c.Ref]; ok {
		c.Ref, changed = to, true
	}
	if n := rewriteRefs(c.Items, renamed); n != c.Items {
		c.Items, changed = n, true
	}
	if ap, ok := c.AdditionalProperties.(*huma.Schema); ok {
		if n := rewriteRefs(ap, renamed); n != ap {
			c.AdditionalProperties, changed = n, true
		}
	}
	if c.Properties != nil {
		props := make(map[string]*huma.Schema, len(c.Properties))
		for k, p := range c.Properties {
			props[k] = rewriteRefs(p, renamed)
			if props[k] != p {
				changed = true
			}
		}
		c.Properties = props
	}
	if !changed {
		return s
	}
	c.PrecomputeMessages()
	return &c
}

// alwaysSent returns the properties of s that the server always sends: the
// JSON fields of t (embedded structs inlined) without omitempty or
// omitzero. huma's own problem types say what every problem has.
func alwaysSent(t reflect.Type, s *huma.Schema) []string {
	switch t {
	case reflect.TypeFor[huma.ErrorModel]():
		return []string{"status", "title"}
	case reflect.TypeFor[huma.ErrorDetail]():
		return []string{"message"}
	}
	var out []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for f := range t.Fields() {
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if !f.IsExported() || name == "-" || strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, ok := s.Properties[name]; ok && !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	if t != nil {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() == reflect.Struct {
			walk(t)
		}
	}
	slices.Sort(out)
	return out
}
