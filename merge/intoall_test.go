package merge

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// Datasets of one database stand for the copies of one dataset that
// several peers hold: chunks are shared, heads are not.

func setKey(t testing.TB, d *db.Database, parent db.Commit, k string, v int64) db.Commit {
	t.Helper()
	m, err := parent.Value.(value.Map).Set(ctxT(t), d.Store(), str(k), num(v))
	if err != nil {
		t.Fatal(err)
	}
	return commit(t, d, m, parent.Hash)
}

func setHead(t testing.TB, d *db.Database, ds string, c db.Commit) {
	t.Helper()
	if err := d.SetHead(ctxT(t), ds, c.Hash); err != nil {
		t.Fatal(err)
	}
}

func intoAll(t testing.TB, d *db.Database, ds string, theirs ...chunks.Hash) Result {
	t.Helper()
	r, err := IntoAll(ctxT(t), d, ds, theirs, Deterministic)
	if err != nil {
		t.Fatalf("IntoAll(%s, %v): %v", ds, theirs, err)
	}
	return r
}

func keysOf(t testing.TB, d *db.Database, c db.Commit) []string {
	t.Helper()
	var ks []string
	for e, err := range c.Value.(value.Map).All(ctxT(t), d.Store(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, string(e.Key.(value.String)))
	}
	return ks
}

func TestIntoAllOneRound(t *testing.T) {
	cs := chunks.NewMemoryStore()
	d := db.New(cs)
	base := commit(t, d, mustMap(t, cs, str("k"), num(0)))
	xa, xb, xc := setKey(t, d, base, "a", 1), setKey(t, d, base, "b", 1), setKey(t, d, base, "c", 1)
	for ds, c := range map[string]db.Commit{"A": xa, "B": xb, "C": xc} {
		setHead(t, d, ds, c)
	}
	// Each peer merges the other two: one commit, the same on all three.
	fa := intoAll(t, d, "A", xb.Hash, xc.Hash)
	fb := intoAll(t, d, "B", xa.Hash, xc.Hash)
	fc := intoAll(t, d, "C", xb.Hash, xa.Hash)
	if fa.Commit.Hash != fb.Commit.Hash || fb.Commit.Hash != fc.Commit.Hash {
		t.Fatalf("peers wrote different merges: %s %s %s", fa.Commit.Hash, fb.Commit.Hash, fc.Commit.Hash)
	}
	want := []chunks.Hash{xa.Hash, xb.Hash, xc.Hash}
	slices.SortFunc(want, chunks.Hash.Compare)
	if fa.Outcome != Merged || !IsAutoMerge(fa.Commit) || !slices.Equal(fa.Commit.Parents, want) {
		t.Fatalf("merge %+v: want an automatic merge with parents %v", fa, want)
	}
	if ks := keysOf(t, d, fa.Commit); !slices.Equal(ks, []string{"a", "b", "c", "k"}) {
		t.Fatalf("merged keys %v", ks)
	}
	// Hearing each other's result changes nothing.
	if r := intoAll(t, d, "A", fb.Commit.Hash, fc.Commit.Hash); r.Outcome != UpToDate {
		t.Fatalf("A after hearing the same merge: %v", r.Outcome)
	}
}

// Merges made with partial knowledge are looked through: two peers that
// merged different pairs end on the one merge of all three changes, and
// a change made on top of it is a fast-forward.
func TestIntoAllWidensPartialMerges(t *testing.T) {
	cs := newCounting()
	d := db.New(cs)
	base := commit(t, d, mustMap(t, cs, str("k"), num(0)))
	xa, xb, xc := setKey(t, d, base, "a", 1), setKey(t, d, base, "b", 1), setKey(t, d, base, "c", 1)
	setHead(t, d, "A", xa)
	setHead(t, d, "B", xb)
	setHead(t, d, "C", xc)
	fab := intoAll(t, d, "A", xb.Hash)
	fbc := intoAll(t, d, "C", xb.Hash)
	fa := intoAll(t, d, "A", fbc.Commit.Hash)
	fc := intoAll(t, d, "C", fab.Commit.Hash)
	if fa.Commit.Hash != fc.Commit.Hash || len(fa.Commit.Parents) != 3 {
		t.Fatalf("A %s (%d parents) and C %s after crossing partial merges", fa.Commit.Hash, len(fa.Commit.Parents), fc.Commit.Hash)
	}
	if ok, _ := d.IsAncestor(ctxT(t), fab.Commit.Hash, fa.Commit.Hash); ok {
		t.Fatal("the wider merge descends from the partial one: it was merged, not replaced")
	}
	if r := intoAll(t, d, "B", fa.Commit.Hash); r.Outcome != FastForward || r.Commit.Hash != fa.Commit.Hash {
		t.Fatalf("B adopting the merge: %v %s", r.Outcome, r.Commit.Hash)
	}
	// A peer that catches up adopts the merge as it is, merging nothing.
	// (fbc is no ancestor of fa: fa replaced it.)
	puts := cs.puts.Load()
	if r := intoAll(t, d, "New", fa.Commit.Hash, fbc.Commit.Hash); r.Outcome != FastForward || r.Commit.Hash != fa.Commit.Hash {
		t.Fatalf("a new peer adopting the merge: %v %s", r.Outcome, r.Commit.Hash)
	}
	// Moving the new dataset's head writes the database root: two chunks
	// (datasets map and root document), nothing of a merge.
	if n := cs.puts.Load() - puts; n > 2 {
		t.Errorf("adopting an existing merge wrote %d chunks: it merged again", n)
	}
	ya := setKey(t, d, fa.Commit, "a", 2)
	setHead(t, d, "A", ya)
	if r := intoAll(t, d, "C", ya.Hash); r.Outcome != FastForward || r.Commit.Hash != ya.Hash {
		t.Fatalf("C after A's change on the merge: %v", r.Outcome)
	}
}

// A merge made another way (Commits, by hand, with any policy) is a change
// of its own: IntoAll keeps it whole.
func TestIntoAllKeepsOtherMerges(t *testing.T) {
	cs := chunks.NewMemoryStore()
	d := db.New(cs)
	base := commit(t, d, mustMap(t, cs, str("k"), num(0)))
	xa, xb, xc := setKey(t, d, base, "k", 1), setKey(t, d, base, "k", 2), setKey(t, d, base, "c", 1)
	manual := mustCommits(t, d, xa.Hash, xb.Hash, Ours) // k = 1: a choice someone made
	setHead(t, d, "C", xc)
	r := intoAll(t, d, "C", manual.Commit.Hash)
	if !slices.Contains(r.Commit.Parents, manual.Commit.Hash) {
		t.Fatalf("parents %v do not keep the manual merge %s", r.Commit.Parents, manual.Commit.Hash)
	}
	if v, _, _ := r.Commit.Value.(value.Map).Get(ctxT(t), cs, str("k")); !value.Equal(v, num(1)) {
		t.Fatalf("k = %v: the manual resolution was redone", v)
	}
	if _, err := IntoAll(ctxT(t), d, "C", []chunks.Hash{xa.Hash}, Ours); !errors.Is(err, ErrAsymmetricPolicy) {
		t.Fatalf("IntoAll with Ours: %v, want ErrAsymmetricPolicy", err)
	}
}

// Replicas that write concurrently and then each merge the others' heads
// once, in any order, end identical after a single round; the value holds
// every replica's latest writes.
func TestIntoAllModel(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			cs := chunks.NewMemoryStore()
			d := db.New(cs)
			base := commit(t, d, mustMap(t, cs))
			n := 3 + rng.IntN(3)
			names := make([]string, n)
			model := map[string]int64{}
			for i := range n {
				names[i] = fmt.Sprintf("R%d", i)
				setHead(t, d, names[i], base)
			}
			head := func(ds string) db.Commit {
				c, err := d.Head(ctxT(t), ds)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			others := func(i int) []chunks.Hash {
				var hs []chunks.Hash
				for j, ds := range names {
					if j != i {
						hs = append(hs, head(ds).Hash)
					}
				}
				return hs
			}
			for step := range 40 {
				i := rng.IntN(n)
				if rng.IntN(3) == 0 {
					intoAll(t, d, names[i], others(i)...)
					continue
				}
				k := fmt.Sprintf("%s-%d", names[i], rng.IntN(4)) // keys are per replica: no conflicts
				c := setKey(t, d, head(names[i]), k, int64(step))
				setHead(t, d, names[i], c)
				model[k] = int64(step)
			}
			for _, i := range rng.Perm(n) {
				intoAll(t, d, names[i], others(i)...)
			}
			final := head(names[0])
			for _, ds := range names[1:] {
				if h := head(ds); h.Hash != final.Hash {
					t.Fatalf("after one round %s is at %s, %s at %s", names[0], final.Hash, ds, h.Hash)
				}
			}
			got := map[string]int64{}
			for e, err := range final.Value.(value.Map).All(ctxT(t), cs, nil) {
				if err != nil {
					t.Fatal(err)
				}
				got[string(e.Key.(value.String))] = int64(e.Value.(value.Int))
			}
			if fmt.Sprint(got) != fmt.Sprint(model) {
				t.Fatalf("value %v, model %v", got, model)
			}
		})
	}
}
