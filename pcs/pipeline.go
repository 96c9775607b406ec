package pcs

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/sync/errgroup"
)

// PipelineBuilder collects components and systems; Build checks them and
// plans the stages. Methods chain; errors surface in Build.
type PipelineBuilder struct {
	name    string
	comps   []AnyComponent
	systems []System
	retry   RetryPolicy
	sleep   Sleeper
}

// NewPipeline starts a pipeline called name, with DefaultRetryPolicy for
// systems that declare none.
func NewPipeline(name string) *PipelineBuilder {
	return &PipelineBuilder{name: name, retry: DefaultRetryPolicy(), sleep: Sleep}
}

// Components declares the components the systems may refer to.
func (b *PipelineBuilder) Components(cs ...AnyComponent) *PipelineBuilder {
	b.comps = append(b.comps, cs...)
	return b
}

// Add appends systems in registration order, which breaks ties between
// conflicting systems (see Build).
func (b *PipelineBuilder) Add(ss ...System) *PipelineBuilder {
	b.systems = append(b.systems, ss...)
	return b
}

// Retry sets the policy of systems whose SystemMeta has no Retry.
func (b *PipelineBuilder) Retry(p RetryPolicy) *PipelineBuilder {
	b.retry = p
	return b
}

// Sleeper replaces the clock that waits between retries (tests use a fake
// one); the default is Sleep.
func (b *PipelineBuilder) Sleeper(s Sleeper) *PipelineBuilder {
	b.sleep = s
	return b
}

// Pipeline is a planned, immutable sequence of stages of systems. Run it
// on as many datasets as needed, from any number of goroutines at once
// (each call on its own dataset).
type Pipeline struct {
	name    string
	comps   []AnyComponent
	systems []*planned
	stages  [][]int // system indexes per stage, in registration order
	sleep   Sleeper
}

type planned struct {
	sys    System
	meta   SystemMeta
	retry  RetryPolicy
	grant  *grant
	reads  map[conflictKey]bool
	writes map[conflictKey]bool
}

// conflictKey is the unit of the dependency rule: one field
// ("component.field"), one resource type, or the alive bitmap.
type conflictKey struct {
	field string
	res   reflect.Type
}

var aliveKey = conflictKey{field: "\x00alive"}

// Build checks the declarations and plans the stages.
//
// The dependency rule (field-level DAG): for systems i registered before j
// there is an edge i -> j if j reads or writes something i writes, or j
// writes something i reads. Things are fields, resource types and the
// alive bitmap; a whole-component ref stands for all its fields; every
// system reads the alive bitmap. A system's stage is the length of the
// longest edge path that reaches it, so each stage holds systems with no
// conflict between them, which run concurrently.
//
// Errors wrap ErrBuild, naming pipeline, system and field: no systems, an
// empty or duplicate system name, a reference to an unknown component or
// field, a field ref whose type differs from the component's, an invalid
// retry policy.
func (b *PipelineBuilder) Build() (*Pipeline, error) {
	fail := func(format string, args ...any) (*Pipeline, error) {
		return nil, fmt.Errorf("%w: pipeline %q: %s", ErrBuild, b.name, fmt.Sprintf(format, args...))
	}
	if len(b.systems) == 0 {
		return fail("no systems")
	}
	if err := b.retry.Validate(); err != nil {
		return fail("default retry: %v", err)
	}
	comps := map[string]AnyComponent{}
	for _, c := range b.comps {
		if prev, ok := comps[c.Name()]; ok && !prev.Schema().Equal(c.Schema()) {
			return fail("component %q declared twice with different schemas", c.Name())
		}
		comps[c.Name()] = c
	}
	p := &Pipeline{name: b.name, comps: b.comps, sleep: b.sleep}
	names := map[string]bool{}
	for _, s := range b.systems {
		m := s.Meta()
		if m.Name == "" {
			return fail("a system has an empty name (%T)", s)
		}
		if names[m.Name] {
			return fail("two systems named %q", m.Name)
		}
		names[m.Name] = true
		ps := &planned{sys: s, meta: m, retry: b.retry, reads: map[conflictKey]bool{aliveKey: true}, writes: map[conflictKey]bool{},
			grant: &grant{read: map[string]bool{}, write: map[string]bool{}, readRes: map[reflect.Type]bool{}, writeRes: map[reflect.Type]bool{}}}
		if m.Retry != nil {
			if err := m.Retry.Validate(); err != nil {
				return fail("system %q: %v", m.Name, err)
			}
			ps.retry = *m.Retry
		}
		for _, decl := range []struct {
			refs  []Ref
			write bool
		}{{m.Reads, false}, {m.Writes, true}} {
			for _, r := range decl.refs {
				if err := ps.declare(comps, r.access(), decl.write); err != nil {
					return fail("system %q: %v", m.Name, err)
				}
			}
		}
		p.systems = append(p.systems, ps)
	}
	level := make([]int, len(p.systems))
	for j, sj := range p.systems {
		for i, si := range p.systems[:j] {
			if conflicts(si, sj) && level[i]+1 > level[j] {
				level[j] = level[i] + 1
			}
		}
		for len(p.stages) <= level[j] {
			p.stages = append(p.stages, nil)
		}
		p.stages[level[j]] = append(p.stages[level[j]], j)
	}
	return p, nil
}

// declare resolves one declared access into conflict keys and grants.
func (ps *planned) declare(comps map[string]AnyComponent, a access, write bool) error {
	set, grant := ps.reads, ps.grant.read
	if write {
		set, grant = ps.writes, ps.grant.write
	}
	switch a.kind {
	case accessResource:
		set[conflictKey{res: a.resource}] = true
		if write {
			ps.grant.writeRes[a.resource] = true
		} else {
			ps.grant.readRes[a.resource] = true
		}
		return nil
	case accessAlive:
		set[aliveKey] = true
		ps.grant.deletes = ps.grant.deletes || write
		return nil
	}
	c, ok := comps[a.component]
	if !ok {
		return fmt.Errorf("%s names unknown component %q (declare it with Components)", a, a.component)
	}
	fields := schemaNames(c.Schema())
	if a.kind == accessField {
		idx := fieldIndex(c.Schema(), a.field)
		if idx < 0 {
			return fmt.Errorf("%s names unknown field %q of component %q (fields: %s)", a, a.field, a.component, fieldNames(fields))
		}
		if want := c.Schema().Field(idx).Type; a.dtype != nil && !arrow.TypeEqual(a.dtype, want) {
			return fmt.Errorf("%s: the field ref has type %s, component %q has %s", a, a.dtype, a.component, want)
		}
		fields = fields[idx : idx+1]
	}
	for _, f := range fields {
		set[conflictKey{field: a.component + "." + f}] = true
		grant[a.component+"."+f] = true
	}
	return nil
}

func conflicts(i, j *planned) bool {
	return intersects(i.writes, j.reads) || intersects(i.writes, j.writes) || intersects(i.reads, j.writes)
}

func intersects(a, b map[conflictKey]bool) bool {
	for k := range a {
		if b[k] {
			return true
		}
	}
	return false
}

// Name returns the pipeline's name.
func (p *Pipeline) Name() string { return p.name }

// Systems returns the pipeline's systems in registration order (for
// runtimes that look for optional interfaces such as Stateful).
func (p *Pipeline) Systems() []System {
	out := make([]System, len(p.systems))
	for i, s := range p.systems {
		out[i] = s.sys
	}
	return out
}

// Stages returns the plan: the system names of each stage, in run order;
// within a stage, in registration order.
func (p *Pipeline) Stages() [][]string {
	out := make([][]string, len(p.stages))
	for s, idx := range p.stages {
		for _, i := range idx {
			out[s] = append(out[s], p.systems[i].meta.Name)
		}
	}
	return out
}

// String renders the plan, one line per stage with each system's
// declaration.
func (p *Pipeline) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "pipeline %s: %s in %s\n", p.name, plural(len(p.systems), "system"), plural(len(p.stages), "stage"))
	for s, idx := range p.stages {
		for k, i := range idx {
			head := "         "
			if k == 0 {
				head = fmt.Sprintf("stage %-3d", s)
			}
			fmt.Fprintf(&sb, "  %s %s\n", head, p.systems[i].meta)
		}
	}
	return sb.String()
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// RunStats describes one Pipeline.Run.
type RunStats struct {
	Rows       int           // rows of the dataset when the run started (deleted included)
	Live       int           // live rows when the run ended
	SystemsRun int           // systems that succeeded
	Retries    int           // retries over all systems
	Stages     []StageStats  // per stage run, in order
	Systems    []SystemStats // per system run, in registration order within each stage
	Duration   time.Duration // wall time of the run
}

// StageStats is the wall time of one stage.
type StageStats struct {
	Systems  []string
	Duration time.Duration
}

// SystemStats describes one system's part of a run.
type SystemStats struct {
	Name     string
	Stage    int
	Attempts int           // 1 + retries
	Duration time.Duration // wall time over all attempts, backoff waits included
	Err      error         // the last attempt's error; nil on success
}

// Run runs the stages in order on ds. The systems of a stage run
// concurrently, each on a view of ds restricted to its declaration, with
// retries per its policy; their write sets are applied, in registration
// order, after every system of the stage has succeeded. If a system fails
// for good Run returns a *SystemError (wrapping the last cause) and the
// failing stage leaves ds untouched; earlier stages' writes stay applied.
// The returned stats cover the stages run so far, the failed one included.
// ds must have the pipeline's components registered (ErrUnknownComponent,
// ErrSchemaMismatch otherwise). ctx cancellation stops retries and is
// passed to every system.
func (p *Pipeline) Run(ctx context.Context, ds *Dataset) (RunStats, error) {
	start := time.Now()
	stats := RunStats{Rows: ds.Len(), Stages: make([]StageStats, 0, len(p.stages)), Systems: make([]SystemStats, 0, len(p.systems))}
	if ds.sc != nil {
		return stats, fmt.Errorf("%w: pipeline %q run inside system %q", ErrBuild, p.name, ds.sc.system)
	}
	for _, c := range p.comps {
		have, err := ds.Schema(c.Name())
		if err != nil {
			return stats, fmt.Errorf("pcs: pipeline %q: %w", p.name, err)
		}
		if !have.Equal(c.Schema()) {
			return stats, fmt.Errorf("%w: pipeline %q: component %q in dataset has schema %s, pipeline expects %s", ErrSchemaMismatch, p.name, c.Name(), have, c.Schema())
		}
	}
	for s, idx := range p.stages {
		t0 := time.Now()
		scopes := make([]*scope, len(idx))
		sys := make([]SystemStats, len(idx))
		var err error
		if len(idx) == 1 {
			scopes[0], sys[0], err = p.runSystem(ctx, ds, s, idx[0])
		} else {
			g, gctx := errgroup.WithContext(ctx)
			for k, i := range idx {
				g.Go(func() (err error) {
					scopes[k], sys[k], err = p.runSystem(gctx, ds, s, i)
					return err
				})
			}
			err = g.Wait()
		}
		for _, st := range sys {
			stats.Retries += st.Attempts - 1
		}
		stats.Systems = append(stats.Systems, sys...)
		stats.Stages = append(stats.Stages, StageStats{Systems: p.Stages()[s], Duration: time.Since(t0)})
		if err != nil {
			for _, sc := range scopes {
				if sc != nil {
					sc.discard()
				}
			}
			stats.Duration = time.Since(start)
			return stats, err
		}
		for _, sc := range scopes {
			sc.apply(ds.st)
		}
		stats.SystemsRun += len(idx)
	}
	stats.Live = ds.Live()
	stats.Duration = time.Since(start)
	return stats, nil
}

// runSystem runs system i with retries and returns its successful write
// set.
func (p *Pipeline) runSystem(ctx context.Context, ds *Dataset, stage, i int) (*scope, SystemStats, error) {
	ps := p.systems[i]
	st := SystemStats{Name: ps.meta.Name, Stage: stage}
	t0 := time.Now()
	bo := ps.retry.backoff()
	for {
		st.Attempts++
		fail := func(err error) (*scope, SystemStats, error) {
			st.Err, st.Duration = err, time.Since(t0)
			return nil, st, &SystemError{Pipeline: p.name, System: ps.meta.Name, Stage: stage, Attempts: st.Attempts, Err: err}
		}
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		sc := newScope(ps.meta.Name, ps.grant)
		err := runGuarded(ctx, ps.sys, &Dataset{st: ds.st, sc: sc})
		if err == nil {
			st.Duration = time.Since(t0)
			return sc, st, nil
		}
		sc.discard()
		if IsPermanent(err) || ctx.Err() != nil || st.Attempts > ps.retry.MaxRetries {
			return fail(err)
		}
		if serr := p.sleep(ctx, bo.NextBackOff()); serr != nil {
			return fail(errors.Join(err, serr))
		}
	}
}

// runGuarded turns a panic in a system into a permanent error.
func runGuarded(ctx context.Context, s System, ds *Dataset) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = Permanent(fmt.Errorf("pcs: system panicked: %v\n%s", r, debug.Stack()))
		}
	}()
	return s.Run(ctx, ds)
}
