package merge

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// The convergence proof: N replicas (each a dataset in one shared chunk
// store, so every replica can read every chunk, as over IPFS) apply random
// mergeable operations to a Root struct and exchange heads in random
// order, merging what they receive (Into, the sync loop's step), until
// nothing changes any more. Then every replica must be on the same commit,
// its value must be what a reference model predicts, and one more round of
// exchanges must write nothing.
//
// The value:
//
//	Root{
//	  m: Map    own keys "r<i>/k<n>" -> Int, set and deleted by replica i only
//	  s: Set    shared members Int 0..15, added by anyone (add-only), and own
//	            members "r<i>/e<n>", added and removed by replica i only
//	  f: Struct own fields r<i>_f<n> -> Int, set and deleted by replica i
//	  g: Map    shared group names -> Map of own keys -> Int; any replica
//	            may create a group, so groups are created concurrently
//	  c: Map    (conflict seeds only) shared keys any replica sets or deletes
//	}
//
// Mergeable seeds merge with Fail, so a single spurious conflict fails the
// test; conflict seeds use Deterministic and check convergence, and that
// every value of c is one somebody wrote.

// replicaModel is what one replica did to the data it owns.
type replicaModel struct {
	m      map[string]int64
	own    map[string]bool // own set members
	fields map[string]int64
	groups map[string]map[string]int64 // group -> own key -> value
}

type worldModel struct {
	replicas []*replicaModel
	shared   map[int64]bool           // shared set members ever added
	groups   map[string]bool          // groups ever created
	written  map[int64]map[int64]bool // c key -> values ever written
}

func TestConvergenceModel(t *testing.T) {
	seeds := 200
	if testing.Short() {
		seeds = 50
	}
	var merges, pulls int
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			m, p := runModel(t, uint64(seed))
			merges += m
			pulls += p
		})
	}
	t.Logf("%d seeds: %d pulls, %d merge commits", seeds, pulls, merges)
}

func runModel(t *testing.T, seed uint64) (merges, pulls int) {
	ctx := ctxT(t)
	r := rand.New(rand.NewPCG(seed, 99))
	n := 4 + r.IntN(3)
	conflicts := seed%3 == 2
	unrelated := seed%4 == 1 // no common genesis: histories meet only by merging
	policy := Fail
	if conflicts {
		policy = Deterministic
	}
	cs := chunks.NewMemoryStore()
	d := db.New(cs)
	name := func(i int) string { return fmt.Sprintf("r%d", i) }

	w := &worldModel{shared: map[int64]bool{}, groups: map[string]bool{}, written: map[int64]map[int64]bool{}}
	for range n {
		w.replicas = append(w.replicas, &replicaModel{m: map[string]int64{}, own: map[string]bool{}, fields: map[string]int64{}, groups: map[string]map[string]int64{}})
	}
	emptyRoot := func() value.Struct {
		fs := map[string]value.Value{
			"m": mustMap(t, cs), "s": mustSet(t, cs), "f": mustStruct(t, "Fields"), "g": mustMap(t, cs),
		}
		if conflicts {
			fs["c"] = mustMap(t, cs)
		}
		v, err := value.NewStruct("Root", fs)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if unrelated {
		for i := range n {
			// Each replica's first commit already differs (its own key).
			root := emptyRoot()
			mv, _ := root.Get("m")
			key := fmt.Sprintf("r%d/k0", i)
			m2, err := mv.(value.Map).Set(ctx, cs, str(key), num(int64(i)))
			if err != nil {
				t.Fatal(err)
			}
			w.replicas[i].m[key] = int64(i)
			if _, err := d.Commit(ctx, name(i), root.Set("m", m2), db.CommitOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		g, err := d.WriteCommit(ctx, emptyRoot(), nil, value.Struct{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := d.SetHead(ctx, name(i), g.Hash); err != nil {
				t.Fatal(err)
			}
		}
	}

	pull := func(i, j int) Outcome {
		src, err := d.Head(ctx, name(j))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Into(ctx, d, name(i), src.Hash, policy)
		if err != nil {
			t.Fatalf("seed %d: r%d pulling r%d: %v", seed, i, j, err)
		}
		pulls++
		if res.Outcome == Merged {
			merges++
		}
		return res.Outcome
	}

	// Phase 1: local operations interleaved with partial exchanges, which
	// is what makes histories cross (several merge bases).
	steps := 30 + r.IntN(40)
	for range steps {
		if r.IntN(3) == 0 {
			i, j := r.IntN(n), r.IntN(n)
			if i != j {
				pull(i, j)
			}
			continue
		}
		i := r.IntN(n)
		localOp(t, ctx, d, r, w, i, name(i), conflicts)
	}

	// Phase 2: exchange in random orders until every head is the same.
	var pairs [][2]int
	for i := range n {
		for j := range n {
			if i != j {
				pairs = append(pairs, [2]int{i, j})
			}
		}
	}
	const maxRounds = 10
	converged := false
	finalMerges := 0
	rounds := 0
	for round := 0; round < maxRounds && !converged; round++ {
		rounds++
		r.Shuffle(len(pairs), func(a, b int) { pairs[a], pairs[b] = pairs[b], pairs[a] })
		for _, p := range pairs {
			if pull(p[0], p[1]) == Merged {
				finalMerges++
			}
		}
		converged = allSame(t, d, n, name)
	}
	if !converged {
		t.Fatalf("seed %d: heads still differ after %d rounds", seed, maxRounds)
	}
	// Bounded: a round of N(N-1) pulls writes at most N(N-1) merge
	// commits, and deterministic merges settle in a few rounds (at most 3
	// over these seeds, 33 merges for 6 replicas); peers that merged each
	// other's merges without settling would blow through this.
	if limit := 2 * n * (n - 1); finalMerges > limit || rounds > 4 {
		t.Fatalf("seed %d: %d merge commits in %d rounds to converge %d replicas (limit %d in 4)", seed, finalMerges, rounds, n, limit)
	}
	// Quiescent: another full round writes nothing and moves nothing.
	for _, p := range pairs {
		if o := pull(p[0], p[1]); o != UpToDate {
			t.Fatalf("seed %d: after convergence r%d pulling r%d: %v", seed, p[0], p[1], o)
		}
	}

	head, err := d.Head(ctx, name(0))
	if err != nil {
		t.Fatal(err)
	}
	got := head.Value.(value.Struct)
	want := w.predict(t, cs, conflicts)
	for _, f := range []string{"m", "s", "f", "g"} {
		gv, _ := got.Get(f)
		wv, _ := want.Get(f)
		if !value.Equal(gv, wv) {
			t.Fatalf("seed %d: field %s is %s, the model predicts %s", seed, f, Describe(gv), Describe(wv))
		}
	}
	if conflicts {
		cv, _ := got.Get("c")
		for e, err := range cv.(value.Map).All(ctx, cs, nil) {
			if err != nil {
				t.Fatal(err)
			}
			k, v := int64(e.Key.(value.Int)), int64(e.Value.(value.Int))
			if !w.written[k][v] {
				t.Fatalf("seed %d: c[%d] = %d, which nobody wrote", seed, k, v)
			}
		}
	}
	return merges, pulls
}

func allSame(t *testing.T, d *db.Database, n int, name func(int) string) bool {
	var first chunks.Hash
	for i := range n {
		h, err := d.Head(context.Background(), name(i))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = h.Hash
		} else if h.Hash != first {
			return false
		}
	}
	return true
}

// localOp applies one random operation to replica i's head and commits it.
func localOp(t *testing.T, ctx context.Context, d *db.Database, r *rand.Rand, w *worldModel, i int, ds string, conflicts bool) {
	head, err := d.Head(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	st := d.Store()
	root := head.Value.(value.Struct)
	rm := w.replicas[i]
	get := func(f string) value.Value { v, _ := root.Get(f); return v }
	ops := 4
	if conflicts {
		ops = 5
	}
	switch r.IntN(ops) {
	case 0: // own map key
		m := get("m").(value.Map)
		key := fmt.Sprintf("r%d/k%d", i, r.IntN(8))
		if r.IntN(4) == 0 {
			m, err = m.Delete(ctx, st, str(key))
			delete(rm.m, key)
		} else {
			x := r.Int64N(4)
			m, err = m.Set(ctx, st, str(key), num(x))
			rm.m[key] = x
		}
		root = root.Set("m", m)
	case 1: // set: shared add, or own add/remove
		s := get("s").(value.Set)
		switch r.IntN(3) {
		case 0:
			x := r.Int64N(16)
			s, err = s.Insert(ctx, st, num(x))
			w.shared[x] = true
		case 1:
			e := fmt.Sprintf("r%d/e%d", i, r.IntN(6))
			s, err = s.Insert(ctx, st, str(e))
			rm.own[e] = true
		default:
			e := fmt.Sprintf("r%d/e%d", i, r.IntN(6))
			s, err = s.Remove(ctx, st, str(e))
			delete(rm.own, e)
		}
		root = root.Set("s", s)
	case 2: // own struct field
		f := get("f").(value.Struct)
		field := fmt.Sprintf("r%d_f%d", i, r.IntN(4))
		if r.IntN(4) == 0 {
			f = f.Delete(field)
			delete(rm.fields, field)
		} else {
			x := r.Int64N(4)
			f = f.Set(field, num(x))
			rm.fields[field] = x
		}
		root = root.Set("f", f)
	case 3: // own key in a shared group, created here if absent
		g := get("g").(value.Map)
		group := fmt.Sprintf("g%d", r.IntN(3))
		gv, found, gerr := g.Get(ctx, st, str(group))
		if gerr != nil {
			t.Fatal(gerr)
		}
		inner := mustMap(t, st)
		if found {
			inner = gv.(value.Map)
		}
		w.groups[group] = true
		if rm.groups[group] == nil {
			rm.groups[group] = map[string]int64{}
		}
		key := fmt.Sprintf("r%d/k%d", i, r.IntN(3))
		if r.IntN(4) == 0 {
			inner, err = inner.Delete(ctx, st, str(key))
			delete(rm.groups[group], key)
		} else {
			x := r.Int64N(4)
			inner, err = inner.Set(ctx, st, str(key), num(x))
			rm.groups[group][key] = x
		}
		if err == nil {
			g, err = g.Set(ctx, st, str(group), inner)
		}
		root = root.Set("g", g)
	case 4: // shared, conflicting keys
		c := get("c").(value.Map)
		k := r.Int64N(3)
		if r.IntN(4) == 0 {
			c, err = c.Delete(ctx, st, num(k))
		} else {
			x := r.Int64N(100)
			c, err = c.Set(ctx, st, num(k), num(x))
			if w.written[k] == nil {
				w.written[k] = map[int64]bool{}
			}
			w.written[k][x] = true
		}
		root = root.Set("c", c)
	}
	if err != nil {
		t.Fatal(err)
	}
	res, err := CommitWithMerge(ctx, d, ds, root, CommitOptions{Base: head.Hash}, Fail)
	if err != nil || res.Outcome == Merged {
		t.Fatalf("local commit: %v %v", res.Outcome, err)
	}
}

// predict builds the value every replica must end with.
func (w *worldModel) predict(t *testing.T, st value.Store, conflicts bool) value.Struct {
	var mEntries []value.Value
	var members []value.Value
	fields := map[string]value.Value{}
	groups := map[string]map[string]int64{}
	for g := range w.groups {
		groups[g] = map[string]int64{}
	}
	for _, rm := range w.replicas {
		for k, v := range rm.m {
			mEntries = append(mEntries, str(k), num(v))
		}
		for e := range rm.own {
			members = append(members, str(e))
		}
		for f, v := range rm.fields {
			fields[f] = num(v)
		}
		for g, keys := range rm.groups {
			maps.Copy(groups[g], keys)
		}
	}
	for x := range w.shared {
		members = append(members, num(x))
	}
	var gEntries []value.Value
	for _, g := range slices.Sorted(maps.Keys(groups)) {
		var inner []value.Value
		for k, v := range groups[g] {
			inner = append(inner, str(k), num(v))
		}
		gEntries = append(gEntries, str(g), mustMap(t, st, inner...))
	}
	f, err := value.NewStruct("Fields", fields)
	if err != nil {
		t.Fatal(err)
	}
	root, err := value.NewStruct("Root", map[string]value.Value{
		"m": mustMap(t, st, mEntries...),
		"s": mustSet(t, st, members...),
		"f": f,
		"g": mustMap(t, st, gEntries...),
	})
	if err != nil {
		t.Fatal(err)
	}
	return root
}
