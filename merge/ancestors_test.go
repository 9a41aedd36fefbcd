package merge

import (
	"context"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// hidingStore reports one chunk as absent to Has, as after a garbage
// collection removed an unreferenced virtual ancestor.
type hidingStore struct {
	*countingStore
	hide chunks.Hash
}

func (s *hidingStore) Has(ctx context.Context, h chunks.Hash) (bool, error) {
	if h == s.hide {
		return false, nil
	}
	return s.countingStore.Has(ctx, h)
}

// A criss-cross merge with an ancestor cache: the second merge across the
// same bases reads fewer chunks and gives the identical commit; a cached
// ancestor whose root the store lost is built again.
func TestAncestorCache(t *testing.T) {
	ctx := ctxT(t)
	cs := &hidingStore{countingStore: newCounting()}
	d := db.New(cs)
	var entries []value.Value
	for i := range 400 {
		entries = append(entries, str(string(rune('a'+i%26))+string(rune('a'+i/26))), num(int64(i)))
	}
	base := commit(t, d, mustMap(t, cs, entries...))
	edit := func(parent db.Commit, k string, v int64) db.Commit {
		m, err := parent.Value.(value.Map).Set(ctx, cs, str(k), num(v))
		if err != nil {
			t.Fatal(err)
		}
		return commit(t, d, m, parent.Hash)
	}
	a1, b1 := edit(base, "A", 1), edit(base, "B", 1)
	// Two merges of a1 and b1 that differ (each writer adds a key after
	// merging), so merging them crosses: bases a1 and b1.
	mergeOf := func(k string) db.Commit {
		r := mustCommits(t, d, a1.Hash, b1.Hash, Deterministic)
		m, err := r.Commit.Value.(value.Map).Set(ctx, cs, str(k), num(2))
		if err != nil {
			t.Fatal(err)
		}
		return commit(t, d, m, a1.Hash, b1.Hash)
	}
	x, y := mergeOf("X"), mergeOf("Y")

	cache := NewAncestorCache(16)
	cs.gets.Store(0)
	first, err := Commits(ctx, d, x.Hash, y.Hash, Deterministic, WithAncestorCache(cache))
	if err != nil || len(first.Bases) != 2 {
		t.Fatalf("first merge: %v, bases %v (want 2)", err, first.Bases)
	}
	cold := cs.gets.Load()
	cs.gets.Store(0)
	second, err := Commits(ctx, d, x.Hash, y.Hash, Deterministic, WithAncestorCache(cache))
	if err != nil || second.Commit.Hash != first.Commit.Hash {
		t.Fatalf("second merge: %v, %s vs %s", err, second.Commit.Hash, first.Commit.Hash)
	}
	warm := cs.gets.Load()
	if warm >= cold {
		t.Fatalf("the cached virtual ancestor saved nothing: %d reads cold, %d warm", cold, warm)
	}
	plain, err := Commits(ctx, d, x.Hash, y.Hash, Deterministic)
	if err != nil || plain.Commit.Hash != first.Commit.Hash {
		t.Fatalf("merge without the cache: %v, %s vs %s", err, plain.Commit.Hash, first.Commit.Hash)
	}
	t.Logf("reads: %d cold, %d with the cached ancestor", cold, warm)

	// The cached ancestor's root is gone: built again, same result.
	v, ok := cache.get(ctx, cs, first.Bases)
	if !ok {
		t.Fatal("the virtual ancestor was not cached")
	}
	cs.hide = v.(value.Map).Root()
	if _, ok := cache.get(ctx, cs, first.Bases); ok {
		t.Fatal("a cached ancestor whose root is gone was served")
	}
	cs.gets.Store(0)
	again, err := Commits(ctx, d, x.Hash, y.Hash, Deterministic, WithAncestorCache(cache))
	if err != nil || again.Commit.Hash != first.Commit.Hash || cs.gets.Load() <= warm {
		t.Fatalf("after losing the cached root: %v, %s vs %s, %d reads", err, again.Commit.Hash, first.Commit.Hash, cs.gets.Load())
	}
}

func TestAncestorCacheEvicts(t *testing.T) {
	c := NewAncestorCache(2)
	for i := range 3 {
		c.put([]chunks.Hash{chunks.Of([]byte{byte(i)}), chunks.Of([]byte{9})}, num(int64(i)))
	}
	if len(c.m) != 2 || len(c.order) != 2 {
		t.Fatalf("cache holds %d entries (%d ordered), want 2", len(c.m), len(c.order))
	}
	if _, ok := c.get(context.Background(), chunks.NewMemoryStore(), []chunks.Hash{chunks.Of([]byte{0}), chunks.Of([]byte{9})}); ok {
		t.Fatal("the oldest entry survived eviction")
	}
	c.put(nil, value.Struct{})
	if len(c.m) != 2 {
		t.Fatal("a struct was cached")
	}
}
