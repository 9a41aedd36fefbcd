package prolly

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

func TestAPIErrors(t *testing.T) {
	st := newCheckStore(t)
	m := buildMap(t, st, map[string]string{"a": "1", "b": "2"})
	l := buildList(t, st, []string{"x", "y"})
	b := buildBlob(t, st, []byte("bytes"))
	badItem := []byte{0x61} // text string missing its byte
	check := func(name string, err, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: error %v, want %v", name, err, want)
		}
	}
	bl := NewBuilder(ctx, st, MapShape, cmpText)
	check("Add invalid key", bl.Add(Entry{Key: badItem, Value: text("v")}), ErrInvalidEntry)
	check("Add missing value", bl.Add(Entry{Key: text("k")}), ErrInvalidEntry)
	check("Add trailing bytes", bl.Add(Entry{Key: append(text("k"), 0), Value: text("v")}), ErrInvalidEntry)
	check("Add non-canonical", bl.Add(Entry{Key: []byte{0x78, 0x01, 'k'}, Value: text("v")}), ErrInvalidEntry)
	if err := bl.Add(Entry{Key: text("b"), Value: text("v")}); err != nil {
		t.Fatal(err)
	}
	check("Add out of order", bl.Add(Entry{Key: text("a"), Value: text("v")}), ErrOrder)
	check("Add duplicate", bl.Add(Entry{Key: text("b"), Value: text("v")}), ErrOrder)
	if tr, err := bl.Done(); err != nil || tr.Count != 1 {
		t.Fatalf("Done after refused entries: %+v, %v", tr, err)
	}
	if err := bl.Add(Entry{Key: text("c"), Value: text("v")}); err == nil {
		t.Error("Add after Done succeeded")
	}
	deep := make([]byte, 0, 600)
	for range 511 {
		deep = append(deep, 0x81)
	}
	deep = append(deep, 0x01)
	check("Add too deep", NewBuilder(ctx, st, ListShape, nil).Add(Entry{Value: deep}), ErrInvalidEntry)
	_, err := NewBuilder(ctx, st, BlobShape, nil).Done()
	check("Builder for blobs", err, ErrShape)
	_, err = NewBuilder(ctx, st, MapShape, nil).Done()
	check("Builder without Compare", err, ErrShape)

	_, err = Apply(ctx, st, m, cmpText, []Edit{{Key: text("b"), Value: text("v")}, {Key: text("a"), Value: text("v")}})
	check("Apply unsorted", err, ErrOrder)
	_, err = Apply(ctx, st, m, cmpText, []Edit{{Key: text("a"), Value: text("v")}, {Key: text("a"), Delete: true}})
	check("Apply duplicate", err, ErrOrder)
	_, err = Apply(ctx, st, m, cmpText, []Edit{{Key: text("a")}})
	check("Apply without value", err, ErrInvalidEntry)
	_, err = Apply(ctx, st, l, cmpText, []Edit{{Key: text("a"), Value: text("v")}})
	check("Apply to list", err, ErrShape)
	_, err = Apply(ctx, st, m, nil, nil)
	check("Apply without Compare", err, ErrShape)
	if tr, err := Apply(ctx, st, m, cmpText, []Edit{{Key: text("zz"), Delete: true}}); err != nil || tr != m {
		t.Errorf("deleting an absent key changed the map: %v", err)
	}

	_, err = Splice(ctx, st, l, 3, 0, nil)
	check("Splice past end", err, ErrOutOfRange)
	_, err = Splice(ctx, st, l, 1, 2, nil)
	check("Splice remove past end", err, ErrOutOfRange)
	_, err = Splice(ctx, st, l, 0, 0, [][]byte{badItem})
	check("Splice invalid item", err, ErrInvalidEntry)
	_, err = Splice(ctx, st, m, 0, 0, nil)
	check("Splice a map", err, ErrShape)
	_, err = SpliceBlob(ctx, st, l, 0, 0, nil)
	check("SpliceBlob a list", err, ErrShape)

	_, _, err = Get(ctx, st, l, cmpText, text("a"))
	check("Get on list", err, ErrShape)
	_, err = At(ctx, st, b, 0)
	check("At on blob", err, ErrShape)
	_, err = At(ctx, st, l, 2)
	check("At past end", err, ErrOutOfRange)
	check("Iter on list", Iter(ctx, st, l, cmpText, nil).Err(), ErrShape)
	_, err = NewBlobReader(ctx, st, m).Read(make([]byte, 1))
	check("BlobReader on map", err, ErrShape)
	check("Diff map with set", Diff(ctx, st, m, Tree{Shape: SetShape}, cmpText, nil), ErrShape)
	check("Diff lists", Diff(ctx, st, l, l, cmpText, nil), ErrShape)
	_, err = At(ctx, st, Tree{Shape: MapShape, Count: 3}, 0)
	check("empty root with count", err, ErrCorrupt)
}

// hostileStore serves chunks whose contents were replaced.
type hostileStore struct {
	Store
	replace map[chunks.Hash][]byte
}

func (s *hostileStore) Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error) {
	if d, ok := s.replace[h]; ok {
		return chunks.NewChunkWithHash(h, d), nil
	}
	return s.Store.Get(ctx, h)
}

// TestCorruptNodes replaces nodes of real trees with wrong ones (garbage,
// nodes of another shape or level, nodes whose counts or keys disagree
// with their parent) and runs every operation: each must fail with an
// error wrapping ErrCorrupt (or the store's ErrNotFound), never panic or
// succeed silently with a wrong answer of the wrong size.
func TestCorruptNodes(t *testing.T) {
	useConfig(t, testConfig)
	base := newCheckStore(t)
	model := map[string]string{}
	var list []string
	for i := range 2000 {
		model[fmt.Sprintf("k%04d", i)] = fmt.Sprint(i)
		list = append(list, fmt.Sprint(i))
	}
	m := buildMap(t, base, model)
	l := buildList(t, base, list)
	blob := make([]byte, 100000)
	for i := range blob {
		blob[i] = byte(i * 7 / 3)
	}
	b := buildBlob(t, base, blob)
	other := buildMap(t, base, map[string]string{"zz": "other"})

	// Collect some nodes at each level of each tree.
	nodesOf := func(tr Tree) (out []chunks.Hash) {
		var walk func(h chunks.Hash, depth int)
		walk = func(h chunks.Hash, depth int) {
			out = append(out, h)
			n, _ := loadNode(ctx, base, h, tr.Shape, -1)
			if n.level > 0 {
				walk(n.items[0].link, depth+1)
				walk(n.items[len(n.items)-1].link, depth+1)
			}
		}
		walk(tr.Root, 0)
		return out
	}
	// m2 differs from m all over, so diffing them reads most of m's paths.
	var edits []Edit
	for i := 0; i < 2000; i += 50 {
		edits = append(edits, Edit{Key: text(fmt.Sprintf("k%04d", i)), Value: text("changed")})
	}
	m2, err := Apply(ctx, base, m, cmpText, edits)
	if err != nil {
		t.Fatal(err)
	}
	replacements := map[string][]byte{
		"garbage":        {0xff, 0x00},
		"empty":          {},
		"other-map-root": mustGet(t, base, other.Root),
		"blob-leaf":      encodeNode(0, true, 0, []byte("xyz")),
		"list-leaf":      encodeNode(0, false, 1, text("only")),
		"level-5-node":   encodeNode(5, false, 2, appendHead(appendLink(nil, other.Root), majorUint, 1)),
	}
	ops := map[string]func(st Store, tr Tree) error{
		"Get": func(st Store, tr Tree) error {
			if !tr.Shape.ordered() {
				return nil
			}
			for i := range 50 {
				if _, _, err := Get(ctx, st, tr, cmpText, text(fmt.Sprintf("k%04d", i*40))); err != nil {
					return err
				}
			}
			return nil
		},
		"At": func(st Store, tr Tree) error {
			if tr.Shape == BlobShape {
				return nil
			}
			for i := uint64(0); i < tr.Count; i += 37 {
				if _, err := At(ctx, st, tr, i); err != nil {
					return err
				}
			}
			return nil
		},
		"Iter": func(st Store, tr Tree) error {
			if tr.Shape == BlobShape {
				_, err := io.Copy(io.Discard, NewBlobReader(ctx, st, tr))
				return err
			}
			it := IterAt(ctx, st, tr, 0)
			n := uint64(0)
			for _, ok := it.Next(); ok; _, ok = it.Next() {
				n++
			}
			if it.Err() == nil && n != tr.Count {
				return fmt.Errorf("%w: iterated %d of %d", ErrCorrupt, n, tr.Count)
			}
			return it.Err()
		},
		"Edit": func(st Store, tr Tree) error {
			var err error
			for i := uint64(0); i < 20 && err == nil; i++ {
				switch tr.Shape {
				case MapShape:
					_, err = Apply(ctx, st, tr, cmpText, []Edit{{Key: text(fmt.Sprintf("k%04d", i*100)), Value: text("new")}})
				case ListShape:
					_, err = Splice(ctx, st, tr, i*tr.Count/20, 1, [][]byte{text("new")})
				case BlobShape:
					_, err = SpliceBlob(ctx, st, tr, i*tr.Count/20, 1, []byte("new"))
				}
			}
			return err
		},
		"Diff": func(st Store, tr Tree) error {
			if tr.Shape != MapShape {
				return nil
			}
			n := 0
			err := Diff(ctx, st, tr, m2, cmpText, func(Change) error { n++; return nil })
			if err == nil && n != len(edits) {
				return fmt.Errorf("%w: %d changes, want %d", ErrCorrupt, n, len(edits))
			}
			return err
		},
	}
	for _, tr := range []Tree{m, l, b} {
		for i, victim := range nodesOf(tr) {
			for rname, data := range replacements {
				st := &hostileStore{Store: base, replace: map[chunks.Hash][]byte{victim: data}}
				for oname, op := range ops {
					err := op(st, tr)
					if err == nil {
						// Only acceptable if the replaced node is never read by op:
						// then it is not a corruption the op could see.
						continue
					}
					if !errors.Is(err, ErrCorrupt) {
						t.Errorf("%s node %d replaced by %s: %s: %v does not wrap ErrCorrupt", tr.Shape, i, rname, oname, err)
					}
				}
				// A full walk always reads every node: it must fail.
				if err := ops["Iter"](st, tr); err == nil {
					t.Errorf("%s node %d replaced by %s: iteration succeeded", tr.Shape, i, rname)
				}
			}
		}
	}
	// Missing chunks are reported as such.
	st := &hostileStore{Store: chunks.NewMemoryStore()}
	if _, _, err := Get(ctx, st, m, cmpText, text("k0001")); !errors.Is(err, chunks.ErrNotFound) {
		t.Errorf("Get on a store without the tree: %v", err)
	}
}

func mustGet(t *testing.T, st Store, h chunks.Hash) []byte {
	c, err := st.Get(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	return c.Data()
}
