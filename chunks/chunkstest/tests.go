package chunkstest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"golang.org/x/sync/errgroup"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

func (s *suite) TestPutGetRoundTrip(t *testing.T) {
	st := s.h.NewStorage(t)
	a := open(t, st)
	sizes := []int{0, 1, 23, 24, 255, 4096, 64 << 10, chunks.MaxChunkSize - 8}
	var cs []chunks.Chunk
	for _, n := range sizes {
		cs = append(cs, Chunk(t, n))
	}
	mustPut(t, a, cs...)
	for _, c := range cs {
		assertGet(t, a, c) // visible to the writer before Commit
	}
	b := open(t, st)
	assertMissing(t, b, cs[1].Hash()) // not durable, so not visible elsewhere

	mustCommit(t, a, mustRoot(t, a), mustRoot(t, a))
	c := open(t, st)
	for _, ch := range cs {
		assertGet(t, c, ch)
		if ok, err := c.Has(Ctx(t), ch.Hash()); err != nil || !ok {
			t.Fatalf("Has(%s) after commit = %v, %v", ch.Hash(), ok, err)
		}
	}
}

func (s *suite) TestPutIsIdempotent(t *testing.T) {
	st := s.h.NewStorage(t)
	a := open(t, st)
	c := Chunk(t, 100)
	mustPut(t, a, c, c, c)
	mustCommit(t, a, c.Hash(), chunks.Hash{})
	mustPut(t, a, c)
	mustCommit(t, a, c.Hash(), c.Hash())
	assertGet(t, open(t, st), c)
}

func (s *suite) TestGetMissing(t *testing.T) {
	a := open(t, s.h.NewStorage(t))
	assertMissing(t, a, Chunk(t, 10).Hash())
	assertMissing(t, a, chunks.Hash{})
}

func (s *suite) TestPutRefusesBadChunks(t *testing.T) {
	a := open(t, s.h.NewStorage(t))
	good := Chunk(t, 10)
	lying := chunks.NewChunkWithHash(Chunk(t, 10).Hash(), good.Data())
	if err := a.Put(Ctx(t), lying); !errors.Is(err, chunks.ErrHashMismatch) {
		t.Fatalf("Put of a chunk whose data does not match its hash: err = %v, want ErrHashMismatch", err)
	}
	assertMissing(t, a, lying.Hash())
	big := Chunk(t, chunks.MaxChunkSize)
	if err := a.Put(Ctx(t), big); !errors.Is(err, chunks.ErrInvalidChunk) {
		t.Fatalf("Put of a %d-byte chunk: err = %v, want ErrInvalidChunk", big.Size(), err)
	}
	assertMissing(t, a, big.Hash())
}

// Every store holds DAG-CBOR only, so that IPFS can follow the links.
func (s *suite) TestPutRefusesNonDAGCBOR(t *testing.T) {
	a := open(t, s.h.NewStorage(t))
	for name, data := range map[string][]byte{
		"empty":                  {},
		"break code":             {0xff},
		"unsorted map keys":      {0xa2, 0x61, 'b', 0x01, 0x61, 'a', 0x02},
		"trailing bytes":         {0x01, 0x02},
		"tag other than 42":      {0xc1, 0x01},
		"indefinite-length list": {0x9f, 0x01, 0xff},
	} {
		c := chunks.NewChunk(data)
		if err := a.Put(Ctx(t), c); !errors.Is(err, chunks.ErrInvalidChunk) {
			t.Errorf("Put of %s (%x): err = %v, want ErrInvalidChunk", name, data, err)
		}
		if ok, err := a.Has(Ctx(t), c.Hash()); err != nil || ok {
			t.Errorf("after refusing %s, Has = %v, %v", name, ok, err)
		}
	}
}

// A root that reaches, through chunks put and not yet committed, a link to
// a chunk nobody put is refused; the refusal touches nothing else: other
// roots commit, and the same root commits once the chunk is put.
func (s *suite) TestCommitRefusesDanglingLinks(t *testing.T) {
	st := s.h.NewStorage(t)
	a := open(t, st)
	leaf, missing := Chunk(t, 40), Chunk(t, 41)
	holey := LinkTo("holey", leaf.Hash(), missing.Hash())
	mustPut(t, a, leaf, holey)
	err := a.Commit(Ctx(t), holey.Hash(), chunks.Hash{})
	if !errors.Is(err, chunks.ErrNotFound) {
		t.Fatalf("Commit of a root linking to a chunk nobody put: err = %v, want ErrNotFound", err)
	}
	if r := mustRoot(t, open(t, st)); !r.IsEmpty() {
		t.Fatalf("a refused commit moved the root to %s", r)
	}

	// The store stays usable: a root that does not reach the hole commits.
	whole := LinkTo("whole", leaf.Hash())
	mustPut(t, a, whole)
	mustCommit(t, a, whole.Hash(), chunks.Hash{})

	// A hole two levels down is found too, through a chunk put later.
	deep := LinkTo("deep", missing.Hash())
	top := LinkTo("top", deep.Hash(), whole.Hash())
	mustPut(t, a, deep, top)
	if err := a.Commit(Ctx(t), top.Hash(), whole.Hash()); !errors.Is(err, chunks.ErrNotFound) {
		t.Fatalf("Commit of a root two links above a hole: err = %v, want ErrNotFound", err)
	}
	if r := mustRoot(t, a); r != whole.Hash() {
		t.Fatalf("after a refused commit root = %s, want %s", r, whole.Hash())
	}

	// So is a link to something that is not a chunk at all, which no store
	// here holds.
	foreign := cid.NewCidV1(cid.Raw, missing.Hash().CID().Hash())
	odd := LinkChunk("odd", foreign)
	mustPut(t, a, odd)
	if err := a.Commit(Ctx(t), odd.Hash(), whole.Hash()); !errors.Is(err, chunks.ErrNotFound) {
		t.Fatalf("Commit of a root linking to a raw CID nobody holds: err = %v, want ErrNotFound", err)
	}

	// Putting the missing chunk, by another store on the same storage,
	// makes both roots good.
	b := open(t, st)
	mustPut(t, b, missing)
	mustCommit(t, b, mustRoot(t, b), mustRoot(t, b))
	mustCommit(t, a, holey.Hash(), whole.Hash())
	mustCommit(t, a, top.Hash(), holey.Hash())
	c := open(t, st)
	for _, ch := range []chunks.Chunk{leaf, missing, holey, whole, deep, top} {
		assertGet(t, c, ch)
	}
}

// Links may point at chunks put later, as long as they are all put before
// the commit: the order of Puts is the caller's.
func (s *suite) TestCommitAcceptsTopDownPuts(t *testing.T) {
	st := s.h.NewStorage(t)
	a := open(t, st)
	leaf := Chunk(t, 50)
	mid := LinkTo("mid", leaf.Hash())
	top := LinkTo("top", mid.Hash())
	mustPut(t, a, top, mid, leaf)
	mustCommit(t, a, top.Hash(), chunks.Hash{})
	assertGet(t, open(t, st), leaf)
}

func (s *suite) TestGetManyDuplicatesAndMisses(t *testing.T) {
	st := s.h.NewStorage(t)
	a := open(t, st)
	var present []chunks.Chunk
	for i := 0; i < 50; i++ {
		present = append(present, Chunk(t, 200+i))
	}
	mustPut(t, a, present[:25]...)
	mustCommit(t, a, mustRoot(t, a), mustRoot(t, a))
	mustPut(t, a, present[25:]...) // pending ones count too
	var ask []chunks.Hash
	for i, c := range present {
		ask = append(ask, c.Hash())
		if i%3 == 0 {
			ask = append(ask, c.Hash(), Chunk(t, 5).Hash())
		}
	}
	got := map[chunks.Hash]int{}
	var mu sync.Mutex
	err := a.GetMany(Ctx(t), ask, func(c chunks.Chunk) error {
		mu.Lock()
		defer mu.Unlock()
		if err := c.Verify(); err != nil {
			return err
		}
		got[c.Hash()]++
		return nil
	})
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if len(got) != len(present) {
		t.Fatalf("GetMany found %d distinct chunks, want %d", len(got), len(present))
	}
	for _, c := range present {
		if got[c.Hash()] != 1 {
			t.Fatalf("GetMany delivered %s %d times, want once", c.Hash(), got[c.Hash()])
		}
	}

	stop := errors.New("stop")
	err = a.GetMany(Ctx(t), ask, func(chunks.Chunk) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("GetMany did not return the callback's error: %v", err)
	}
}

func (s *suite) TestHasManyDuplicatesAndMisses(t *testing.T) {
	st := s.h.NewStorage(t)
	a := open(t, st)
	var present, absent []chunks.Hash
	for i := 0; i < 40; i++ {
		c := Chunk(t, 50)
		mustPut(t, a, c)
		present = append(present, c.Hash())
		absent = append(absent, Chunk(t, 50).Hash())
		if i == 19 {
			mustCommit(t, a, mustRoot(t, a), mustRoot(t, a))
		}
	}
	ask := append(append(append([]chunks.Hash{}, present...), absent...), present[0], absent[0], absent[0])
	got, err := a.HasMany(Ctx(t), ask)
	if err != nil {
		t.Fatalf("HasMany: %v", err)
	}
	want := chunks.NewHashSet(absent...)
	if len(got) != len(want) {
		t.Fatalf("HasMany reported %d absent, want %d: %s", len(got), len(want), describe(got))
	}
	for h := range want {
		if !got.Has(h) {
			t.Fatalf("HasMany did not report %s absent", h)
		}
	}
	if empty, err := a.HasMany(Ctx(t), nil); err != nil || len(empty) != 0 {
		t.Fatalf("HasMany(nil) = %v, %v", empty, err)
	}
}

func (s *suite) TestRootCompareAndSwap(t *testing.T) {
	st := s.h.NewStorage(t)
	a := open(t, st)
	if r := mustRoot(t, a); !r.IsEmpty() {
		t.Fatalf("new store root = %s, want empty", r)
	}
	c1, c2 := Chunk(t, 10), Chunk(t, 11)
	mustPut(t, a, c1, c2)
	if err := a.Commit(Ctx(t), c1.Hash(), c2.Hash()); !errors.Is(err, chunks.ErrOptimisticLock) {
		t.Fatalf("Commit with a wrong last root: err = %v, want ErrOptimisticLock", err)
	}
	mustCommit(t, a, c1.Hash(), chunks.Hash{})
	if r := mustRoot(t, a); r != c1.Hash() {
		t.Fatalf("root after commit = %s, want %s", r, c1.Hash())
	}
	mustCommit(t, a, c2.Hash(), c1.Hash())
	b := open(t, st)
	if r := mustRoot(t, b); r != c2.Hash() {
		t.Fatalf("another store sees root %s, want %s", r, c2.Hash())
	}
	missing := Chunk(t, 12).Hash()
	if err := a.Commit(Ctx(t), missing, c2.Hash()); !errors.Is(err, chunks.ErrNotFound) {
		t.Fatalf("Commit to a root the store does not hold: err = %v, want ErrNotFound", err)
	}
	if r := mustRoot(t, open(t, st)); r != c2.Hash() {
		t.Fatalf("a refused commit moved the root to %s", r)
	}
	mustCommit(t, a, chunks.Hash{}, c2.Hash()) // back to empty is allowed
	if r := mustRoot(t, open(t, st)); !r.IsEmpty() {
		t.Fatalf("root = %s, want empty", r)
	}
}

func (s *suite) TestFailedCommitRebasesAndKeepsChunks(t *testing.T) {
	st := s.h.NewStorage(t)
	a, b := open(t, st), open(t, st)
	x, y := Chunk(t, 20), Chunk(t, 21)
	mustPut(t, a, x)
	mustPut(t, b, y)
	mustCommit(t, b, y.Hash(), chunks.Hash{})
	if r := mustRoot(t, a); !r.IsEmpty() {
		t.Fatalf("a's root moved without Rebase: %s", r)
	}
	err := a.Commit(Ctx(t), x.Hash(), chunks.Hash{})
	if !errors.Is(err, chunks.ErrOptimisticLock) {
		t.Fatalf("stale Commit: err = %v, want ErrOptimisticLock", err)
	}
	if r := mustRoot(t, a); r != y.Hash() {
		t.Fatalf("after a failed commit root = %s, want the winner's %s", r, y.Hash())
	}
	assertGet(t, open(t, st), x) // the loser's chunks were made durable anyway
	mustCommit(t, a, x.Hash(), y.Hash())
}

func (s *suite) TestRebase(t *testing.T) {
	st := s.h.NewStorage(t)
	a, b := open(t, st), open(t, st)
	c := Chunk(t, 30)
	mustPut(t, a, c)
	mustCommit(t, a, c.Hash(), chunks.Hash{})
	if r := mustRoot(t, b); !r.IsEmpty() {
		t.Fatalf("b's root moved before Rebase: %s", r)
	}
	if err := b.Rebase(Ctx(t)); err != nil {
		t.Fatal(err)
	}
	if r := mustRoot(t, b); r != c.Hash() {
		t.Fatalf("b's root after Rebase = %s, want %s", r, c.Hash())
	}
	assertGet(t, b, c)
}

// TestWatchRoot: a store that offers chunks.RootWatcher signals every
// commit that another store on the same storage makes, soon after it, and
// closes its channel once the watch's context ends.
func (s *suite) TestWatchRoot(t *testing.T) {
	st := s.h.NewStorage(t)
	watcher, writer := open(t, st), open(t, st)
	w, ok := watcher.(chunks.RootWatcher)
	if !ok {
		t.Skip("the store does not offer chunks.RootWatcher")
	}
	ctx, cancel := context.WithCancel(Ctx(t))
	defer cancel()
	moved, err := w.WatchRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := chunks.Hash{}
	for i := range 5 {
		c := Chunk(t, 100)
		mustPut(t, writer, c)
		mustCommit(t, writer, c.Hash(), last)
		last = c.Hash()
		select {
		case _, ok := <-moved:
			if !ok {
				t.Fatalf("the watch ended at commit %d", i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no signal within 10 s of another store's commit %d", i)
		}
		if err := watcher.Rebase(ctx); err != nil {
			t.Fatal(err)
		}
		if r := mustRoot(t, watcher); r != last {
			t.Fatalf("after the signal of commit %d the watcher's root is %s, want %s", i, r, last)
		}
		// A signal may come without a move (a store may rewrite its root
		// record for other reasons): take one that is already waiting.
		select {
		case <-moved:
		default:
		}
	}
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-moved:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the watch's channel is still open 10 s after its context ended")
		}
	}
}

func (s *suite) TestRootSurvivesReopen(t *testing.T) {
	st := s.h.NewStorage(t)
	a := open(t, st)
	var cs []chunks.Chunk
	for i := 0; i < 20; i++ {
		cs = append(cs, Chunk(t, 1000))
	}
	mustPut(t, a, cs...)
	mustCommit(t, a, cs[0].Hash(), chunks.Hash{})
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	b := open(t, st)
	if r := mustRoot(t, b); r != cs[0].Hash() {
		t.Fatalf("root after reopen = %s, want %s", r, cs[0].Hash())
	}
	for _, c := range cs {
		assertGet(t, b, c)
	}
}

// TestCASRace: many writers race to move the root from the same value;
// exactly one wins, the others see ErrOptimisticLock, on one shared store and
// on stores of their own.
func (s *suite) TestCASRace(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("sharedStore=%v", shared), func(t *testing.T) {
			st := s.h.NewStorage(t)
			base := open(t, st)
			const n = 16
			stores := make([]chunks.ChunkStore, n)
			for i := range stores {
				stores[i] = base
				if !shared {
					stores[i] = open(t, st)
				}
			}
			var wins, losses atomic.Int32
			var winner atomic.Value
			var g errgroup.Group
			for i := 0; i < n; i++ {
				g.Go(func() error {
					c := Chunk(t, 64)
					if err := stores[i].Put(Ctx(t), c); err != nil {
						return err
					}
					err := stores[i].Commit(Ctx(t), c.Hash(), chunks.Hash{})
					switch {
					case err == nil:
						wins.Add(1)
						winner.Store(c.Hash())
					case errors.Is(err, chunks.ErrOptimisticLock):
						losses.Add(1)
					default:
						return err
					}
					return nil
				})
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			if wins.Load() != 1 || losses.Load() != n-1 {
				t.Fatalf("%d winners and %d losers, want 1 and %d", wins.Load(), losses.Load(), n-1)
			}
			if r := mustRoot(t, open(t, st)); r != winner.Load().(chunks.Hash) {
				t.Fatalf("root = %s, want the winner's %s", r, winner.Load())
			}
		})
	}
}

// TestConcurrentReadersAndWriters runs puts, gets, has-calls and committing
// writers at once (meant for -race); every committed root must be intact
// and every chunk put must be readable at the end.
func (s *suite) TestConcurrentReadersAndWriters(t *testing.T) {
	st := s.h.NewStorage(t)
	a := open(t, st)
	ctx := Ctx(t)
	const writers, perWriter = 4, 25
	all := make(chan chunks.Chunk, writers*perWriter)
	g, gctx := errgroup.WithContext(ctx)
	for w := 0; w < writers; w++ {
		store := a
		if w%2 == 1 {
			store = open(t, st)
		}
		g.Go(func() error {
			for i := 0; i < perWriter; i++ {
				c := Chunk(t, 300)
				if err := store.Put(gctx, c); err != nil {
					return err
				}
				all <- c
				if _, err := store.Get(gctx, c.Hash()); err != nil {
					return fmt.Errorf("get own chunk: %w", err)
				}
				if i%5 == 4 {
					if err := commitRetry(gctx, store, c.Hash()); err != nil {
						return err
					}
				}
			}
			return nil
		})
		g.Go(func() error { // a reader polling the root and what it points at
			for i := 0; i < perWriter; i++ {
				if err := store.Rebase(gctx); err != nil {
					return err
				}
				r, err := store.Root(gctx)
				if err != nil {
					return err
				}
				if !r.IsEmpty() {
					c, err := store.Get(gctx, r)
					if err != nil {
						return fmt.Errorf("root %s unreadable: %w", r, err)
					}
					if err := c.Verify(); err != nil {
						return err
					}
				}
				if _, err := store.HasMany(gctx, []chunks.Hash{r}); err != nil {
					return err
				}
				_ = store.Stats()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	close(all)
	if err := commitRetry(ctx, a, chunks.Hash{}); err != nil {
		t.Fatal(err)
	}
	b := open(t, st)
	for c := range all {
		assertGet(t, b, c)
	}
}

// commitRetry moves the root to h (or keeps it when h is zero), rebasing and
// retrying on ErrOptimisticLock as an application would.
func commitRetry(ctx context.Context, s chunks.ChunkStore, h chunks.Hash) error {
	for {
		last, err := s.Root(ctx)
		if err != nil {
			return err
		}
		next := h
		if next.IsEmpty() {
			next = last
		}
		err = s.Commit(ctx, next, last)
		if !errors.Is(err, chunks.ErrOptimisticLock) {
			return err
		}
	}
}

func (s *suite) TestCorruptDataDetected(t *testing.T) {
	st := s.h.NewStorage(t)
	a := open(t, st)
	c, ok := Chunk(t, 4096), Chunk(t, 4096)
	mustPut(t, a, c, ok)
	mustCommit(t, a, c.Hash(), chunks.Hash{})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	st.Corrupt(t, c.Hash())
	b := open(t, st) // a fresh store: nothing cached from before
	if _, err := b.Get(Ctx(t), c.Hash()); !errors.Is(err, chunks.ErrHashMismatch) {
		t.Fatalf("Get of corrupted chunk: err = %v, want ErrHashMismatch", err)
	}
	err := b.GetMany(Ctx(t), []chunks.Hash{ok.Hash(), c.Hash()}, func(chunks.Chunk) error { return nil })
	if !errors.Is(err, chunks.ErrHashMismatch) {
		t.Fatalf("GetMany with a corrupted chunk: err = %v, want ErrHashMismatch", err)
	}
	assertGet(t, b, ok)
}

func (s *suite) TestCancelledContext(t *testing.T) {
	a := open(t, s.h.NewStorage(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := Chunk(t, 10)
	if _, err := a.Get(ctx, c.Hash()); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a cancelled context: %v", err)
	}
	if err := a.Put(ctx, c); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: %v", err)
	}
	if err := a.Commit(ctx, chunks.Hash{}, chunks.Hash{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Commit with a cancelled context: %v", err)
	}
}

func (s *suite) TestClosed(t *testing.T) {
	a := s.h.NewStorage(t).Open(t)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	c := Chunk(t, 10)
	if _, err := a.Get(Ctx(t), c.Hash()); !errors.Is(err, chunks.ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if err := a.Put(Ctx(t), c); !errors.Is(err, chunks.ErrClosed) {
		t.Fatalf("Put after Close: %v", err)
	}
	if _, err := a.Root(Ctx(t)); !errors.Is(err, chunks.ErrClosed) {
		t.Fatalf("Root after Close: %v", err)
	}
}

func (s *suite) TestStatsCount(t *testing.T) {
	a := open(t, s.h.NewStorage(t))
	c := Chunk(t, 10)
	mustPut(t, a, c)
	assertGet(t, a, c)
	mustCommit(t, a, c.Hash(), chunks.Hash{})
	st := a.Stats()
	if st.Puts != 1 || st.BytesPut != int64(c.Size()) || st.Gets < 1 || st.Commits != 1 || st.Pending != 0 {
		t.Fatalf("stats after one put, get and commit: %+v", st)
	}
}
