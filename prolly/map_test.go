package prolly

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkMap compares every read operation on tr with the model.
func checkMap(t *testing.T, st Store, tr Tree, model map[string]string, rng *rand.Rand) {
	t.Helper()
	keys := make([]string, 0, len(model))
	for k := range model {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if tr.Len() != uint64(len(keys)) {
		t.Fatalf("Len = %d, model has %d", tr.Len(), len(keys))
	}
	// Full iteration.
	it := Iter(ctx, st, tr, cmpText, nil)
	i := 0
	for e, ok := it.Next(); ok; e, ok = it.Next() {
		if i >= len(keys) || untext(e.Key) != keys[i] || untext(e.Value) != model[keys[i]] {
			t.Fatalf("Iter entry %d = %q:%q, want %q", i, untext(e.Key), untext(e.Value), keys[min(i, len(keys)-1)])
		}
		i++
	}
	if err := it.Err(); err != nil || i != len(keys) {
		t.Fatalf("Iter: %d entries, err %v; want %d", i, err, len(keys))
	}
	// Point reads, ranks, ranges.
	for range 50 {
		k := fmt.Sprintf("k%d", rng.IntN(4*len(keys)+10))
		v, found, err := Get(ctx, st, tr, cmpText, text(k))
		want, in := model[k]
		if err != nil || found != in || (in && untext(v) != want) {
			t.Fatalf("Get(%q) = %q,%v,%v; want %q,%v", k, v, found, err, want, in)
		}
		if has, err := Has(ctx, st, tr, cmpText, text(k)); err != nil || has != in {
			t.Fatalf("Has(%q) = %v,%v", k, has, err)
		}
		// Iter from k: the first key >= k.
		pos, _ := slices.BinarySearch(keys, k)
		it := Iter(ctx, st, tr, cmpText, text(k))
		for j := pos; j < min(pos+3, len(keys)); j++ {
			e, ok := it.Next()
			if !ok || untext(e.Key) != keys[j] {
				t.Fatalf("Iter from %q: entry %d = %q,%v; want %q (err %v)", k, j-pos, e.Key, ok, keys[j], it.Err())
			}
		}
		if pos == len(keys) {
			if _, ok := it.Next(); ok {
				t.Fatalf("Iter from %q past the end returned an entry", k)
			}
		}
		if len(keys) == 0 {
			continue
		}
		r := rng.IntN(len(keys))
		e, err := At(ctx, st, tr, uint64(r))
		if err != nil || untext(e.Key) != keys[r] || untext(e.Value) != model[keys[r]] {
			t.Fatalf("At(%d) = %q,%v; want %q", r, e.Key, err, keys[r])
		}
		it = IterAt(ctx, st, tr, uint64(r))
		for j := r; j < min(r+3, len(keys)); j++ {
			e, ok := it.Next()
			if !ok || untext(e.Key) != keys[j] {
				t.Fatalf("IterAt(%d): entry %d = %q,%v; want %q", r, j, e.Key, ok, keys[j])
			}
		}
	}
	if _, err := At(ctx, st, tr, uint64(len(keys))); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("At(Len) error = %v, want ErrOutOfRange", err)
	}
	if _, ok := IterAt(ctx, st, tr, uint64(len(keys))).Next(); ok {
		t.Fatal("IterAt(Len) returned an entry")
	}
}

// randomEdits returns a sorted batch of edits to model: new keys, changed
// values and deletions, and applies it to the model.
func randomEdits(rng *rand.Rand, model map[string]string, n, keySpace, lone int) []Edit {
	picked := map[string]bool{}
	var edits []Edit
	for range n {
		k := fmt.Sprintf("k%d", rng.IntN(keySpace))
		if picked[k] {
			continue
		}
		picked[k] = true
		if _, in := model[k]; in && rng.IntN(3) == 0 {
			edits = append(edits, Edit{Key: text(k), Delete: true})
			delete(model, k)
			continue
		}
		v := randValue(rng, lone)
		model[k] = v
		edits = append(edits, Edit{Key: text(k), Value: text(v)})
	}
	slices.SortFunc(edits, func(a, b Edit) int { return cmpText(a.Key, b.Key) })
	return edits
}

func TestMapModel(t *testing.T) {
	for _, tc := range []struct {
		name     string
		c        *config
		keySpace int
		rounds   int
		lone     int // one value in lone is a lone entry
		minDepth int
	}{
		{"small-nodes", testConfig, 6000, 25, 0, 4},
		{"small-nodes-lone-entries", testConfig, 3000, 25, 20, 3},
		{"real-config", defaultConfig, 60000, 8, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			useConfig(t, tc.c)
			restarts := 0
			restartHook = func() { restarts++ }
			defer func() { restartHook = nil }()
			st := newCheckStore(t)
			rng := rand.New(rand.NewPCG(1, uint64(len(tc.name))))
			model := map[string]string{}
			tr := Tree{Shape: MapShape}
			for round := range tc.rounds {
				// Batches from one edit to a third of the key space.
				n := 1 + rng.IntN(tc.keySpace/3)
				if round%3 == 2 {
					n = 1 + rng.IntN(5)
				}
				edits := randomEdits(rng, model, n, tc.keySpace, tc.lone)
				var err error
				if tr, err = Apply(ctx, st, tr, cmpText, edits); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if bulk := buildMap(t, st, model); bulk != tr {
					t.Fatalf("round %d: edited root %s (%d) differs from bulk-built %s (%d)", round, tr.Root, tr.Count, bulk.Root, bulk.Count)
				}
				walkTree(t, st, tr, cmpText)
				checkMap(t, st, tr, model, rng)
			}
			stats := walkTree(t, st, tr, cmpText)
			if stats.depth < tc.minDepth {
				t.Errorf("final tree has %d levels, want at least %d", stats.depth, tc.minDepth)
			}
			t.Logf("%d entries, %d levels, %d nodes (%d leaves), %d restarts", tr.Count, stats.depth, stats.nodes, stats.leaves, restarts)
			if tc.lone > 0 && restarts == 0 {
				t.Errorf("no edit needed the previous leaf opened: the lone-entry path is untested")
			}
			// Delete everything, in a few batches.
			for len(model) > 0 {
				var edits []Edit
				for k := range model {
					if rng.IntN(2) == 0 || len(model) < 10 {
						edits = append(edits, Edit{Key: text(k), Delete: true})
						delete(model, k)
					}
				}
				slices.SortFunc(edits, func(a, b Edit) int { return cmpText(a.Key, b.Key) })
				var err error
				if tr, err = Apply(ctx, st, tr, cmpText, edits); err != nil {
					t.Fatal(err)
				}
				if bulk := buildMap(t, st, model); bulk != tr {
					t.Fatalf("after deletes: root %s differs from bulk-built %s", tr.Root, bulk.Root)
				}
			}
			if !tr.Empty() || tr.Count != 0 {
				t.Fatalf("emptied map is %+v", tr)
			}
		})
	}
}

// TestSmallTrees runs the model checks on trees of a few entries, with
// the real configuration (a single leaf, or two levels).
func TestSmallTrees(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 10, 100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			st := newCheckStore(t)
			rng := rand.New(rand.NewPCG(uint64(n), 0))
			model := map[string]string{}
			for i := range n {
				model[fmt.Sprint("k", i)] = fmt.Sprint("v", i)
			}
			tr := buildMap(t, st, model)
			if stats := walkTree(t, st, tr, cmpText); n > 0 && n <= 100 && stats.depth != 1 {
				t.Errorf("%d small entries make %d levels, want a single leaf", n, stats.depth)
			}
			checkMap(t, st, tr, model, rng)
			// One edit of each kind keeps it equal to a bulk build.
			for _, ed := range []Edit{{Key: text("k0"), Delete: true}, {Key: text("new"), Value: text("x")}, {Key: text("k1"), Value: text("changed")}} {
				var err error
				if tr, err = Apply(ctx, st, tr, cmpText, []Edit{ed}); err != nil {
					t.Fatal(err)
				}
				if ed.Delete {
					delete(model, untext(ed.Key))
				} else {
					model[untext(ed.Key)] = untext(ed.Value)
				}
				if want := buildMap(t, st, model); want != tr {
					t.Fatalf("after %s: %s, built %s", ed.Key, tr.Root, want.Root)
				}
				checkMap(t, st, tr, model, rng)
			}
		})
	}
}
