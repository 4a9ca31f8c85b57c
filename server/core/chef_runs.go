package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/chef"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// ChefRun is a bulk converge and its per-instance results.
type ChefRun = apitypes.ChefRun

// ChefRunTask is a run and its task.
type ChefRunTask = apitypes.ChefRunTask

// The bounds of a converge run.
const (
	DefaultChefConcurrency = 5
	MaxChefConcurrency     = 50
	// maxChefOutput is how much of a converge's output a result keeps.
	maxChefOutput = 64 << 10
	// chefCancelPoll is how often a running converge looks for a cancel.
	chefCancelPoll = 500 * time.Millisecond
)

// chefRunInput is the input of a chef.converge task.
type chefRunInput struct {
	RunID ovm.ID `json:"runId"`
}

// chefTarget is an instance a run converges.
type chefTarget struct {
	id   ovm.ID
	name string
	node ChefNode
}

// CreateChefRun converges instances in one task: the ones named, every
// enrolled instance of the VDC (all), or those carrying labels. A run list
// given is added to each node's run list first ("install X on Y"); without
// one the nodes converge as they are ("update all"). Up to Concurrency
// instances converge at once; each gets its own result.
func (s *Service) CreateChefRun(ctx context.Context, p auth.Principal, in apitypes.ChefRunCreate) (ChefRunTask, error) {
	vdc, err := resolveVDC(p, in.VDCID, true)
	if err != nil {
		return ChefRunTask{}, err
	}
	var f ovm.Fields
	selectors := 0
	for _, set := range []bool{len(in.InstanceIDs) > 0, in.All, len(in.Labels) > 0} {
		if set {
			selectors++
		}
	}
	if selectors != 1 {
		f.Add("instanceIds", "name the instances, or set all, or give labels: exactly one of them")
	}
	if in.Concurrency < 0 || in.Concurrency > MaxChefConcurrency {
		f.Addf("concurrency", "must be between 1 and %d", MaxChefConcurrency)
	}
	items, err := chef.ParseRunList("runList", in.RunList)
	f.Merge("", err)
	if err := f.Err("invalid chef run"); err != nil {
		return ChefRunTask{}, err
	}
	if in.Concurrency == 0 {
		in.Concurrency = DefaultChefConcurrency
	}
	targets, err := s.chefTargets(ctx, p, vdc, in)
	if err != nil {
		return ChefRunTask{}, err
	}
	if len(items) > 0 || in.Environment != "" {
		servers := map[ovm.ID]bool{}
		for _, t := range targets {
			servers[t.node.ServerID] = true
		}
		for _, id := range slices.Sorted(maps.Keys(servers)) {
			_, c, err := s.chefServerByID(ctx, id)
			if err != nil {
				return ChefRunTask{}, err
			}
			if _, err := checkRunListOn(ctx, c, "runList", in.RunList, "environment", in.Environment); err != nil {
				return ChefRunTask{}, err
			}
		}
	}
	run := ChefRun{ID: ovm.NewID(), VDCID: vdc, State: apitypes.ChefRunRunning, RunList: chef.Strings(items), Environment: in.Environment,
		Concurrency: in.Concurrency, CreatedAt: s.now()}
	return s.startChefRun(ctx, p, run, targets, in.IdempotencyKey, in)
}

// startChefRun records a run over targets and enqueues its task.
func (s *Service) startChefRun(ctx context.Context, p auth.Principal, run ChefRun, targets []chefTarget, key string, req any) (ChefRunTask, error) {
	for _, t := range targets {
		run.Results = append(run.Results, apitypes.ChefRunResult{InstanceID: t.id, InstanceName: t.name, Outcome: apitypes.ChefPending,
			RunList: slices.Clone(t.node.RunList)})
	}
	run.Counts = countResults(run.Results)
	var out ChefRunTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "chefrun.create", key, req, &out, func() error {
			task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskChefConverge, VDCID: run.VDCID, TargetID: run.ID, Input: chefRunInput{RunID: run.ID}})
			if err != nil {
				return err
			}
			run.TaskID = task.ID
			rec := store.Record{Kind: kindChefRun, ID: run.ID, VDCID: run.VDCID, ParentID: run.RetryOf, Name: string(run.ID)}
			if err := setData(&rec, run); err != nil {
				return err
			}
			out = ChefRunTask{Run: run, Task: task}
			return tx.Insert(ctx, &rec)
		})
	})
	if err != nil {
		return ChefRunTask{}, err
	}
	s.tasks.Kick()
	return out, nil
}

// chefTargets selects the enrolled instances of a run in vdc.
func (s *Service) chefTargets(ctx context.Context, p auth.Principal, vdc ovm.ID, in apitypes.ChefRunCreate) ([]chefTarget, error) {
	var out []chefTarget
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		out = nil
		var f ovm.Fields
		if len(in.InstanceIDs) > 0 {
			seen := map[ovm.ID]bool{}
			for i, id := range in.InstanceIDs {
				field := fmt.Sprintf("instanceIds[%d]", i)
				if seen[id] {
					f.Add(field, "is named twice")
					continue
				}
				seen[id] = true
				t, err := chefTargetOf(ctx, tx, p, vdc, id)
				if err != nil {
					if k := ovm.KindOf(err); k != ovm.KindNotFound && k != ovm.KindConflict {
						return err
					}
					f.Add(field, err.Error())
					continue
				}
				out = append(out, t)
			}
			return f.Err("the run names instances it cannot converge")
		}
		nodes, err := listAll(ctx, tx, store.Filter{Kind: kindChefNode, VDCID: vdc})
		if err != nil {
			return err
		}
		for _, r := range nodes {
			t, err := chefTargetOf(ctx, tx, p, vdc, r.ID)
			if k := ovm.KindOf(err); k == ovm.KindNotFound || k == ovm.KindConflict {
				continue
			} else if err != nil {
				return err
			}
			if len(in.Labels) > 0 {
				ir, err := tx.Get(ctx, store.KindInstance, r.ID)
				if err != nil {
					return err
				}
				inst, err := decode[instanceRecord](ir)
				if err != nil {
					return err
				}
				if !hasLabels(inst.Spec.Labels, in.Labels) {
					continue
				}
			}
			out = append(out, t)
		}
		if len(out) == 0 {
			field := "all"
			if len(in.Labels) > 0 {
				field = "labels"
			}
			return invalid("no instance to converge", field, "no enrolled instance of the vdc matches")
		}
		return nil
	})
	return out, err
}

// hasLabels reports whether labels has every pair of want.
func hasLabels(labels, want map[string]string) bool {
	for k, v := range want {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// chefTargetOf reads an enrolled instance of vdc that p may see: another
// VDC's is not found, one not enrolled a conflict.
func chefTargetOf(ctx context.Context, tx store.Tx, p auth.Principal, vdc, id ovm.ID) (chefTarget, error) {
	r, err := getVisible(ctx, tx, p, store.KindInstance, id)
	if err == nil && r.VDCID != vdc {
		err = ovm.NotFound("instance", id)
	}
	if err != nil {
		return chefTarget{}, err
	}
	node, _, err := getAs[ChefNode](ctx, tx, kindChefNode, id)
	if ovm.KindOf(err) == ovm.KindNotFound {
		return chefTarget{}, conflictf("instance %s is not enrolled in a chef server", r.Name)
	}
	if err != nil {
		return chefTarget{}, err
	}
	if node.State != apitypes.ChefNodeEnrolled {
		return chefTarget{}, conflictf("instance %s is not enrolled in a chef server (its enrolment is %s)", r.Name, node.State)
	}
	return chefTarget{id: id, name: r.Name, node: node}, nil
}

// countResults counts results by outcome.
func countResults(rs []apitypes.ChefRunResult) apitypes.ChefRunCounts {
	c := apitypes.ChefRunCounts{Total: len(rs)}
	for _, r := range rs {
		switch r.Outcome {
		case apitypes.ChefPending:
			c.Pending++
		case apitypes.ChefRunning:
			c.Running++
		case apitypes.ChefSucceeded:
			c.Succeeded++
		case apitypes.ChefFailed:
			c.Failed++
		case apitypes.ChefUnreachable:
			c.Unreachable++
		case apitypes.ChefCancelled:
			c.Cancelled++
		}
	}
	return c
}

// visibleRun reads a run of a VDC the principal may see.
func visibleRun(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID) (store.Record, ChefRun, error) {
	r, err := getVisible(ctx, tx, p, kindChefRun, id)
	if ovm.KindOf(err) == ovm.KindNotFound {
		return r, ChefRun{}, ovm.NotFound("chef run", id)
	}
	if err != nil {
		return r, ChefRun{}, err
	}
	run, err := decode[ChefRun](r)
	return r, run, err
}

// GetChefRun returns a run of a VDC the principal may see.
func (s *Service) GetChefRun(ctx context.Context, p auth.Principal, id ovm.ID) (ChefRun, int64, error) {
	var out ChefRun
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, run, err := visibleRun(ctx, tx, p, id)
		out, ver = run, r.Version
		return err
	})
	if err != nil {
		return ChefRun{}, 0, err
	}
	s.redactRun(ctx, p, &out)
	return out, ver, nil
}

// redactRun redacts the texts of a run a tenant reads.
func (s *Service) redactRun(ctx context.Context, p auth.Principal, runs ...*ChefRun) {
	var texts []*string
	for _, r := range runs {
		for i := range r.Results {
			texts = append(texts, &r.Results[i].Output, &r.Results[i].Message)
		}
	}
	s.redactFor(ctx, p, texts...)
}

// ListChefRuns lists the runs of the principal's VDC (or of every VDC, or
// one, for an administrator).
func (s *Service) ListChefRuns(ctx context.Context, p auth.Principal, o ListOptions) (Page[ChefRun], error) {
	vdc, err := resolveVDC(p, o.VDCID, false)
	if err != nil {
		return Page[ChefRun]{}, err
	}
	var out Page[ChefRun]
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = listPage(ctx, tx, vdcFilter(kindChefRun, vdc), o, decode[ChefRun])
		return err
	})
	if err != nil {
		return out, err
	}
	runs := make([]*ChefRun, len(out.Items))
	for i := range out.Items {
		runs[i] = &out.Items[i]
	}
	s.redactRun(ctx, p, runs...)
	return out, nil
}

// CancelChefRun asks a running run to stop: instances not started yet are
// not converged, and running converges are interrupted; each ends
// cancelled.
func (s *Service) CancelChefRun(ctx context.Context, p auth.Principal, id ovm.ID) (ChefRun, int64, error) {
	var out ChefRun
	var ver int64
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, run, err := visibleRun(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if run.State != apitypes.ChefRunRunning {
			return conflictf("chef run %s is %s: only a running one can be cancelled", id, run.State)
		}
		run.State = apitypes.ChefRunCancelling
		if err := save(ctx, tx, &r, run); err != nil {
			return err
		}
		out, ver = run, r.Version
		return nil
	})
	if err == nil {
		s.redactRun(ctx, p, &out)
	}
	return out, ver, err
}

// RetryChefRun starts a run over the instances of a finished run that
// failed, were unreachable or were cancelled, with the same run list,
// environment and concurrency.
func (s *Service) RetryChefRun(ctx context.Context, p auth.Principal, id ovm.ID, key string) (ChefRunTask, error) {
	old, _, err := s.GetChefRun(ctx, p, id)
	if err != nil {
		return ChefRunTask{}, err
	}
	if old.State == apitypes.ChefRunRunning || old.State == apitypes.ChefRunCancelling {
		return ChefRunTask{}, conflictf("chef run %s is %s: retry it once it ended", id, old.State)
	}
	var ids []ovm.ID
	for _, r := range old.Results {
		if r.Outcome == apitypes.ChefFailed || r.Outcome == apitypes.ChefUnreachable || r.Outcome == apitypes.ChefCancelled {
			ids = append(ids, r.InstanceID)
		}
	}
	if len(ids) == 0 {
		return ChefRunTask{}, conflictf("chef run %s has no failed, unreachable or cancelled instance to retry", id)
	}
	in := apitypes.ChefRunCreate{VDCID: old.VDCID, InstanceIDs: ids}
	targets, err := s.chefTargets(ctx, p, old.VDCID, in)
	if err != nil {
		return ChefRunTask{}, err
	}
	run := ChefRun{ID: ovm.NewID(), VDCID: old.VDCID, State: apitypes.ChefRunRunning, RunList: old.RunList, Environment: old.Environment,
		Concurrency: old.Concurrency, RetryOf: id, CreatedAt: s.now()}
	return s.startChefRun(ctx, p, run, targets, key, struct {
		Retry ovm.ID `json:"retry"`
	}{id})
}

// chefConvergeHandler is the chef.converge task kind.
type chefConvergeHandler struct{ s *Service }

// Steps returns the one step of a run (tasks.Handler): converge every
// instance not done yet, so that a resumed run goes on where it stopped.
func (h chefConvergeHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[chefRunInput](t)
	if err != nil {
		return nil, err
	}
	return []tasks.Step{{
		Name: "converge",
		Do:   func(ctx context.Context, r *tasks.Run) error { return h.s.convergeRun(ctx, r, in.RunID) },
	}}, nil
}

// Finish gives the run its final state; results that never ended are
// cancelled.
func (h chefConvergeHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	return h.s.updateChefRun(ctx, r.Task().TargetID, func(run *ChefRun) {
		cancelled := run.State == apitypes.ChefRunCancelling
		for i := range run.Results {
			if !run.Results[i].Outcome.Final() {
				run.Results[i].Outcome = apitypes.ChefCancelled
				if cause != nil && run.Results[i].Message == "" {
					run.Results[i].Message = "the run ended: " + causeText(cause)
				}
			}
		}
		run.Counts = countResults(run.Results)
		now := h.s.now()
		run.FinishedAt = &now
		switch {
		case cancelled:
			run.State = apitypes.ChefRunCancelled
		case state == ovm.TaskSucceeded && run.Counts.Succeeded == run.Counts.Total:
			run.State = apitypes.ChefRunSucceeded
		default:
			run.State = apitypes.ChefRunFailed
		}
	})
}

// updateChefRun changes a run record in a transaction of its own.
func (s *Service) updateChefRun(ctx context.Context, id ovm.ID, change func(run *ChefRun)) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		run, r, err := getAs[ChefRun](ctx, tx, kindChefRun, id)
		if err != nil {
			return err
		}
		change(&run)
		return save(ctx, tx, &r, run)
	})
}

// convergeRun converges the run's instances not done yet, Concurrency at a
// time, saving each result as it ends, until all are done or the run is
// cancelled.
func (s *Service) convergeRun(ctx context.Context, r *tasks.Run, id ovm.ID) error {
	run, err := viewAs[ChefRun](ctx, s, kindChefRun, id)
	if err != nil {
		return err
	}
	work, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.watchRunCancel(work, cancel, id)

	var mu sync.Mutex // orders the saves of this run's results
	done := 0
	for _, res := range run.Results {
		if res.Outcome.Final() {
			done++
		}
	}
	total := len(run.Results)
	save := func(i int, res apitypes.ChefRunResult) error {
		mu.Lock()
		defer mu.Unlock()
		err := s.updateChefRun(ctx, id, func(run *ChefRun) {
			run.Results[i] = res
			run.Counts = countResults(run.Results)
		})
		if res.Outcome.Final() {
			done++
			r.Progress(done * 100 / max(total, 1))
		}
		return err
	}
	sem := make(chan struct{}, max(run.Concurrency, 1))
	var wg sync.WaitGroup
	var saveErr error
	var errOnce sync.Once
	for i, res := range run.Results {
		if res.Outcome.Final() {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-work.Done():
		}
		if work.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			now := s.now()
			res.Outcome, res.StartedAt = apitypes.ChefRunning, &now
			if err := save(i, res); err != nil {
				errOnce.Do(func() { saveErr = err })
				return
			}
			out := s.convergeOne(work, r, run, res)
			if err := save(i, out); err != nil {
				errOnce.Do(func() { saveErr = err })
			}
		})
	}
	wg.Wait()
	if saveErr != nil {
		return saveErr
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	final, err := viewAs[ChefRun](ctx, s, kindChefRun, id)
	if err != nil {
		return err
	}
	c := countResults(final.Results)
	r.Logf(slog.LevelInfo, "%d of %d instances converged: %d failed, %d unreachable, %d cancelled",
		c.Succeeded, c.Total, c.Failed, c.Unreachable, c.Cancelled+c.Pending+c.Running)
	return nil
}

// watchRunCancel ends work (cancel) once the run is asked to stop.
func (s *Service) watchRunCancel(work context.Context, cancel context.CancelFunc, id ovm.ID) {
	t := time.NewTicker(chefCancelPoll)
	defer t.Stop()
	for {
		select {
		case <-work.Done():
			return
		case <-t.C:
		}
		run, err := viewAs[ChefRun](work, s, kindChefRun, id)
		if err == nil && run.State == apitypes.ChefRunCancelling {
			cancel()
			return
		}
	}
}

// convergeOne converges one instance: it sets the node's run list (adding
// the run's), enrols the node again when it is missing on the Chef server,
// runs the server's converge command in the guest, and reads the node
// back. The outcome says how it went; nothing here fails the run.
func (s *Service) convergeOne(ctx context.Context, r *tasks.Run, run ChefRun, res apitypes.ChefRunResult) apitypes.ChefRunResult {
	start := time.Now()
	end := func(o apitypes.ChefOutcome, msg string) apitypes.ChefRunResult {
		if ctx.Err() != nil && o != apitypes.ChefSucceeded && o != apitypes.ChefFailed {
			o, msg = apitypes.ChefCancelled, "the run was cancelled"
		}
		res.Outcome, res.Message, res.DurationMs = o, msg, time.Since(start).Milliseconds()
		r.Logf(slog.LevelInfo, "instance %s: %s in %s", res.InstanceName, o, time.Since(start).Round(time.Millisecond))
		return res
	}
	if ctx.Err() != nil {
		return end(apitypes.ChefCancelled, "the run was cancelled before this instance started")
	}
	node, err := viewAs[ChefNode](ctx, s, kindChefNode, res.InstanceID)
	if err != nil {
		return end(apitypes.ChefUnreachable, "the instance's enrolment is gone: "+err.Error())
	}
	srv, c, err := s.chefServerByID(ctx, node.ServerID)
	if err != nil {
		return end(apitypes.ChefUnreachable, err.Error())
	}
	tg, err := s.load(ctx, res.InstanceID, "")
	if err != nil {
		return end(apitypes.ChefUnreachable, err.Error())
	}
	ex, err := s.execFacet(tg.hv, tg.inst.Name)
	if err != nil {
		return end(apitypes.ChefUnreachable, err.Error())
	}
	if tg.inst.Status.Power != ovm.PowerRunning {
		return end(apitypes.ChefUnreachable, fmt.Sprintf("instance %s is %s", tg.inst.Name, tg.inst.Status.Power))
	}
	items, err := chef.ParseRunList("runList", run.RunList)
	if err != nil {
		return end(apitypes.ChefFailed, err.Error())
	}

	// The node's run list, as the Chef server has it, plus the run's.
	cur, err := c.Node(ctx, node.NodeName)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound:
		list := chef.Merge(node.RunList, items)
		r.Logf(slog.LevelWarn, "instance %s: node %s is missing on the chef server: enrolling it again", res.InstanceName, node.NodeName)
		if err := s.enrolNode(ctx, r, res.InstanceID, node.ServerID, list, firstNonEmpty(run.Environment, node.Environment)); err != nil {
			return end(apitypes.ChefUnreachable, "enrolling the missing node again failed: "+err.Error())
		}
		res.Reenrolled = true
	case err != nil:
		return end(apitypes.ChefUnreachable, err.Error())
	case len(items) > 0 || run.Environment != "":
		if _, err := c.SetRunList(ctx, node.NodeName, chef.Merge(cur.RunList, items), run.Environment, false); err != nil {
			return end(apitypes.ChefUnreachable, err.Error())
		}
	}

	timeout := time.Duration(srv.ConvergeTimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = DefaultConvergeTimeout
	}
	cmd := srv.ConvergeCommand
	if len(cmd) == 0 {
		cmd = defaultConvergeCommand
	}
	ectx, cancel := context.WithTimeout(ctx, timeout)
	out, err := ex.Exec(ectx, ref(tg.inst), hypervisor.ExecSpec{Command: cmd})
	timedOut := ectx.Err() != nil && ctx.Err() == nil
	cancel()
	res.Output = clipOutput(out.Stdout, out.Stderr)
	res.ExitCode = out.ExitCode
	if err != nil {
		if timedOut {
			return end(apitypes.ChefFailed, fmt.Sprintf("the converge did not finish within %s", timeout))
		}
		return end(apitypes.ChefUnreachable, err.Error())
	}

	// Read the node back: the run list and ohai_time its converge saved.
	back, berr := c.Node(ctx, node.NodeName)
	if berr == nil {
		res.RunList = back.RunList
		res.Automatic = make(map[string]string, len(back.Automatic))
		for k, v := range back.Automatic {
			if f, ok := v.(float64); ok {
				res.Automatic[k] = strconv.FormatFloat(f, 'f', -1, 64)
				continue
			}
			res.Automatic[k] = fmt.Sprint(v)
		}
		if !back.OhaiTime.IsZero() {
			t := back.OhaiTime
			res.OhaiTime = &t
		}
	}
	outcome, msg := apitypes.ChefSucceeded, ""
	switch {
	case out.ExitCode != 0:
		outcome, msg = apitypes.ChefFailed, fmt.Sprintf("the converge command exited with %d", out.ExitCode)
	case berr != nil:
		outcome, msg = apitypes.ChefFailed, "reading the node back failed: "+berr.Error()
	}
	at := s.now()
	if err := s.setChefNode(ctx, res.InstanceID, func(n *ChefNode) {
		if berr == nil {
			n.RunList, n.Environment = back.RunList, firstNonEmpty(back.Environment, n.Environment)
		}
		n.LastConverge = &apitypes.ChefConverge{RunID: run.ID, At: at, Outcome: outcome, OhaiTime: res.OhaiTime}
	}); err != nil && !errors.Is(err, context.Canceled) {
		r.Logf(slog.LevelWarn, "instance %s: recording its converge: %v", res.InstanceName, err)
	}
	return end(outcome, msg)
}

// clipOutput joins a command's stdout and stderr, keeping at most
// maxChefOutput bytes of the end (where a converge says what failed).
func clipOutput(stdout, stderr []byte) string {
	b := append(slices.Clone(stdout), stderr...)
	if len(b) > maxChefOutput {
		b = append([]byte("[...]\n"), b[len(b)-maxChefOutput:]...)
	}
	return string(b)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
