package prolly

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHistoryIndependenceMap inserts the same contents in several random
// orders and batch sizes, with extra keys inserted and deleted on the way,
// and requires the root the bulk build gives.
func TestHistoryIndependenceMap(t *testing.T) {
	for _, c := range []*config{testConfig, defaultConfig} {
		t.Run(fmt.Sprintf("target%d", c.targetNode), func(t *testing.T) {
			useConfig(t, c)
			st := newCheckStore(t)
			rng := rand.New(rand.NewPCG(7, 7))
			n := 5000
			if c == defaultConfig {
				n = 20000
			}
			model := map[string]string{}
			for len(model) < n {
				model[fmt.Sprintf("k%d", rng.IntN(10*n))] = randValue(rng, 0)
			}
			want := buildMap(t, st, model)
			keys := make([]string, 0, n)
			for k := range model {
				keys = append(keys, k)
			}
			for order := range 5 {
				rng.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
				tr := Tree{Shape: MapShape}
				extra := map[string]bool{}
				for rest := keys; len(rest) > 0; {
					size := 1 + rng.IntN(max(1, len(keys)/(order+1)))
					if order == 0 {
						size = 1 + rng.IntN(50) // many small batches
					}
					batch := rest[:min(size, len(rest))]
					rest = rest[len(batch):]
					edits := make([]Edit, 0, len(batch)+2)
					for _, k := range batch {
						edits = append(edits, Edit{Key: text(k), Value: text(model[k])})
					}
					// Some keys that will be deleted later, and deletes of earlier ones.
					for x := range extra {
						if rng.IntN(2) == 0 {
							edits = append(edits, Edit{Key: text(x), Delete: true})
							delete(extra, x)
						}
					}
					if rng.IntN(2) == 0 {
						x := fmt.Sprintf("x%d", rng.IntN(1000))
						if !extra[x] {
							extra[x] = true
							edits = append(edits, Edit{Key: text(x), Value: text("extra")})
						}
					}
					edits = sortUnique(edits)
					var err error
					if tr, err = Apply(ctx, st, tr, cmpText, edits); err != nil {
						t.Fatal(err)
					}
				}
				var dels []Edit
				for x := range extra {
					dels = append(dels, Edit{Key: text(x), Delete: true})
				}
				tr, err := Apply(ctx, st, tr, cmpText, sortUnique(dels))
				if err != nil {
					t.Fatal(err)
				}
				if tr != want {
					t.Fatalf("order %d: root %s (%d), bulk build %s (%d)", order, tr.Root, tr.Count, want.Root, want.Count)
				}
			}
			stats := walkTree(t, st, want, cmpText)
			t.Logf("%d entries: %d levels, %d nodes", want.Count, stats.depth, stats.nodes)
		})
	}
}

// sortUnique sorts edits by key; of equal keys it keeps the last.
func sortUnique(edits []Edit) []Edit {
	slices.SortStableFunc(edits, func(a, b Edit) int { return cmpText(a.Key, b.Key) })
	out := edits[:0]
	for i, e := range edits {
		if i+1 < len(edits) && cmpText(e.Key, edits[i+1].Key) == 0 {
			continue
		}
		out = append(out, e)
	}
	return out
}

// TestHistoryIndependenceSet builds a Set by BuildFromUnsorted with
// duplicates, by a Builder, and by random Apply batches.
func TestHistoryIndependenceSet(t *testing.T) {
	useConfig(t, testConfig)
	st := newCheckStore(t)
	rng := rand.New(rand.NewPCG(3, 4))
	var entries []Entry
	members := map[string]bool{}
	for range 8000 {
		k := fmt.Sprintf("m%d", rng.IntN(5000))
		members[k] = true
		entries = append(entries, Entry{Key: text(k)})
	}
	want, err := BuildFromUnsorted(ctx, st, SetShape, cmpText, entries)
	if err != nil {
		t.Fatal(err)
	}
	if want.Count != uint64(len(members)) {
		t.Fatalf("set of %d members counts %d", len(members), want.Count)
	}
	walkTree(t, st, want, cmpText)
	tr := Tree{Shape: SetShape}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	for len(keys) > 0 {
		n := min(len(keys), 1+rng.IntN(300))
		var edits []Edit
		for _, k := range keys[:n] {
			edits = append(edits, Edit{Key: text(k), Value: text("ignored for sets")})
		}
		keys = keys[n:]
		if tr, err = Apply(ctx, st, tr, cmpText, sortUnique(edits)); err != nil {
			t.Fatal(err)
		}
	}
	if tr != want {
		t.Fatalf("applied set %s, built %s", tr.Root, want.Root)
	}
	for k := range members {
		if v, found, err := Get(ctx, st, tr, cmpText, text(k)); err != nil || !found || v != nil {
			t.Fatalf("Get(%q) = %q,%v,%v", k, v, found, err)
		}
		break
	}
	e, err := At(ctx, st, tr, 0)
	if err != nil || e.Value != nil || e.Key == nil {
		t.Fatalf("At(0) = %+v, %v", e, err)
	}
}

// checkList compares a List with its model.
func checkList(t *testing.T, st Store, tr Tree, model []string, rng *rand.Rand) {
	t.Helper()
	if tr.Len() != uint64(len(model)) {
		t.Fatalf("Len = %d, model %d", tr.Len(), len(model))
	}
	it := IterAt(ctx, st, tr, 0)
	i := 0
	for e, ok := it.Next(); ok; e, ok = it.Next() {
		if e.Key != nil || untext(e.Value) != model[i] {
			t.Fatalf("item %d = %q, want %q", i, e.Value, model[i])
		}
		i++
	}
	if it.Err() != nil || i != len(model) {
		t.Fatalf("iterated %d of %d items: %v", i, len(model), it.Err())
	}
	for range 20 {
		if len(model) == 0 {
			break
		}
		k := rng.IntN(len(model))
		e, err := At(ctx, st, tr, uint64(k))
		if err != nil || untext(e.Value) != model[k] {
			t.Fatalf("At(%d) = %q,%v; want %q", k, e.Value, err, model[k])
		}
		it := IterAt(ctx, st, tr, uint64(k))
		for j := k; j < min(k+5, len(model)); j++ {
			if e, ok := it.Next(); !ok || untext(e.Value) != model[j] {
				t.Fatalf("IterAt(%d) item %d = %q, want %q", k, j, e.Value, model[j])
			}
		}
	}
}

func TestListModel(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *config
		n    int
		lone int
	}{
		{"small-nodes", testConfig, 4000, 0},
		{"small-nodes-lone-items", testConfig, 1500, 15},
		{"real-config", defaultConfig, 40000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			useConfig(t, tc.c)
			restarts := 0
			restartHook = func() { restarts++ }
			defer func() { restartHook = nil }()
			st := newCheckStore(t)
			rng := rand.New(rand.NewPCG(5, uint64(tc.n)))
			var model []string
			tr := Tree{Shape: ListShape}
			// Built by appends of random sizes...
			for len(model) < tc.n {
				var items [][]byte
				for range 1 + rng.IntN(tc.n/10) {
					v := randValue(rng, tc.lone)
					model = append(model, v)
					items = append(items, text(v))
				}
				var err error
				if tr, err = Splice(ctx, st, tr, tr.Count, 0, items); err != nil {
					t.Fatal(err)
				}
			}
			if want := buildList(t, st, model); want != tr {
				t.Fatalf("appended list %s, built %s", tr.Root, want.Root)
			}
			// ... then random splices.
			for round := range 40 {
				at := rng.IntN(len(model) + 1)
				remove := min(len(model)-at, rng.IntN(3)*rng.IntN(tc.n/20+1))
				var ins []string
				for range rng.IntN(3) * rng.IntN(tc.n/20+1) {
					ins = append(ins, randValue(rng, tc.lone))
				}
				items := make([][]byte, len(ins))
				for i, v := range ins {
					items[i] = text(v)
				}
				var err error
				if tr, err = Splice(ctx, st, tr, uint64(at), uint64(remove), items); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				model = slices.Concat(model[:at], ins, model[at+remove:])
				if want := buildList(t, st, model); want != tr {
					t.Fatalf("round %d: spliced list %s (%d), built %s (%d)", round, tr.Root, tr.Count, want.Root, want.Count)
				}
				walkTree(t, st, tr, nil)
				checkList(t, st, tr, model, rng)
			}
			stats := walkTree(t, st, tr, nil)
			t.Logf("%d items: %d levels, %d nodes, %d restarts", tr.Count, stats.depth, stats.nodes, restarts)
			if tc.lone > 0 && restarts == 0 {
				t.Errorf("no splice needed the previous leaf opened: the lone-item path is untested")
			}
			// Remove everything.
			var err error
			if tr, err = Splice(ctx, st, tr, 0, tr.Count, nil); err != nil {
				t.Fatal(err)
			}
			if !tr.Empty() {
				t.Fatalf("emptied list is %+v", tr)
			}
		})
	}
}

func TestBlobModel(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    *config
		size int
	}{
		{"small-chunks", testConfig, 300 << 10},
		{"real-config", defaultConfig, 3 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			useConfig(t, tc.c)
			st := newCheckStore(t)
			rng := rand.New(rand.NewPCG(9, uint64(tc.size)))
			model := make([]byte, tc.size)
			for i := range model {
				model[i] = byte(rng.IntN(256))
			}
			// Some repetitive stretches too: runs and a repeated pattern.
			copy(model[tc.size/4:], bytes.Repeat([]byte{0}, tc.size/20))
			copy(model[tc.size/2:], bytes.Repeat([]byte("abcdefg"), tc.size/70))
			tr := buildBlob(t, st, model)
			checkBlob(t, st, tr, model, rng)
			// Built in pieces by appends...
			pieces := Tree{Shape: BlobShape}
			for off := 0; off < len(model); {
				n := min(len(model)-off, 1+rng.IntN(tc.size/5))
				var err error
				if pieces, err = SpliceBlob(ctx, st, pieces, pieces.Count, 0, model[off:off+n]); err != nil {
					t.Fatal(err)
				}
				off += n
			}
			if pieces != tr {
				t.Fatalf("appended blob %s, built %s", pieces.Root, tr.Root)
			}
			// ... and random splices.
			for round := range 30 {
				at := rng.IntN(len(model) + 1)
				remove := min(len(model)-at, rng.IntN(3)*rng.IntN(tc.size/50+1))
				ins := make([]byte, rng.IntN(3)*rng.IntN(tc.size/50+1))
				for i := range ins {
					ins[i] = byte(rng.IntN(256))
				}
				var err error
				if tr, err = SpliceBlob(ctx, st, tr, uint64(at), uint64(remove), ins); err != nil {
					t.Fatal(err)
				}
				model = slices.Concat(model[:at], ins, model[at+remove:])
				if want := buildBlob(t, st, model); want != tr {
					t.Fatalf("round %d: spliced blob %s (%d), built %s (%d)", round, tr.Root, tr.Count, want.Root, want.Count)
				}
				checkBlob(t, st, tr, model, rng)
			}
			stats := walkTree(t, st, tr, nil)
			t.Logf("%d bytes: %d levels, %d nodes (%d leaves, mean %d bytes)", tr.Count, stats.depth, stats.nodes, stats.leaves, tr.Count/uint64(stats.leaves))
		})
	}
}
