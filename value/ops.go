package value

import (
	"context"
	"fmt"
	"iter"
	"slices"

	"github.com/noms-ipfs/noms-ipfs/prolly"
)

// Store is where collections keep their chunks: any chunks.ChunkStore.
// Collections are plain values (a root hash and a count), so every
// operation that reads or writes chunks takes the store explicitly.
type Store = prolly.Store

// encodeOne encodes v, saying what it was if it cannot be encoded.
func encodeOne(what string, v Value) ([]byte, error) {
	b, err := Encode(v)
	if err != nil {
		return nil, fmt.Errorf("cannot encode %s: %w", what, err)
	}
	return b, nil
}

func decodeOne(what string, b []byte) (Value, error) {
	v, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("cannot decode %s: %w", what, err)
	}
	return v, nil
}

func (m Map) tree() prolly.Tree {
	return prolly.Tree{Shape: prolly.MapShape, Root: m.root, Count: m.count}
}
func (s Set) tree() prolly.Tree {
	return prolly.Tree{Shape: prolly.SetShape, Root: s.root, Count: s.count}
}
func (l List) tree() prolly.Tree {
	return prolly.Tree{Shape: prolly.ListShape, Root: l.root, Count: l.count}
}
func (b Blob) tree() prolly.Tree {
	return prolly.Tree{Shape: prolly.BlobShape, Root: b.root, Count: b.length}
}

func mapOf(t prolly.Tree) Map   { return Map{count: t.Count, root: t.Root} }
func setOf(t prolly.Tree) Set   { return Set{count: t.Count, root: t.Root} }
func listOf(t prolly.Tree) List { return List{count: t.Count, root: t.Root} }
func blobOf(t prolly.Tree) Blob { return Blob{length: t.Count, root: t.Root} }

// ---- Map ----

// MapEntry is one key and its value.
type MapEntry struct{ Key, Value Value }

// NewMap builds a map from entries in any order (a later duplicate key wins)
// in one bulk pass, much faster than one Set per entry.
func NewMap(ctx context.Context, st Store, entries ...MapEntry) (Map, error) {
	es := make([]prolly.Entry, len(entries))
	for i, e := range entries {
		k, err := encodeOne("map key", e.Key)
		if err != nil {
			return Map{}, err
		}
		v, err := encodeOne("map value", e.Value)
		if err != nil {
			return Map{}, err
		}
		es[i] = prolly.Entry{Key: k, Value: v}
	}
	t, err := prolly.BuildFromUnsorted(ctx, st, prolly.MapShape, CompareEncoded, es)
	if err != nil {
		return Map{}, fmt.Errorf("cannot build map: %w", err)
	}
	return mapOf(t), nil
}

// MapBuilder builds a map from entries given in strictly increasing key
// order, streaming: memory stays bounded whatever the size.
type MapBuilder struct{ b *prolly.Builder }

// NewMapBuilder starts a sorted bulk build.
func NewMapBuilder(ctx context.Context, st Store) *MapBuilder {
	return &MapBuilder{b: prolly.NewBuilder(ctx, st, prolly.MapShape, CompareEncoded)}
}

// Add appends an entry; its key must sort after the previous one.
func (mb *MapBuilder) Add(k, v Value) error {
	kb, err := encodeOne("map key", k)
	if err != nil {
		return err
	}
	vb, err := encodeOne("map value", v)
	if err != nil {
		return err
	}
	return mb.b.Add(prolly.Entry{Key: kb, Value: vb})
}

// Map finishes the build.
func (mb *MapBuilder) Map() (Map, error) {
	t, err := mb.b.Done()
	return mapOf(t), err
}

// Len returns the number of entries.
func (m Map) Len() uint64 { return m.count }

// Get returns the value of k; found is false if k is absent.
func (m Map) Get(ctx context.Context, st Store, k Value) (v Value, found bool, err error) {
	kb, err := encodeOne("map key", k)
	if err != nil {
		return nil, false, err
	}
	b, found, err := prolly.Get(ctx, st, m.tree(), CompareEncoded, kb)
	if err != nil || !found {
		return nil, false, err
	}
	v, err = decodeOne("map value", b)
	return v, err == nil, err
}

// Has reports whether k is in the map.
func (m Map) Has(ctx context.Context, st Store, k Value) (bool, error) {
	_, found, err := m.Get(ctx, st, k)
	return found, err
}

// Set returns the map with k set to v. For many changes use Edit.
func (m Map) Set(ctx context.Context, st Store, k, v Value) (Map, error) {
	return m.Edit().Set(k, v).Map(ctx, st)
}

// Delete returns the map without k.
func (m Map) Delete(ctx context.Context, st Store, k Value) (Map, error) {
	return m.Edit().Delete(k).Map(ctx, st)
}

// Edit starts a batch of changes applied in one pass by MapEditor.Map.
func (m Map) Edit() *MapEditor { return &MapEditor{m: m, edits: map[string]prolly.Edit{}} }

// MapEditor collects changes to a map; the last change to a key wins.
type MapEditor struct {
	m     Map
	edits map[string]prolly.Edit
	err   error
}

// Set records k = v.
func (e *MapEditor) Set(k, v Value) *MapEditor {
	kb, err := encodeOne("map key", k)
	if err == nil {
		var vb []byte
		if vb, err = encodeOne("map value", v); err == nil {
			e.edits[string(kb)] = prolly.Edit{Key: kb, Value: vb}
		}
	}
	if err != nil && e.err == nil {
		e.err = err
	}
	return e
}

// Delete records the removal of k.
func (e *MapEditor) Delete(k Value) *MapEditor {
	kb, err := encodeOne("map key", k)
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		return e
	}
	e.edits[string(kb)] = prolly.Edit{Key: kb, Delete: true}
	return e
}

// Map applies the recorded changes and returns the new map.
func (e *MapEditor) Map(ctx context.Context, st Store) (Map, error) {
	if e.err != nil {
		return Map{}, e.err
	}
	t, err := prolly.Apply(ctx, st, e.m.tree(), CompareEncoded, sortedEdits(e.edits))
	if err != nil {
		return Map{}, fmt.Errorf("cannot edit map: %w", err)
	}
	return mapOf(t), nil
}

func sortedEdits(m map[string]prolly.Edit) []prolly.Edit {
	out := make([]prolly.Edit, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	sortEdits(out)
	return out
}

// All yields the entries in key order, starting at the first key >= from
// (nil: the start).
func (m Map) All(ctx context.Context, st Store, from Value) iter.Seq2[MapEntry, error] {
	return func(yield func(MapEntry, error) bool) {
		var fb []byte
		if from != nil {
			var err error
			if fb, err = encodeOne("map key", from); err != nil {
				yield(MapEntry{}, err)
				return
			}
		}
		it := prolly.Iter(ctx, st, m.tree(), CompareEncoded, fb)
		for {
			e, ok := it.Next()
			if !ok {
				break
			}
			k, err := decodeOne("map key", e.Key)
			if err == nil {
				var v Value
				if v, err = decodeOne("map value", e.Value); err == nil && !yield(MapEntry{k, v}, nil) {
					return
				}
			}
			if err != nil {
				yield(MapEntry{}, err)
				return
			}
		}
		if err := it.Err(); err != nil {
			yield(MapEntry{}, err)
		}
	}
}

// ---- diff ----

// ChangeKind says how an entry differs between two collections.
type ChangeKind = prolly.ChangeKind

// The kinds of change.
const (
	Added    = prolly.Added
	Removed  = prolly.Removed
	Modified = prolly.Modified
)

// Change is one difference between two maps or sets, in key order. Old is
// nil when added, New when removed; both are nil for sets.
type Change struct {
	Kind     ChangeKind
	Key      Value
	Old, New Value
}

// DiffMaps calls fn for each entry that differs from a to b, in key order.
// Subtrees with equal hashes are skipped, so the cost follows the number of
// changes, not the size of the maps.
func DiffMaps(ctx context.Context, st Store, a, b Map, fn func(Change) error) error {
	return diffTrees(ctx, st, a.tree(), b.tree(), fn)
}

// DiffSets is DiffMaps for sets.
func DiffSets(ctx context.Context, st Store, a, b Set, fn func(Change) error) error {
	return diffTrees(ctx, st, a.tree(), b.tree(), fn)
}

func diffTrees(ctx context.Context, st Store, a, b prolly.Tree, fn func(Change) error) error {
	return prolly.Diff(ctx, st, a, b, CompareEncoded, func(c prolly.Change) error {
		out := Change{Kind: c.Kind}
		var err error
		if out.Key, err = decodeOne("key", c.Key); err != nil {
			return err
		}
		if c.Old != nil {
			if out.Old, err = decodeOne("old value", c.Old); err != nil {
				return err
			}
		}
		if c.New != nil {
			if out.New, err = decodeOne("new value", c.New); err != nil {
				return err
			}
		}
		return fn(out)
	})
}

// ---- Set ----

// NewSet builds a set of members in any order (duplicates collapse).
func NewSet(ctx context.Context, st Store, members ...Value) (Set, error) {
	es := make([]prolly.Entry, len(members))
	for i, m := range members {
		k, err := encodeOne("set member", m)
		if err != nil {
			return Set{}, err
		}
		es[i] = prolly.Entry{Key: k}
	}
	t, err := prolly.BuildFromUnsorted(ctx, st, prolly.SetShape, CompareEncoded, es)
	if err != nil {
		return Set{}, fmt.Errorf("cannot build set: %w", err)
	}
	return setOf(t), nil
}

// Len returns the number of members.
func (s Set) Len() uint64 { return s.count }

// Has reports whether v is a member.
func (s Set) Has(ctx context.Context, st Store, v Value) (bool, error) {
	k, err := encodeOne("set member", v)
	if err != nil {
		return false, err
	}
	_, found, err := prolly.Get(ctx, st, s.tree(), CompareEncoded, k)
	return found, err
}

// Insert returns the set with vs added.
func (s Set) Insert(ctx context.Context, st Store, vs ...Value) (Set, error) {
	return s.edit(ctx, st, false, vs)
}

// Remove returns the set without vs.
func (s Set) Remove(ctx context.Context, st Store, vs ...Value) (Set, error) {
	return s.edit(ctx, st, true, vs)
}

func (s Set) edit(ctx context.Context, st Store, del bool, vs []Value) (Set, error) {
	edits := map[string]prolly.Edit{}
	for _, v := range vs {
		k, err := encodeOne("set member", v)
		if err != nil {
			return Set{}, err
		}
		edits[string(k)] = prolly.Edit{Key: k, Delete: del}
	}
	t, err := prolly.Apply(ctx, st, s.tree(), CompareEncoded, sortedEdits(edits))
	if err != nil {
		return Set{}, fmt.Errorf("cannot edit set: %w", err)
	}
	return setOf(t), nil
}

// All yields the members in order from the first >= from (nil: the start).
func (s Set) All(ctx context.Context, st Store, from Value) iter.Seq2[Value, error] {
	return func(yield func(Value, error) bool) {
		var fb []byte
		if from != nil {
			var err error
			if fb, err = encodeOne("set member", from); err != nil {
				yield(nil, err)
				return
			}
		}
		yieldDecoded(prolly.Iter(ctx, st, s.tree(), CompareEncoded, fb), "set member",
			func(e prolly.Entry) []byte { return e.Key }, yield)
	}
}

func sortEdits(es []prolly.Edit) {
	slices.SortFunc(es, func(a, b prolly.Edit) int { return CompareEncoded(a.Key, b.Key) })
}
