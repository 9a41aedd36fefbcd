package db

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// countingStore counts Gets, to show walks read only what they must.
type countingStore struct {
	chunks.ChunkStore
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error) {
	s.gets.Add(1)
	return s.ChunkStore.Get(ctx, h)
}

// 1 - 2 - ... - 100 (base) - a1 - a2 - a3 ------ m (merge of a3, b2)
//
//	\- b1 - b2 --------/
func historyFixture(t *testing.T) (*Database, *countingStore, map[string]Commit) {
	cs := &countingStore{ChunkStore: chunks.NewMemoryStore()}
	d := New(cs)
	c := map[string]Commit{}
	var prev Commit
	for i := 1; i <= 100; i++ {
		prev = mustCommit(t, d, "main", value.Int(int64(i)))
	}
	c["base"] = prev
	c["a1"] = mustCommit(t, d, "a", value.String("a1"), c["base"].Hash)
	c["a2"] = mustCommit(t, d, "a", value.String("a2"))
	c["a3"] = mustCommit(t, d, "a", value.String("a3"))
	c["b1"] = mustCommit(t, d, "b", value.String("b1"), c["base"].Hash)
	c["b2"] = mustCommit(t, d, "b", value.String("b2"))
	c["m"] = mustCommit(t, d, "a", value.String("m"), c["a3"].Hash, c["b2"].Hash)
	return d, cs, c
}

func TestCommonAncestorAndIsAncestorReadOnlyTheTop(t *testing.T) {
	d, cs, c := historyFixture(t)
	ctx := ctxT(t)
	cs.gets.Store(0)
	anc, ok, err := d.CommonAncestor(ctx, c["a3"].Hash, c["b2"].Hash)
	if err != nil || !ok || anc != c["base"].Hash {
		t.Fatalf("CommonAncestor(a3, b2) = %s, %v, %v; want base", anc, ok, err)
	}
	if n := cs.gets.Load(); n > 12 {
		t.Fatalf("CommonAncestor read %d commits; the fork is 5 commits above a 100-commit history", n)
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"base", "m", true}, {"b1", "m", true}, {"a1", "a3", true}, {"m", "a3", false}, {"b1", "a3", false}, {"a3", "a3", true}} {
		cs.gets.Store(0)
		got, err := d.IsAncestor(ctx, c[tc.a].Hash, c[tc.b].Hash)
		if err != nil || got != tc.want {
			t.Fatalf("IsAncestor(%s, %s) = %v, %v; want %v", tc.a, tc.b, got, err, tc.want)
		}
		if n := cs.gets.Load(); n > 12 {
			t.Fatalf("IsAncestor(%s, %s) read %d commits", tc.a, tc.b, n)
		}
	}
	// The ancestor of a commit and its own ancestor is the ancestor.
	if anc, ok, _ := d.CommonAncestor(ctx, c["m"].Hash, c["b1"].Hash); !ok || anc != c["b1"].Hash {
		t.Fatalf("CommonAncestor(m, b1) = %s", anc)
	}
	// Unrelated histories never meet.
	lone := mustCommit(t, d, "lone", value.Int(0))
	if _, ok, err := d.CommonAncestor(ctx, lone.Hash, c["m"].Hash); ok || err != nil {
		t.Fatalf("unrelated commits have a common ancestor: %v", err)
	}
}

func TestHistoryNewestFirstWithMerges(t *testing.T) {
	d, _, c := historyFixture(t)
	var got []chunks.Hash
	for cm, err := range d.History(ctxT(t), c["m"].Hash) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, cm.Hash)
		if len(got) == 7 {
			break
		}
	}
	// Heights: m 104, a3 103, a2 102 and b2 102, a1 101 and b1 101, base 100.
	pair := func(x, y string) []chunks.Hash {
		p := []chunks.Hash{c[x].Hash, c[y].Hash}
		slices.SortFunc(p, chunks.Hash.Compare)
		return p
	}
	want := append(append(append([]chunks.Hash{c["m"].Hash, c["a3"].Hash}, pair("a2", "b2")...), pair("a1", "b1")...), c["base"].Hash)
	if !slices.Equal(got, want) {
		t.Fatalf("History order wrong:\n got %v\nwant %v", got, want)
	}
}

// Two peers that merge the same heads write the same commit, whatever the
// order they list the parents in.
func TestMergeCommitsAreDeterministic(t *testing.T) {
	d, _, c := historyFixture(t)
	x, err := d.WriteCommit(ctxT(t), value.String("m"), []chunks.Hash{c["a3"].Hash, c["b2"].Hash}, value.Struct{})
	if err != nil {
		t.Fatal(err)
	}
	y, err := d.WriteCommit(ctxT(t), value.String("m"), []chunks.Hash{c["b2"].Hash, c["a3"].Hash, c["b2"].Hash}, value.Struct{})
	if err != nil {
		t.Fatal(err)
	}
	if x.Hash != y.Hash || x.Height != 104 {
		t.Fatalf("same merge, different commits: %s (height %d) vs %s", x.Hash, x.Height, y.Hash)
	}
}

func FuzzDecodeCommit(f *testing.F) {
	c, _ := encodeCommit([]chunks.Hash{chunks.Of([]byte("p"))}, 2, value.Struct{}, value.Int(1))
	f.Add(c.Data())
	f.Add([]byte{0xa1})
	f.Fuzz(func(t *testing.T, b []byte) {
		cm, err := decodeCommit(chunks.NewChunk(b))
		if err != nil {
			return
		}
		again, err := encodeCommit(cm.Parents, cm.Height, cm.Meta, cm.Value)
		if err != nil || again.Hash() != cm.Hash {
			t.Fatalf("accepted commit does not re-encode to itself: %v", err)
		}
	})
}
