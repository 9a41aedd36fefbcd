package merge

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// A Go model of a two-level value: a map from Int keys to an Int or to a
// map of Int to Int. The reference merge below works on the models, entry
// by entry over every key, the obvious way; Values must agree with it to
// the hash while reading only around the changes.
type model map[int64]any // int64 or map[int64]int64

func (m model) clone() model {
	out := model{}
	for k, v := range m {
		if inner, ok := v.(map[int64]int64); ok {
			v = maps.Clone(inner)
		}
		out[k] = v
	}
	return out
}

func build(t testing.TB, st value.Store, m model) value.Map {
	t.Helper()
	var es []value.MapEntry
	for k, v := range m {
		es = append(es, value.MapEntry{Key: num(k), Value: leaf(t, st, v)})
	}
	out, err := value.NewMap(context.Background(), st, es...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func leaf(t testing.TB, st value.Store, v any) value.Value {
	switch v := v.(type) {
	case nil:
		return nil
	case int64:
		return num(v)
	case map[int64]int64:
		var es []value.MapEntry
		for k, x := range v {
			es = append(es, value.MapEntry{Key: num(k), Value: num(x)})
		}
		out, err := value.NewMap(context.Background(), st, es...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	t.Fatalf("bad model value %T", v)
	return nil
}

// mutate changes n random entries of m, some of them chosen from shared so
// both sides of a merge touch them.
func mutate(r *rand.Rand, m model, n int, shared []int64, keyspace int64) {
	for range n {
		k := r.Int64N(keyspace)
		if len(shared) > 0 && r.IntN(3) == 0 {
			k = shared[r.IntN(len(shared))]
		}
		switch v := m[k].(type) {
		case map[int64]int64:
			if r.IntN(4) == 0 {
				delete(m, k)
				continue
			}
			inner := maps.Clone(v)
			ik := r.Int64N(6)
			if r.IntN(3) == 0 {
				delete(inner, ik)
			} else {
				inner[ik] = r.Int64N(5)
			}
			m[k] = inner
		default:
			switch r.IntN(6) {
			case 0:
				delete(m, k)
			case 1:
				m[k] = map[int64]int64{r.Int64N(6): r.Int64N(5)}
			default:
				m[k] = r.Int64N(5) // small range: equal changes on both sides happen
			}
		}
	}
}

// refMerge is the specification: per key, one-sided changes win, equal
// changes agree, two maps merge recursively (against an empty map if the
// ancestor was not a map), and anything else is a conflict given to det
// (Deterministic's rule) or recorded.
func refMerge(t testing.TB, st value.Store, anc, a, b model, conflicts *[]string) model {
	out := model{}
	keys := map[int64]bool{}
	for _, m := range []model{anc, a, b} {
		for k := range m {
			keys[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		v := refEntry(t, st, fmt.Sprintf("[%d]", k), anc[k], a[k], b[k], conflicts)
		if v != nil {
			out[k] = v
		}
	}
	return out
}

func refEntry(t testing.TB, st value.Store, path string, anc, a, b any, conflicts *[]string) any {
	eq := func(x, y any) bool { return sameValue(leaf(t, st, x), leaf(t, st, y)) }
	switch {
	case eq(a, b):
		return a
	case eq(anc, a):
		return b
	case eq(anc, b):
		return a
	}
	am, ok1 := a.(map[int64]int64)
	bm, ok2 := b.(map[int64]int64)
	if ok1 && ok2 {
		ancm, _ := anc.(map[int64]int64)
		out := map[int64]int64{}
		keys := map[int64]bool{}
		for _, m := range []map[int64]int64{ancm, am, bm} {
			for k := range m {
				keys[k] = true
			}
		}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			get := func(m map[int64]int64) any {
				if x, ok := m[k]; ok {
					return x
				}
				return nil
			}
			if v := refEntry(t, st, fmt.Sprintf("%s[%d]", path, k), get(ancm), get(am), get(bm), conflicts); v != nil {
				out[k] = v.(int64)
			}
		}
		return out
	}
	*conflicts = append(*conflicts, path)
	switch w := deterministic(leaf(t, st, a), leaf(t, st, b)); {
	case w == nil:
		return nil
	case sameValue(w, leaf(t, st, a)):
		return a
	default:
		return b
	}
}

func TestMergeMatchesReferenceAndCommutes(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 20
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ctx := ctxT(t)
			r := rand.New(rand.NewPCG(uint64(seed), 7))
			st := chunks.NewMemoryStore()
			size := int64(50 + r.IntN(3000))
			anc := model{}
			mutate(r, anc, int(size), nil, size) // a random start, some nested maps
			var shared []int64
			for range 1 + r.IntN(20) {
				shared = append(shared, r.Int64N(size+10))
			}
			a, b := anc.clone(), anc.clone()
			mutate(r, a, 1+r.IntN(60), shared, size+10)
			mutate(r, b, 1+r.IntN(60), shared, size+10)
			va, vb, vanc := build(t, st, a), build(t, st, b), build(t, st, anc)

			var refConflicts []string
			want := build(t, st, refMerge(t, st, anc, a, b, &refConflicts))
			got := mustMerge(t, st, vanc, va, vb, Deterministic)
			if !value.Equal(got, want) {
				t.Fatalf("merge differs from the reference: %d vs %d entries", got.(value.Map).Len(), want.Len())
			}
			t.Logf("%d entries, %d conflicts", want.Len(), len(refConflicts))
			if back := mustMerge(t, st, vanc, vb, va, Deterministic); !value.Equal(back, got) {
				t.Fatal("merge(a, b) != merge(b, a) under Deterministic")
			}
			// Fail finds exactly the reference's conflicts, in path order.
			_, err := Values(ctx, st, vanc, va, vb, Fail)
			if gotPaths := paths(conflictsOf(err)); !slices.Equal(gotPaths, refConflicts) {
				t.Fatalf("conflicts at %q, reference %q (err %v)", gotPaths, refConflicts, err)
			}
			// Trivial merges.
			if v := mustMerge(t, st, vanc, va, vanc, Fail); !value.Equal(v, va) {
				t.Fatal("merge(a, anc) != a")
			}
			if v := mustMerge(t, st, vanc, va, va, Fail); !value.Equal(v, va) {
				t.Fatal("merge(a, a) != a")
			}
		})
	}
}

// TestMergeCostFollowsChanges: merging two versions of a 1,000,000-entry
// map, each with 100 changed keys, reads a small fraction of one map's
// nodes, and ten times fewer changes read about ten times fewer nodes.
func TestMergeCostFollowsChanges(t *testing.T) {
	ctx := ctxT(t)
	cs := newCounting()
	const n = 1_000_000
	base := bigMap(t, cs, n)
	total := cs.puts.Load() // every node of the map, written once
	for _, changes := range []int{100, 10} {
		r := rand.New(rand.NewPCG(uint64(changes), 1))
		a, b := editSides(t, cs, base, n, changes, r)
		cs.gets.Store(0)
		v, err := Values(ctx, cs, base, a, b, Fail)
		if err != nil {
			t.Fatal(err)
		}
		gets := cs.gets.Load()
		t.Logf("%d changes per side: %d chunk reads (the map has %d nodes)", changes, gets, total)
		if limit := int64(changes) * 10; gets > limit || gets > total/3 {
			t.Fatalf("merge read %d chunks for %d changes per side; want <= %d", gets, changes, limit)
		}
		// Spot check: the merged map has both sides' changes.
		if got := v.(value.Map).Len(); got != n {
			t.Fatalf("merged map has %d entries, want %d", got, n)
		}
		for _, k := range []value.Value{str("a-new-1"), str("b-new-1")} {
			if ok, err := v.(value.Map).Has(ctx, cs, k); err != nil || !ok {
				t.Fatalf("merged map lacks %v (%v)", k, err)
			}
		}
	}
}

func bigKey(j int) value.String { return value.String(fmt.Sprintf("key%08d", j)) }

func bigMap(t testing.TB, st value.Store, n int) value.Map {
	t.Helper()
	b := value.NewMapBuilder(context.Background(), st)
	for j := range n {
		if err := b.Add(bigKey(j), num(int64(j))); err != nil {
			t.Fatal(err)
		}
	}
	m, err := b.Map()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// editSides makes two versions of base with changes edits each: a
// quarter delete random keys, a quarter add new keys, the rest modify
// random keys; the first three are the same change on both sides. The
// sides pick from disjoint keys (even and odd), so they never conflict,
// and deletions balance additions: the merge has n entries.
func editSides(t testing.TB, st value.Store, base value.Map, n, changes int, r *rand.Rand) (value.Map, value.Map) {
	t.Helper()
	ctx := context.Background()
	ea, eb := base.Edit(), base.Edit()
	used := map[int]bool{}
	pick := func(side int) value.String {
		for {
			j := r.IntN(n/2)*2 + side
			if !used[j] {
				used[j] = true
				return bigKey(j)
			}
		}
	}
	for j := range changes {
		for side, ed := range []*value.MapEditor{ea, eb} {
			switch {
			case j < 3 && side == 0: // the same change on both sides
				k := pick(0)
				ea.Set(k, num(-1))
				eb.Set(k, num(-1))
			case j < 3:
			case j%4 == 0:
				ed.Delete(pick(side))
			case j%4 == 1:
				ed.Set(str(fmt.Sprintf("%c-new-%d", 'a'+side, j/4)), num(int64(j)))
			default:
				ed.Set(pick(side), num(int64(-j-side*1000)))
			}
		}
	}
	a, err := ea.Map(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := eb.Map(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}
