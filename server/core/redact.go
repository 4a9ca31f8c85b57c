package core

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// Tenants never see infrastructure (invariant 9). What the platform writes
// for its objects (task logs and errors, instance, volume and vApp member
// messages) is stored once, with the host names and the engines' own text
// that administrators need; what a tenant reads of it is redacted when
// read: every host's name, id and endpoint becomes hostWord. Redacting on
// read covers text from every writer (the task engine, the drivers'
// errors, which quote endpoints in their own words, the controllers)
// without each one having to remember, and it costs one read of the host
// records only when a tenant reads text at all.

// hostWord replaces a host's name, id or endpoint in what a tenant reads.
const hostWord = "(host)"

// hostText finds the hosts of the platform in text.
type hostText struct {
	needles []string // longest first
}

// loadHostText reads what names the platform's hosts.
func loadHostText(ctx context.Context, tx store.Tx) (*hostText, error) {
	rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindHost})
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	h := &hostText{}
	add := func(s string) {
		if len(s) >= 2 && !seen[s] {
			seen[s] = true
			h.needles = append(h.needles, s)
		}
	}
	for _, r := range rs {
		hr, err := decode[hostRecord](r)
		if err != nil {
			return nil, err
		}
		add(string(hr.ID))
		add(hr.ID.Short())
		add(hr.Name)
		add(hr.Endpoint)
		if u, err := url.Parse(hr.Endpoint); err == nil {
			add(u.Host)
			add(u.Hostname())
			if strings.Count(u.Path, "/") > 1 { // a socket's path, not qemu:///system's "/system"
				add(u.Path)
			}
		}
	}
	slices.SortFunc(h.needles, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	return h, nil
}

// redact replaces every whole occurrence of a host's name, id or endpoint
// in s by hostWord. Whole: not inside a longer word ("h1" in "sha1").
func (h *hostText) redact(s string) string {
	for _, n := range h.needles {
		if !strings.Contains(s, n) {
			continue
		}
		var b strings.Builder
		rest := s
		for {
			i := strings.Index(rest, n)
			if i < 0 {
				b.WriteString(rest)
				break
			}
			end := i + len(n)
			if (i > 0 && wordByte(rest[i-1]) && wordByte(n[0])) || (end < len(rest) && wordByte(rest[end]) && wordByte(n[len(n)-1])) {
				b.WriteString(rest[:end])
			} else {
				b.WriteString(rest[:i])
				b.WriteString(hostWord)
			}
			rest = rest[end:]
		}
		s = b.String()
	}
	return s
}

// wordByte reports a byte that continues a name: letters, digits, '-' and
// '_'.
func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// redactFor redacts the texts a tenant is about to read; administrators
// read them as they are. The host records are read only when some text is
// not empty; when they cannot be read, the texts are dropped rather than
// shown unredacted.
func (s *Service) redactFor(ctx context.Context, p auth.Principal, texts ...*string) {
	if p.Admin() || !slices.ContainsFunc(texts, func(t *string) bool { return *t != "" }) {
		return
	}
	var h *hostText
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		h, err = loadHostText(ctx, tx)
		return err
	})
	for _, t := range texts {
		if err != nil {
			*t = ""
		} else {
			*t = h.redact(*t)
		}
	}
	if err != nil {
		s.log.WarnContext(ctx, "core: read the hosts to redact what a tenant reads", "err", err)
	}
}

// taskTexts are the texts of tasks.
func taskTexts(ts ...*ovm.Task) []*string {
	var out []*string
	for _, t := range ts {
		out = append(out, &t.Error)
		for i := range t.Steps {
			out = append(out, &t.Steps[i].Error)
		}
		for i := range t.Log {
			out = append(out, &t.Log[i].Message)
		}
	}
	return out
}

// replicaLine is a task engine's line naming the replica (server
// machine and process) that runs the task: "started on OWNER", "resumed on
// OWNER at step x".
var replicaLine = regexp.MustCompile(`^(started|resumed) on [^ ,]+`)

// tenantTask is t as p may read it: no host, and no server replica either.
func (s *Service) tenantTask(ctx context.Context, p auth.Principal, t ovm.Task) ovm.Task {
	if p.Admin() {
		return t
	}
	t = withoutReplicas(t)
	s.redactFor(ctx, p, taskTexts(&t)...)
	return t
}

// withoutReplicas is a copy of t whose log does not name the replicas
// that ran it.
func withoutReplicas(t ovm.Task) ovm.Task {
	t.Steps, t.Log = slices.Clone(t.Steps), slices.Clone(t.Log)
	for i := range t.Log {
		t.Log[i].Message = replicaLine.ReplaceAllString(t.Log[i].Message, "$1")
	}
	return t
}

// tenantInstances redacts the messages of instances p reads.
func (s *Service) tenantInstances(ctx context.Context, p auth.Principal, insts ...*ovm.Instance) {
	texts := make([]*string, len(insts))
	for i, in := range insts {
		texts[i] = &in.Status.Message
	}
	s.redactFor(ctx, p, texts...)
}

// RedactTexts redacts texts (of an error) as p may read them: for a
// tenant, without any host's name, id or endpoint (the API's problems use
// it).
func (s *Service) RedactTexts(ctx context.Context, p auth.Principal, texts ...*string) {
	s.redactFor(ctx, p, texts...)
}

// noRoom is the placement failure of a request as p may read it:
// administrators get every host's reason, tenants that the pool has no
// room for the request's demand.
func noRoom(p auth.Principal, err error, req placement.Request) error {
	var nf *placement.NoFitError
	if p.Admin() || !errors.As(err, &nf) {
		return err
	}
	return &ovm.Error{Kind: ovm.KindUnavailable, Message: fmt.Sprintf("the pool has no room for %q: %s", req.Name, demandText(req.Demand))}
}

// demandText renders a demand such as "50 vCPU, 4GiB memory".
func demandText(d ovm.Resources) string {
	var parts []string
	if d.CPU > 0 {
		parts = append(parts, d.CPU.String()+" vCPU")
	}
	if d.Memory > 0 {
		parts = append(parts, d.Memory.String()+" memory")
	}
	if d.Disk > 0 {
		parts = append(parts, d.Disk.String()+" disk")
	}
	if len(parts) == 0 {
		return "its image"
	}
	return strings.Join(parts, ", ")
}
