package plan

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/pelletier/go-toml/v2"

	"github.com/pcs-dev/pcs/pcs"
)

// Registry maps names used in node config files to Go code: components
// (the schemas partitions decode into and outputs are made of), systems
// and resources. A Go program registers its own next to the built-in ones
// and runs them with Main, the way database/sql drivers register by name.
// A Registry is filled before the node starts and read-only afterwards.
type Registry struct {
	components map[string]pcs.AnyComponent
	systems    map[string]SystemFactory
	resources  map[string]ResourceFactory
}

// SystemFactory builds a system from its options table in the config
// (`options = { ... }` of a `[[pipeline.system]]` entry).
type SystemFactory func(opts Options) (pcs.System, error)

// ResourceFactory loads a resource once, when the node starts (a lookup
// table read from a file, say), and returns the function that puts it into
// each partition's dataset (typically pcs.InsertResource with the loaded
// value; it must be cheap and safe for concurrent use).
type ResourceFactory func(ctx context.Context, opts Options) (func(ds *pcs.Dataset) error, error)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{components: map[string]pcs.AnyComponent{}, systems: map[string]SystemFactory{}, resources: map[string]ResourceFactory{}}
}

// Component registers c under c.Name(). It panics on a duplicate name, a
// programming error (like sql.Register).
func (r *Registry) Component(c pcs.AnyComponent) {
	if _, dup := r.components[c.Name()]; dup {
		panic(fmt.Sprintf("node: component %q registered twice", c.Name()))
	}
	r.components[c.Name()] = c
}

// System registers a system factory under name; it panics on a duplicate.
func (r *Registry) System(name string, f SystemFactory) {
	if _, dup := r.systems[name]; dup {
		panic(fmt.Sprintf("node: system %q registered twice", name))
	}
	r.systems[name] = f
}

// Resource registers a resource factory under name; it panics on a
// duplicate.
func (r *Registry) Resource(name string, f ResourceFactory) {
	if _, dup := r.resources[name]; dup {
		panic(fmt.Sprintf("node: resource %q registered twice", name))
	}
	r.resources[name] = f
}

func (r *Registry) component(name string) (pcs.AnyComponent, error) {
	c, ok := r.components[name]
	if !ok {
		return nil, fmt.Errorf("%w: component %q (registered: %v)", ErrUnknownName, name, slices.Sorted(maps.Keys(r.components)))
	}
	return c, nil
}

func (r *Registry) system(name string) (SystemFactory, error) {
	f, ok := r.systems[name]
	if !ok {
		return nil, fmt.Errorf("%w: system %q (registered: %v)", ErrUnknownName, name, slices.Sorted(maps.Keys(r.systems)))
	}
	return f, nil
}

func (r *Registry) resource(name string) (ResourceFactory, error) {
	f, ok := r.resources[name]
	if !ok {
		return nil, fmt.Errorf("%w: resource %q (registered: %v)", ErrUnknownName, name, slices.Sorted(maps.Keys(r.resources)))
	}
	return f, nil
}

// Options is the options table of a system or resource in the config.
type Options struct {
	where string // e.g. `system 2 ("filter")`
	dir   string // Pipeline.Dir
	raw   map[string]any
	scope *scope // resolves and defines components; nil in NewOptions
	// pipeline and state: the pipeline's name and state backend (stateful
	// built-ins); zero in NewOptions (state in memory).
	pipeline string
	state    StateConfig
}

// NewOptions wraps an options table; where names it in errors. Its
// Component method knows no components (factories under test).
func NewOptions(where string, raw map[string]any) Options { return Options{where: where, raw: raw} }

// Component returns the component called name: declared in the pipeline's
// config, defined by an earlier system (Define), or registered, in that
// order; for systems built against a component's schema (the built-in
// filter, derive, lookup, ...). Errors wrap ErrUnknownName and say where
// the options are.
func (o Options) Component(name string) (pcs.AnyComponent, error) {
	if o.scope == nil {
		return nil, fmt.Errorf("%w: %s: component %q (no registry)", ErrUnknownName, o.where, name)
	}
	c, err := o.scope.component(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.where, err)
	}
	return c, nil
}

// Define adds c to the pipeline being built, for systems that make a new
// component (the built-in project, rename and cast); later systems and
// output.components can name it. Errors wrap ErrConfig: the name is
// already a component of the pipeline, or no pipeline is being built
// (NewOptions).
func (o Options) Define(c pcs.AnyComponent) error {
	if o.scope == nil {
		return fmt.Errorf("%w: %s: cannot define component %q (no pipeline)", ErrConfig, o.where, c.Name())
	}
	if err := o.scope.define(c); err != nil {
		return fmt.Errorf("%s: %w", o.where, err)
	}
	return nil
}

// scope is the components of one pipeline being planned: those declared
// in its config or defined by its systems, in order, over the registry's.
type scope struct {
	reg   *Registry
	local map[string]pcs.AnyComponent
	order []pcs.AnyComponent
}

func (s *scope) component(name string) (pcs.AnyComponent, error) {
	if c, ok := s.local[name]; ok {
		return c, nil
	}
	return s.reg.component(name)
}

func (s *scope) define(c pcs.AnyComponent) error {
	if _, dup := s.local[c.Name()]; dup {
		return fmt.Errorf("%w: component %q defined twice in the pipeline", ErrConfig, c.Name())
	}
	if s.local == nil {
		s.local = map[string]pcs.AnyComponent{}
	}
	s.local[c.Name()] = c
	s.order = append(s.order, c)
	return nil
}

// Path returns a path given in the options resolved against the config
// file's directory (Pipeline.Dir): what a system or resource that reads a
// file (the table resource) opens.
func (o Options) Path(p string) string { return Resolve(o.dir, p) }

// Decode decodes the options into v (a pointer to a struct with toml
// tags), strictly: an unknown key or a wrong type is an error naming the
// key and where the options are.
func (o Options) Decode(v any) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(o.raw); err != nil {
		return fmt.Errorf("node: %s: options: %w", o.where, err)
	}
	dec := toml.NewDecoder(&buf)
	dec.DisallowUnknownFields().EnableUnmarshalerInterface()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: options: %s", ErrConfig, o.where, describeTOMLError(err))
	}
	return nil
}
