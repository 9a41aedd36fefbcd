package merge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/value"
)

func commit(t testing.TB, d *db.Database, v value.Value, parents ...chunks.Hash) db.Commit {
	t.Helper()
	c, err := d.WriteCommit(context.Background(), v, parents, value.Struct{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustCommits(t testing.TB, d *db.Database, a, b chunks.Hash, p Policy) Result {
	t.Helper()
	r, err := Commits(context.Background(), d, a, b, p)
	if err != nil {
		t.Fatalf("Commits: %v", err)
	}
	return r
}

func TestCommitsOutcomes(t *testing.T) {
	cs := newCounting()
	d := db.New(cs)
	st := d.Store()
	base := commit(t, d, mustMap(t, st, str("a"), num(1)))
	left := commit(t, d, mustMap(t, st, str("a"), num(1), str("l"), num(1)), base.Hash)
	left2 := commit(t, d, mustMap(t, st, str("a"), num(1), str("l"), num(2)), left.Hash)
	right := commit(t, d, mustMap(t, st, str("a"), num(2)), base.Hash)

	for _, tc := range []struct {
		name     string
		a, b     chunks.Hash
		want     Outcome
		wantHead chunks.Hash
	}{
		{"same", left.Hash, left.Hash, UpToDate, left.Hash},
		{"theirs is an ancestor", left2.Hash, base.Hash, UpToDate, left2.Hash},
		{"ours is an ancestor", base.Hash, left2.Hash, FastForward, left2.Hash},
	} {
		cs.puts.Store(0)
		r := mustCommits(t, d, tc.a, tc.b, Fail)
		if r.Outcome != tc.want || r.Commit.Hash != tc.wantHead || cs.puts.Load() != 0 {
			t.Fatalf("%s: %v %s (%d chunks written); want %v %s, nothing written", tc.name, r.Outcome, r.Commit.Hash, cs.puts.Load(), tc.want, tc.wantHead)
		}
	}

	r := mustCommits(t, d, left2.Hash, right.Hash, Fail)
	if r.Outcome != Merged || !slices.Equal(r.Bases, []chunks.Hash{base.Hash}) {
		t.Fatalf("got %v, bases %v", r.Outcome, r.Bases)
	}
	wantParents := []chunks.Hash{left2.Hash, right.Hash}
	slices.SortFunc(wantParents, chunks.Hash.Compare)
	if !slices.Equal(r.Commit.Parents, wantParents) || r.Commit.Meta.Len() != 0 || r.Commit.Height != 4 {
		t.Fatalf("merge commit %+v", r.Commit)
	}
	if want := mustMap(t, st, str("a"), num(2), str("l"), num(2)); !value.Equal(r.Commit.Value, want) {
		t.Fatalf("merged value %v", mapOf(t, st, r.Commit.Value.(value.Map)))
	}
	// Swapped sides, same commit: byte-identical, so no merge of merges.
	if back := mustCommits(t, d, right.Hash, left2.Hash, Fail); back.Commit.Hash != r.Commit.Hash {
		t.Fatal("merge(b, a) wrote a different commit")
	}
	// Merging the merge with either parent is a no-op or a fast-forward.
	if x := mustCommits(t, d, r.Commit.Hash, right.Hash, Fail); x.Outcome != UpToDate {
		t.Fatalf("merge of the merge and a parent: %v", x.Outcome)
	}
	if x := mustCommits(t, d, right.Hash, r.Commit.Hash, Fail); x.Outcome != FastForward || x.Commit.Hash != r.Commit.Hash {
		t.Fatalf("merge of a parent and the merge: %v", x.Outcome)
	}

	// Conflicts fail the merge and write no commit.
	c1 := commit(t, d, mustMap(t, st, str("a"), num(5)), base.Hash)
	c2 := commit(t, d, mustMap(t, st, str("a"), num(6)), base.Hash)
	_, err := Commits(context.Background(), d, c1.Hash, c2.Hash, Fail)
	if !errors.Is(err, ErrConflict) || !slices.Equal(paths(conflictsOf(err)), []string{`["a"]`}) {
		t.Fatalf("err = %v", err)
	}
	// A policy that deletes the root cannot make a commit.
	_, err = Commits(context.Background(), d, c1.Hash, c2.Hash, PolicyFunc(func(context.Context, value.Store, Conflict) (value.Value, error) { return nil, nil }))
	if err != nil {
		t.Fatalf("deleting an entry: %v", err)
	}
	p1 := commit(t, d, num(1), base.Hash)
	p2 := commit(t, d, num(2), base.Hash)
	_, err = Commits(context.Background(), d, p1.Hash, p2.Hash, PolicyFunc(func(context.Context, value.Store, Conflict) (value.Value, error) { return nil, nil }))
	if !errors.Is(err, ErrAbsentRoot) {
		t.Fatalf("err = %v", err)
	}
	// Missing commits are errors.
	if _, err := Commits(context.Background(), d, left.Hash, chunks.Of([]byte("nope")), Fail); !errors.Is(err, chunks.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

// Two peers with their own stores, the same history, merging the same two
// heads (each its own way round) write the same commit, byte for byte.
func TestMergeCommitsAreDeterministicAcrossPeers(t *testing.T) {
	var results []chunks.Hash
	var data [][]byte
	for peer := range 2 {
		cs := chunks.NewMemoryStore()
		d := db.New(cs)
		base := commit(t, d, mustStruct(t, "Root", str("n"), num(1), str("m"), mustMap(t, cs, str("x"), num(1))))
		a := commit(t, d, mustStruct(t, "Root", str("n"), num(2), str("m"), mustMap(t, cs, str("x"), num(1), str("a"), num(1))), base.Hash)
		b := commit(t, d, mustStruct(t, "Root", str("n"), num(3), str("m"), mustMap(t, cs, str("x"), num(2))), base.Hash)
		ours, theirs := a.Hash, b.Hash
		if peer == 1 {
			ours, theirs = theirs, ours
		}
		r := mustCommits(t, d, ours, theirs, Deterministic)
		c, err := cs.Get(context.Background(), r.Commit.Hash)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r.Commit.Hash)
		data = append(data, c.Data())
	}
	if results[0] != results[1] || string(data[0]) != string(data[1]) {
		t.Fatalf("peers wrote %s and %s", results[0], results[1])
	}
}

// Criss-cross: two merge bases, neither an ancestor of the other. With
// just one of them as the ancestor (Noms' choice: the tallest), a value
// that one base already had changed looks like a concurrent change and
// conflicts; the virtual ancestor merged from both bases does not.
//
//	r1(k=1) - r2(k=2) --------- r3(k=3) - A = merge(r3, s1)
//	    \          \                     /
//	     s1 (x=1) --+--- T = merge(s1, r2)    merge(A, T): bases {r2, s1}
func TestCrissCrossUsesVirtualAncestor(t *testing.T) {
	ctx := ctxT(t)
	cs := chunks.NewMemoryStore()
	d := db.New(cs)
	val := func(k, x int64) value.Value {
		if x == 0 {
			return mustMap(t, cs, str("k"), num(k))
		}
		return mustMap(t, cs, str("k"), num(k), str("x"), num(x))
	}
	r1 := commit(t, d, val(1, 0))
	s1 := commit(t, d, val(1, 1), r1.Hash)
	r2 := commit(t, d, val(2, 0), r1.Hash)
	// Make s1 taller than r2, so a "tallest ancestor" rule would pick it.
	s1b := commit(t, d, val(1, 1), s1.Hash)
	r3 := commit(t, d, val(3, 0), r2.Hash)
	a := mustCommits(t, d, r3.Hash, s1b.Hash, Fail)
	tt := mustCommits(t, d, s1b.Hash, r2.Hash, Fail)
	if a.Outcome != Merged || tt.Outcome != Merged {
		t.Fatalf("setup: %v %v", a.Outcome, tt.Outcome)
	}
	g := &graph{d: d, commits: map[chunks.Hash]db.Commit{}}
	bases, err := g.mergeBases(ctx, []chunks.Hash{a.Commit.Hash}, []chunks.Hash{tt.Commit.Hash})
	if err != nil {
		t.Fatal(err)
	}
	want := []chunks.Hash{r2.Hash, s1b.Hash}
	slices.SortFunc(want, chunks.Hash.Compare)
	if !slices.Equal(bases, want) {
		t.Fatalf("bases %v, want r2 and s1b %v", bases, want)
	}
	one, _, _ := d.CommonAncestor(ctx, a.Commit.Hash, tt.Commit.Hash)
	if one != s1b.Hash {
		t.Fatalf("db.CommonAncestor picked %s, not the taller s1b: the test no longer shows the problem", one)
	}
	m := mustCommits(t, d, a.Commit.Hash, tt.Commit.Hash, Fail) // Fail: any conflict fails the test
	if !value.Equal(m.Commit.Value, val(3, 1)) {
		t.Fatalf("merged %v", mapOf(t, cs, m.Commit.Value.(value.Map)))
	}
	if back := mustCommits(t, d, tt.Commit.Hash, a.Commit.Hash, Fail); back.Commit.Hash != m.Commit.Hash {
		t.Fatal("criss-cross merge depends on the side")
	}
	// Had the single tallest base been used, this would have conflicted.
	one1, _ := d.ReadCommit(ctx, one)
	if _, err := Values(ctx, cs, one1.Value, a.Commit.Value, tt.Commit.Value, Fail); !errors.Is(err, ErrConflict) {
		t.Fatalf("single-base merge: %v", err)
	}
}

func TestMergeBases(t *testing.T) {
	ctx := ctxT(t)
	cs := &countingStore{ChunkStore: chunks.NewMemoryStore()}
	d := db.New(cs)
	var prev db.Commit
	for j := range 200 { // a long history under the fork
		if j == 0 {
			prev = commit(t, d, num(0))
		} else {
			prev = commit(t, d, num(int64(j)), prev.Hash)
		}
	}
	fork := prev
	a1 := commit(t, d, str("a1"), fork.Hash)
	a2 := commit(t, d, str("a2"), a1.Hash)
	b1 := commit(t, d, str("b1"), fork.Hash)
	g := &graph{d: d, commits: map[chunks.Hash]db.Commit{}}
	cs.gets.Store(0)
	bases, err := g.mergeBases(ctx, []chunks.Hash{a2.Hash}, []chunks.Hash{b1.Hash})
	if err != nil || !slices.Equal(bases, []chunks.Hash{fork.Hash}) {
		t.Fatalf("bases %v, %v", bases, err)
	}
	if n := cs.gets.Load(); n > 8 {
		t.Fatalf("merge-base walk read %d commits over a 200-commit history", n)
	}
	// Unrelated histories have no base.
	other := commit(t, d, str("other"))
	g = &graph{d: d, commits: map[chunks.Hash]db.Commit{}}
	if bases, err := g.mergeBases(ctx, []chunks.Hash{other.Hash}, []chunks.Hash{b1.Hash}); err != nil || len(bases) != 0 {
		t.Fatalf("bases %v, %v", bases, err)
	}
}

func TestUnrelatedHistoriesMerge(t *testing.T) {
	cs := chunks.NewMemoryStore()
	d := db.New(cs)
	a := commit(t, d, mustStruct(t, "Root", str("m"), mustMap(t, cs, str("a"), num(1))))
	b := commit(t, d, mustStruct(t, "Root", str("m"), mustMap(t, cs, str("b"), num(2))))
	r := mustCommits(t, d, a.Hash, b.Hash, Fail)
	want := mustStruct(t, "Root", str("m"), mustMap(t, cs, str("a"), num(1), str("b"), num(2)))
	if r.Outcome != Merged || len(r.Bases) != 0 || !value.Equal(r.Commit.Value, want) {
		t.Fatalf("got %v %s", r.Outcome, Describe(r.Commit.Value))
	}
}

func TestInto(t *testing.T) {
	ctx := ctxT(t)
	cs := chunks.NewMemoryStore()
	d := db.New(cs)
	base := commit(t, d, mustMap(t, cs, str("a"), num(1)))
	// No head yet: the dataset is created at theirs.
	r, err := Into(ctx, d, "ds", base.Hash, Fail)
	if err != nil || r.Outcome != FastForward {
		t.Fatalf("%v %v", r.Outcome, err)
	}
	mine, err := d.Commit(ctx, "ds", mustMap(t, cs, str("a"), num(1), str("mine"), num(1)), db.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other := commit(t, d, mustMap(t, cs, str("a"), num(1), str("other"), num(1)), base.Hash)
	r, err = Into(ctx, d, "ds", other.Hash, Fail)
	if err != nil || r.Outcome != Merged {
		t.Fatalf("%v %v", r.Outcome, err)
	}
	head, _ := d.Head(ctx, "ds")
	if head.Hash != r.Commit.Hash || !slices.Contains(head.Parents, mine.Hash) || !slices.Contains(head.Parents, other.Hash) {
		t.Fatalf("head %+v", head)
	}
	// Announcing something the head contains changes nothing.
	if r, err = Into(ctx, d, "ds", other.Hash, Fail); err != nil || r.Outcome != UpToDate || r.Commit.Hash != head.Hash {
		t.Fatalf("%v %v", r.Outcome, err)
	}
	// A conflict leaves the head alone.
	bad := commit(t, d, mustMap(t, cs, str("a"), num(9), str("mine"), num(7)), mine.Hash)
	bad2 := commit(t, d, mustMap(t, cs, str("a"), num(8), str("mine"), num(1), str("other"), num(1)), head.Hash)
	if err := d.FastForward(ctx, "ds", bad2.Hash); err != nil {
		t.Fatal(err)
	}
	if _, err = Into(ctx, d, "ds", bad.Hash, Fail); !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v", err)
	}
	if h, _ := d.Head(ctx, "ds"); h.Hash != bad2.Hash {
		t.Fatal("a failed merge moved the head")
	}
	if _, err := Into(ctx, d, "bad name!", base.Hash, Fail); !errors.Is(err, db.ErrInvalidName) {
		t.Fatalf("err = %v", err)
	}
}

// Writers that each add their own keys from whatever head they read, all
// at once, through one store: every key survives, whoever lost the race.
func TestCommitWithMergeConcurrentWriters(t *testing.T) {
	ctx := ctxT(t)
	storage := chunks.NewMemoryStorage()
	setup := db.New(storage.NewStore())
	if _, err := setup.Commit(ctx, "ds", mustMap(t, setup.Store(), str("init"), num(0)), db.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	var merges [writers]int
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := db.New(storage.NewStore()) // its own store, as another process would have
			for j := range each {
				head, err := d.Head(ctx, "ds")
				if err != nil {
					errs <- err
					return
				}
				m, err := head.Value.(value.Map).Set(ctx, d.Store(), str(fmt.Sprintf("w%d-%d", w, j)), num(int64(j)))
				if err != nil {
					errs <- err
					return
				}
				r, err := CommitWithMerge(ctx, d, "ds", m, CommitOptions{Base: head.Hash, Attempts: 1000}, Fail)
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
				if r.Outcome == Merged {
					merges[w]++
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	head, err := setup.Head(ctx, "ds")
	if err != nil {
		t.Fatal(err)
	}
	got := head.Value.(value.Map)
	if got.Len() != writers*each+1 {
		t.Fatalf("head has %d keys, want %d", got.Len(), writers*each+1)
	}
	t.Logf("merges per writer: %v", merges)
}

func TestCommitWithMergeOutcomes(t *testing.T) {
	ctx := ctxT(t)
	cs := chunks.NewMemoryStore()
	d := db.New(cs)
	// New dataset, no base: a plain commit.
	r, err := CommitWithMerge(ctx, d, "ds", mustMap(t, cs, str("a"), num(1)), CommitOptions{}, Fail)
	if err != nil || r.Outcome != FastForward {
		t.Fatalf("%v %v", r.Outcome, err)
	}
	base := r.Commit
	// Base is the head: a plain commit with the given meta.
	meta := mustStruct(t, "", str("message"), str("mine"))
	r, err = CommitWithMerge(ctx, d, "ds", mustMap(t, cs, str("a"), num(2)), CommitOptions{Base: base.Hash, Meta: meta}, Fail)
	if err != nil || r.Outcome != FastForward || !slices.Equal(r.Commit.Parents, []chunks.Hash{base.Hash}) || !value.Equal(r.Commit.Meta, meta) {
		t.Fatalf("%v %+v %v", r.Outcome, r.Commit, err)
	}
	// Stale base, conflicting change: ours (the new value) vs theirs (the head).
	_, err = CommitWithMerge(ctx, d, "ds", mustMap(t, cs, str("a"), num(3)), CommitOptions{Base: base.Hash}, Fail)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v", err)
	}
	r, err = CommitWithMerge(ctx, d, "ds", mustMap(t, cs, str("a"), num(3)), CommitOptions{Base: base.Hash}, Ours)
	if err != nil || r.Outcome != Merged {
		t.Fatalf("%v %v", r.Outcome, err)
	}
	if v, _, _ := r.Commit.Value.(value.Map).Get(ctx, cs, str("a")); !value.Equal(v, num(3)) {
		t.Fatalf("Ours gave a = %v, want the committed value 3", v)
	}
	// No base while the dataset has a head (a writer that read the dataset
	// as new, and another created it meanwhile): merged as histories that
	// never met, so that neither side is dropped.
	head := r.Commit
	r, err = CommitWithMerge(ctx, d, "ds", mustMap(t, cs, str("b"), num(7)), CommitOptions{}, Fail)
	if err != nil || r.Outcome != Merged || !slices.Contains(r.Commit.Parents, head.Hash) {
		t.Fatalf("%v %+v %v", r.Outcome, r.Commit, err)
	}
	m := r.Commit.Value.(value.Map)
	a, _, _ := m.Get(ctx, cs, str("a"))
	b, _, _ := m.Get(ctx, cs, str("b"))
	if m.Len() != 2 || !value.Equal(a, num(3)) || !value.Equal(b, num(7)) {
		t.Fatalf("merge of an unrelated first value gave %d keys, a=%v b=%v; want a=3 b=7", m.Len(), a, b)
	}
	// ... and a value that cannot merge with the head is a conflict, not a
	// silent replacement.
	if _, err = CommitWithMerge(ctx, d, "ds", num(42), CommitOptions{}, Fail); !errors.Is(err, ErrConflict) {
		t.Fatalf("unrelated scalar over a map head: %v, want ErrConflict", err)
	}
}

// racingStore moves the dataset's head through another store on the same
// storage just before each root swap of this one, so every attempt loses.
type racingStore struct {
	chunks.ChunkStore
	rival *db.Database
	n     int
}

func (s *racingStore) Commit(ctx context.Context, current, last chunks.Hash) error {
	s.n++
	if _, err := s.rival.Commit(ctx, "ds", num(int64(1000+s.n)), db.CommitOptions{}); err != nil {
		return err
	}
	return s.ChunkStore.Commit(ctx, current, last)
}

func TestCommitWithMergeGivesUpAfterAttempts(t *testing.T) {
	ctx := ctxT(t)
	storage := chunks.NewMemoryStorage()
	rival := db.New(storage.NewStore())
	base, err := rival.Commit(ctx, "ds", num(0), db.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs := &racingStore{ChunkStore: storage.NewStore(), rival: rival}
	d := db.New(rs)
	_, err = CommitWithMerge(ctx, d, "ds", num(1), CommitOptions{Base: base.Hash, Attempts: 3}, Deterministic)
	if !errors.Is(err, ErrTooManyRetries) || !errors.Is(err, db.ErrOptimisticLock) {
		t.Fatalf("err = %v", err)
	}
	if rs.n != 3 {
		t.Fatalf("%d attempts, want 3", rs.n)
	}
	_, err = CommitWithMerge(ctx, d, "ds", num(1), CommitOptions{Attempts: 2}, Deterministic)
	if !errors.Is(err, ErrTooManyRetries) {
		t.Fatalf("err = %v", err)
	}
}

// When the merge bases themselves conflict, the virtual ancestor keeps
// their own ancestor's value there, so how each side resolved that
// conflict is compared fairly: the same resolution on both sides merges,
// different ones are a conflict for the caller's policy.
func TestConflictingBasesLeaveTheConflictToThePolicy(t *testing.T) {
	ctx := ctxT(t)
	cs := chunks.NewMemoryStore()
	d := db.New(cs)
	v := func(k int64, extra ...value.Value) value.Value {
		return mustMap(t, cs, append([]value.Value{str("k"), num(k)}, extra...)...)
	}
	root := commit(t, d, v(1))
	b1 := commit(t, d, v(2), root.Hash)
	b2 := commit(t, d, v(3), root.Hash)
	// Two merges of b1 and b2, each resolving k its own way (and each
	// adding something, so they differ).
	a := commit(t, d, v(2, str("a"), num(1)), b1.Hash, b2.Hash)
	b := commit(t, d, v(3, str("b"), num(1)), b1.Hash, b2.Hash)
	same := commit(t, d, v(3, str("c"), num(1)), b1.Hash, b2.Hash)

	_, err := Commits(ctx, d, a.Hash, b.Hash, Fail)
	if c := conflictsOf(err); len(c) != 1 || c[0].Path != `["k"]` || !value.Equal(c[0].Ancestor, num(1)) {
		t.Fatalf("conflicts %+v (%v)", c, err)
	}
	r := mustCommits(t, d, b.Hash, same.Hash, Fail)
	if want := v(3, str("b"), num(1), str("c"), num(1)); !value.Equal(r.Commit.Value, want) || len(r.Bases) != 2 {
		t.Fatalf("merged %v, bases %d", mapOf(t, cs, r.Commit.Value.(value.Map)), len(r.Bases))
	}
}
