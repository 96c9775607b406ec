package pcs

import (
	"reflect"

	"github.com/apache/arrow-go/v18/arrow"
)

// scope is what a running system may touch, and its write set: the
// columns, deletes and resources it wrote, applied after its stage if it
// succeeds and dropped if it fails.
type scope struct {
	system string
	grant  *grant
	cols   map[colKey]arrow.Array
	dels   []int
	res    map[reflect.Type]any
}

type colKey struct {
	comp  *compData
	field int
}

// grant is a system's declared access, resolved against the components.
type grant struct {
	read, write       map[string]bool // "component.field"
	readRes, writeRes map[reflect.Type]bool
	deletes           bool
}

func newScope(system string, g *grant) *scope {
	return &scope{system: system, grant: g}
}

func (s *scope) read(c *compData, idx int) (arrow.Array, error) {
	name := c.name + "." + c.schema.Field(idx).Name
	if !s.grant.read[name] && !s.grant.write[name] {
		return nil, &AccessError{System: s.system, Op: "read", What: name}
	}
	if a, ok := s.cols[colKey{c, idx}]; ok {
		return a, nil
	}
	return c.cols[idx], nil
}

func (s *scope) write(c *compData, idx int, arr arrow.Array) error {
	name := c.name + "." + c.schema.Field(idx).Name
	if !s.grant.write[name] {
		return &AccessError{System: s.system, Op: "write", What: name}
	}
	if s.cols == nil {
		s.cols = map[colKey]arrow.Array{}
	}
	k := colKey{c, idx}
	arr.Retain()
	if old, ok := s.cols[k]; ok {
		old.Release()
	}
	s.cols[k] = arr
	return nil
}

func (s *scope) delete(i int) error {
	if !s.grant.deletes {
		return &AccessError{System: s.system, Op: "delete", What: "rows (declare Write(pcs.Rows))"}
	}
	s.dels = append(s.dels, i)
	return nil
}

func (s *scope) resource(t reflect.Type, write bool) error {
	if write && !s.grant.writeRes[t] || !write && !s.grant.readRes[t] && !s.grant.writeRes[t] {
		op := "read"
		if write {
			op = "write"
		}
		return &AccessError{System: s.system, Op: op, What: "resource " + t.String()}
	}
	return nil
}

// apply moves the write set into the store.
func (s *scope) apply(st *store) {
	for k, a := range s.cols {
		k.comp.cols[k.field].Release()
		k.comp.cols[k.field] = a
	}
	for _, i := range s.dels {
		st.delete(i)
	}
	for t, v := range s.res {
		st.resources[t] = v
	}
	s.cols, s.dels, s.res = nil, nil, nil
}

// discard drops the write set.
func (s *scope) discard() {
	for _, a := range s.cols {
		a.Release()
	}
	s.cols, s.dels, s.res = nil, nil, nil
}
