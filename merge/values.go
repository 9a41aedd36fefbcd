package merge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/prolly"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// MaxDepth bounds how deeply collections and structs may nest inside one
// another for Values to recurse into them. Encodings bound the nesting of
// one chunk, but a collection's entries may hold collections that hold
// collections, without limit.
const MaxDepth = 1000

// Values merges ours and theirs, two versions of ancestor (nil: no common
// ancestor), and returns the merged value (nil only if the policy resolved
// the root to absent):
//
//   - if only one side changed, its value wins; the same change on both
//     sides is no conflict;
//   - Maps, Sets and Structs (of the same name) that both sides changed
//     merge entry by entry, field by field, recursively, from their diffs
//     against the ancestor, so the cost follows the number of changes and
//     never the size of the collections;
//   - Lists that both sides only appended to merge as the ancestor, then
//     the smaller appended run (item encodings compared in order), then
//     the larger, so the result is the same whichever side is ours;
//   - anything else both sides changed differently (primitives, Blobs,
//     Refs, a deletion against a change, Lists edited other than at the
//     end, different kinds) is a conflict for the policy (nil: Fail).
//
// When both sides created a collection the ancestor lacked (or had as
// another kind), they merge against an empty one of that kind. If the
// policy leaves conflicts unresolved, Values returns a *ConflictError
// listing them all. New collection nodes are written to st.
func Values(ctx context.Context, st value.Store, ancestor, ours, theirs value.Value, p Policy) (value.Value, error) {
	if p == nil {
		p = Fail
	}
	m := &merger{st: st, policy: p}
	v, err := m.merge(ctx, "", ancestor, ours, theirs, 0)
	if err != nil {
		return nil, err
	}
	if len(m.conflicts) > 0 {
		return nil, &ConflictError{Conflicts: m.conflicts}
	}
	return v, nil
}

// merger holds the state of one merge: where conflicts go and what has
// been found so far.
type merger struct {
	st        value.Store
	policy    Policy
	conflicts []Conflict
}

// failed reports whether the merge will fail with conflicts. Once it will,
// nothing more is written: the result is thrown away, and the store should
// not fill with nodes of it.
func (m *merger) failed() bool { return len(m.conflicts) > 0 }

func (m *merger) merge(ctx context.Context, path string, anc, a, b value.Value, depth int) (value.Value, error) {
	switch {
	case value.Equal(a, b):
		return a, nil // no change, or the same change on both sides
	case value.Equal(anc, a):
		return b, nil // only theirs changed
	case value.Equal(anc, b):
		return a, nil // only ours changed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if depth >= MaxDepth {
		return nil, fmt.Errorf("at %s: %w (more than %d levels)", PathText(path), ErrTooDeep, MaxDepth)
	}
	// Both changed, differently: combine what can be combined.
	switch a := a.(type) {
	case value.Map:
		if b, ok := b.(value.Map); ok {
			ancM, _ := anc.(value.Map) // another kind or absent: the empty map
			return m.maps(ctx, path, ancM, a, b, depth)
		}
	case value.Set:
		if b, ok := b.(value.Set); ok {
			ancS, _ := anc.(value.Set)
			return m.sets(ctx, path, ancS, a, b, depth)
		}
	case value.Struct:
		if b, ok := b.(value.Struct); ok {
			if a.Name() != b.Name() {
				return m.conflict(ctx, path, anc, a, b, "struct renamed differently on each side")
			}
			ancS, ok := anc.(value.Struct)
			if !ok || ancS.Name() != a.Name() {
				ancS = value.Struct{} // only its fields are read: none
			}
			return m.structs(ctx, path, ancS, a, b, depth)
		}
	case value.List:
		if b, ok := b.(value.List); ok {
			ancL, _ := anc.(value.List)
			return m.lists(ctx, path, anc, ancL, a, b)
		}
	}
	return m.conflict(ctx, path, anc, a, b, reasonFor(a, b))
}

func reasonFor(a, b value.Value) string {
	switch {
	case a == nil && b == nil:
		return "both sides deleted" // not reachable: equal values never conflict
	case a == nil:
		return "deleted on our side, changed on theirs"
	case b == nil:
		return "changed on our side, deleted on theirs"
	case a.Kind() != b.Kind():
		return "changed to " + a.Kind().String() + " on our side, to " + b.Kind().String() + " on theirs"
	case a.Kind() == value.BlobKind:
		return "both sides changed the blob"
	default:
		return "both sides changed the " + a.Kind().String() + " differently"
	}
}

// conflict hands a conflict to the policy. An unresolved one is recorded,
// and ours stands in for it so the merge can go on to find the rest.
func (m *merger) conflict(ctx context.Context, path string, anc, a, b value.Value, reason string) (value.Value, error) {
	c := Conflict{Path: path, Ancestor: anc, Ours: a, Theirs: b, Reason: reason}
	v, err := m.policy.Resolve(ctx, m.st, c)
	if err != nil {
		if errors.Is(err, ErrConflict) {
			m.conflicts = append(m.conflicts, c)
			return a, nil
		}
		return nil, fmt.Errorf("cannot resolve conflict at %s: %w", PathText(path), err)
	}
	return v, nil
}

// entry is one side's change to a key or member: New nil means removed.
type entry struct {
	key, old, new value.Value
}

// overlaps runs both sides' diffs against the ancestor and calls both for
// each key both sides changed and onlyTheirs for each key only theirs
// changed (what only ours changed is in ours already). Their diff is held
// in memory (its size is the size of the change) and ours streamed past
// it, so each tree is walked once, skipping the subtrees a side left
// alone; ours stops early once all of theirs is matched.
func overlaps(diffTheirs, diffOurs func(fn func(value.Change) error) error, conv func(value.Change) entry,
	both func(ours, theirs entry) error, onlyTheirs func(theirs entry) error) error {
	theirs := map[string]entry{}
	err := diffTheirs(func(c value.Change) error {
		k, err := value.Encode(c.Key)
		if err != nil {
			return fmt.Errorf("cannot encode key: %w", err)
		}
		theirs[string(k)] = conv(c)
		return nil
	})
	if err != nil {
		return err
	}
	err = diffOurs(func(c value.Change) error {
		if len(theirs) == 0 {
			return errDone // nothing left that could overlap
		}
		k, err := value.Encode(c.Key)
		if err != nil {
			return fmt.Errorf("cannot encode key: %w", err)
		}
		t, ok := theirs[string(k)]
		if !ok {
			return nil
		}
		delete(theirs, string(k))
		return both(conv(c), t)
	})
	if err != nil && !errors.Is(err, errDone) {
		return err
	}
	// Map iteration order is random, but the edits are applied as one
	// sorted batch, so the result does not depend on it.
	for _, t := range theirs {
		if err := onlyTheirs(t); err != nil {
			return err
		}
	}
	return nil
}

// errDone stops a diff early once nothing more is needed from it.
var errDone = errors.New("done")

func setTree(s value.Set) prolly.Tree {
	return prolly.Tree{Shape: prolly.SetShape, Root: s.Root(), Count: s.Count()}
}

func listTree(l value.List) prolly.Tree {
	return prolly.Tree{Shape: prolly.ListShape, Root: l.Root(), Count: l.Count()}
}

// maps merges two maps: their changes go onto ours in one editor pass.
func (m *merger) maps(ctx context.Context, path string, anc, a, b value.Map, depth int) (value.Value, error) {
	conv := func(c value.Change) entry { return entry{key: c.Key, old: c.Old, new: c.New} }
	ed := a.Edit()
	edits := 0
	put := func(k, v value.Value) {
		if v == nil {
			ed.Delete(k)
		} else {
			ed.Set(k, v)
		}
		edits++
	}
	err := overlaps(
		func(fn func(value.Change) error) error { return value.DiffMaps(ctx, m.st, anc, b, fn) },
		func(fn func(value.Change) error) error { return value.DiffMaps(ctx, m.st, anc, a, fn) },
		conv,
		func(o, t entry) error {
			if value.Equal(o.new, t.new) {
				return nil
			}
			v, err := m.merge(ctx, keyPath(path, o.key), o.old, o.new, t.new, depth+1)
			if err != nil {
				return err
			}
			if !value.Equal(v, o.new) {
				put(o.key, v)
			}
			return nil
		},
		func(t entry) error { put(t.key, t.new); return nil })
	if err != nil {
		return nil, fmt.Errorf("cannot merge map at %s: %w", PathText(path), err)
	}
	if edits == 0 || m.failed() {
		return a, nil
	}
	out, err := ed.Map(ctx, m.st)
	if err != nil {
		return nil, fmt.Errorf("cannot merge map at %s: %w", PathText(path), err)
	}
	return out, nil
}

// sets merges two sets like maps whose values are their keys. Concurrent
// changes to one member can only agree (both added it, or both removed
// it), so sets never conflict; a policy is asked only if that ever fails
// to hold.
func (m *merger) sets(ctx context.Context, path string, anc, a, b value.Set, depth int) (value.Value, error) {
	conv := func(c value.Change) entry {
		e := entry{key: c.Key}
		if c.Kind == value.Added {
			e.new = c.Key
		} else {
			e.old = c.Key
		}
		return e
	}
	var edits []prolly.Edit
	var encErr error
	put := func(k value.Value, present bool) {
		kb, err := value.Encode(k)
		if err != nil {
			encErr = err
			return
		}
		edits = append(edits, prolly.Edit{Key: kb, Delete: !present})
	}
	err := overlaps(
		func(fn func(value.Change) error) error { return value.DiffSets(ctx, m.st, anc, b, fn) },
		func(fn func(value.Change) error) error { return value.DiffSets(ctx, m.st, anc, a, fn) },
		conv,
		func(o, t entry) error {
			if value.Equal(o.new, t.new) {
				return nil
			}
			v, err := m.merge(ctx, keyPath(path, o.key), o.old, o.new, t.new, depth+1)
			if err != nil {
				return err
			}
			if (v != nil) != (o.new != nil) {
				put(o.key, v != nil)
			}
			return nil
		},
		func(t entry) error { put(t.key, t.new != nil); return nil })
	if err == nil {
		err = encErr
	}
	if err != nil {
		return nil, fmt.Errorf("cannot merge set at %s: %w", PathText(path), err)
	}
	if len(edits) == 0 || m.failed() {
		return a, nil
	}
	slices.SortFunc(edits, func(x, y prolly.Edit) int { return value.CompareEncoded(x.Key, y.Key) })
	t, err := prolly.Apply(ctx, m.st, setTree(a), value.CompareEncoded, edits)
	if err != nil {
		return nil, fmt.Errorf("cannot merge set at %s: %w", PathText(path), err)
	}
	return value.NewSetHeader(t.Count, t.Root), nil
}

// structs merges two structs of the same name field by field.
func (m *merger) structs(ctx context.Context, path string, anc, a, b value.Struct, depth int) (value.Value, error) {
	names := map[string]bool{}
	for _, s := range []value.Struct{anc, a, b} {
		for _, f := range s.Fields() {
			names[f.Name] = true
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted) // conflicts are reported in field order
	out := make(map[string]value.Value, len(sorted))
	for _, n := range sorted {
		av, _ := anc.Get(n)
		ov, _ := a.Get(n)
		tv, _ := b.Get(n)
		v, err := m.merge(ctx, path+"."+n, av, ov, tv, depth+1)
		if err != nil {
			return nil, err
		}
		if v != nil {
			out[n] = v
		}
	}
	if m.failed() {
		return a, nil
	}
	s, err := value.NewStruct(a.Name(), out)
	if err != nil {
		return nil, fmt.Errorf("cannot merge struct at %s: %w", PathText(path), err)
	}
	return s, nil
}

// lists merges two lists that both only appended to the ancestor: the
// ancestor, then the appended runs, the smaller first. Any other pair of
// changes is a conflict: positions have no identity, so there is no safe
// way to interleave edits in the middle.
// orig is the ancestor as it was, for the policy; anc is it as a list.
func (m *merger) lists(ctx context.Context, path string, orig value.Value, anc, a, b value.List) (value.Value, error) {
	const notAppends = "both sides changed the list, not only by appending"
	n := anc.Len()
	if a.Len() < n || b.Len() < n {
		return m.conflict(ctx, path, orig, a, b, notAppends)
	}
	for _, l := range []value.List{a, b} {
		ok, err := m.hasPrefix(ctx, l, anc)
		if err != nil {
			return nil, fmt.Errorf("cannot merge list at %s: %w", PathText(path), err)
		}
		if !ok {
			return m.conflict(ctx, path, orig, a, b, notAppends)
		}
	}
	runA, err := m.items(ctx, a, n)
	if err != nil {
		return nil, fmt.Errorf("cannot merge list at %s: %w", PathText(path), err)
	}
	runB, err := m.items(ctx, b, n)
	if err != nil {
		return nil, fmt.Errorf("cannot merge list at %s: %w", PathText(path), err)
	}
	if m.failed() {
		return a, nil
	}
	first, run := a, runB
	if compareRuns(runA, runB) > 0 {
		first, run = b, runA
	}
	t, err := prolly.Splice(ctx, m.st, listTree(first), first.Len(), 0, run)
	if err != nil {
		return nil, fmt.Errorf("cannot merge list at %s: %w", PathText(path), err)
	}
	return value.NewListHeader(t.Count, t.Root), nil
}

// hasPrefix reports whether the first prefix.Len() items of l are prefix.
// Trees are history independent, so l cut to that length has prefix's root
// exactly when the items agree; the cut is built in a scratch overlay so
// that the check writes nothing to the real store, and it only touches the
// nodes along the cut and the appended tail.
func (m *merger) hasPrefix(ctx context.Context, l, prefix value.List) (bool, error) {
	if prefix.Len() == 0 {
		return true, nil
	}
	if l.Len() == prefix.Len() {
		return value.Equal(l, prefix), nil
	}
	scratch := &overlay{base: m.st, put: map[chunks.Hash]chunks.Chunk{}}
	t, err := prolly.Splice(ctx, scratch, listTree(l), prefix.Len(), l.Len()-prefix.Len(), nil)
	if err != nil {
		return false, err
	}
	return t.Root == prefix.Root() && t.Count == prefix.Count(), nil
}

// items returns the encoded items of l from index from on.
func (m *merger) items(ctx context.Context, l value.List, from uint64) ([][]byte, error) {
	var out [][]byte
	it := prolly.IterAt(ctx, m.st, listTree(l), from)
	for {
		e, ok := it.Next()
		if !ok {
			break
		}
		out = append(out, bytes.Clone(e.Value))
	}
	return out, it.Err()
}

// compareRuns orders appended runs by their items' encodings, item by
// item, a run before its own extensions: a total order on runs, so the
// merge of two appends does not depend on which side is ours.
func compareRuns(a, b [][]byte) int {
	for i := range min(len(a), len(b)) {
		if c := bytes.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// overlay reads through to base and keeps what is put in memory.
type overlay struct {
	base value.Store
	mu   sync.Mutex
	put  map[chunks.Hash]chunks.Chunk
}

func (o *overlay) Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error) {
	o.mu.Lock()
	c, ok := o.put[h]
	o.mu.Unlock()
	if ok {
		return c, nil
	}
	return o.base.Get(ctx, h)
}

func (o *overlay) Put(_ context.Context, c chunks.Chunk) error {
	o.mu.Lock()
	o.put[c.Hash()] = c
	o.mu.Unlock()
	return nil
}
