package ops

import (
	"context"
	"errors"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pcs-dev/pcs/pcs"
)

// Dedupe returns a system that soft-deletes every alive row of the
// dataset whose key tuple (c's fields keys, of types string, large_string
// or integer) equals that of an earlier alive row of the same dataset: the
// first occurrence is kept. A row with a null in any key field is never a duplicate and
// is kept (SQL: null is not equal to null). Rows already deleted neither
// count as seen nor change.
//
// Scope: one dataset (one partition) at a time; rows seen in earlier
// datasets, or in other partitions, are not remembered (the system holds
// no state between runs).
//
// Meta: reads the key fields, writes pcs.Rows. Errors (*Error, Expr
// "dedupe(keys...)"): no key, an unknown field (wrapping
// pcs.ErrUnknownField), a key of another type, a key named twice.
func Dedupe(name string, c pcs.AnyComponent, keys []string) (pcs.System, error) {
	desc := "dedupe(" + strings.Join(keys, ", ") + ")"
	if len(keys) == 0 {
		return nil, &Error{System: name, Expr: desc, Err: errors.New("no key field")}
	}
	s := &dedupeSystem{desc: desc}
	seen := map[string]bool{}
	var reads []pcs.Ref
	for _, k := range keys {
		f, err := keyField(c, k, seen)
		if err != nil {
			return nil, &Error{System: name, Expr: desc, Err: err}
		}
		s.keys = append(s.keys, f)
		reads = append(reads, f)
	}
	s.meta = pcs.Meta(name).Read(reads...).Write(pcs.Rows)
	return s, nil
}

type dedupeSystem struct {
	meta pcs.SystemMeta
	desc string
	keys []pcs.FieldRef[arrow.Array]
}

func (s *dedupeSystem) Meta() pcs.SystemMeta { return s.meta }

// String returns "dedupe name: dedupe(keys...)".
func (s *dedupeSystem) String() string { return "dedupe " + s.meta.Name + ": " + s.desc }

func (s *dedupeSystem) Run(ctx context.Context, ds *pcs.Dataset) error {
	keys, err := keyArrays(ds, s.keys)
	if err != nil {
		return runErr(ctx, err)
	}
	enc, err := keyCols(keys)
	if err != nil { // the dataset's field has another type than c's
		return runErr(ctx, err)
	}
	seen := map[string]struct{}{}
	var buf []byte
	for i, n := 0, ds.Len(); i < n; i++ {
		if i&0xffff == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !ds.Alive(i) {
			continue
		}
		var ok bool
		if buf, ok = encodeKey(enc, buf, i); !ok {
			continue
		}
		if _, dup := seen[string(buf)]; !dup {
			seen[string(buf)] = struct{}{}
			continue
		}
		if err := ds.Delete(i); err != nil {
			return runErr(ctx, err)
		}
	}
	return nil
}
