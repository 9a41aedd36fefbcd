package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/merge"
	"github.com/noms-ipfs/noms-ipfs/value"
)

var debugLogs = os.Getenv("SYNCER_DEBUG") != ""

// via commits through the syncer, which publishes at once.
func via(s *Syncer) func(ctx context.Context, ds string, v value.Value, base chunks.Hash) (chunks.Hash, error) {
	return func(ctx context.Context, ds string, v value.Value, base chunks.Hash) (chunks.Hash, error) {
		res, err := s.Commit(ctx, ds, v, merge.CommitOptions{Base: base})
		return res.Commit.Hash, err
	}
}

// fast is a configuration with short timeouts for tests.
func fast(cfg Config) Config {
	if cfg.HeadTimeout == 0 {
		// Merges of criss-crossed histories take seconds under the race
		// detector; a timeout would only make them start over.
		cfg.HeadTimeout = 30 * time.Second
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = 50 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 500 * time.Millisecond
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = 20 * time.Millisecond
	}
	return cfg
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{"": Shared, "shared": Shared, "Replicate": Replicate, " replica ": Replicate} {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseMode("mirror"); !errors.Is(err, ErrUnknownMode) {
		t.Errorf("ParseMode(mirror) error = %v, want ErrUnknownMode", err)
	}
	if Shared.String() != "shared" || Replicate.String() != "replicate" {
		t.Errorf("mode names: %v %v", Shared, Replicate)
	}
}

func TestNewValidates(t *testing.T) {
	n := newFakeNet()
	p := n.add("A", nil)
	if _, err := New(p.d, nil, p.hs, Config{Datasets: []string{"bad name"}}); !errors.Is(err, db.ErrInvalidName) {
		t.Errorf("bad dataset name: %v", err)
	}
	if _, err := New(p.d, nil, p.hs, Config{Mode: Replicate}); !errors.Is(err, ErrNoNode) {
		t.Errorf("replicate without node: %v", err)
	}
	s, err := New(p.d, nil, p.hs, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Config(); c.Mode != Shared || c.Policy == nil || c.Workers != defaultWorkers || c.Database != "default" {
		t.Errorf("defaults: %+v", c)
	}
}

func TestRunTwice(t *testing.T) {
	n := newFakeNet()
	p := n.add("A", nil)
	r := startSyncer(t, p, fast(Config{}))
	testwait.Until(t, 5*time.Second, "Run to start", func() (bool, string) { return r.s.started.Load(), "" })
	if err := r.s.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
}

// A commits; B and C adopt A's head by fast-forward.
func TestAdoptHead(t *testing.T) {
	n := newFakeNet()
	a, b, c := n.add("A", nil), n.add("B", nil), n.add("C", nil)
	ra := startSyncer(t, a, fast(Config{}))
	rb := startSyncer(t, b, fast(Config{}))
	rc := startSyncer(t, c, fast(Config{}))
	h := commitKey(t, via(ra.s), a.d, "todo", "milk", 1)
	for _, p := range []*fakePeer{b, c} {
		testwait.Until(t, 5*time.Second, string(p.id)+" adopting A's head", func() (bool, string) {
			got := headOf(t, p.d, "todo")
			return got == h, got.String()
		})
	}
	for _, r := range []*running{rb, rc} {
		if st := r.s.Stats(); st.FastForwards != 1 || st.Merges != 0 {
			t.Errorf("stats = %+v, want one fast-forward and no merge", st)
		}
	}
	// B publishes the root it adopted, so that others can learn it from B.
	testwait.Until(t, 5*time.Second, "B publishing its new root", func() (bool, string) {
		root, _ := b.store.Root(context.Background())
		return rb.s.Published() == root && !root.IsEmpty(), fmt.Sprint(b.hs.published())
	})
}

// Three writers commit concurrently; they end on one head holding every
// key, with a bounded number of merge commits.
func TestConcurrentWritersConverge(t *testing.T) {
	n := newFakeNet()
	names := []string{"A", "B", "C"}
	var peers []*fakePeer
	var runs []*running
	for _, name := range names {
		p := n.add(name, nil)
		peers = append(peers, p)
		runs = append(runs, startSyncer(t, p, fast(Config{})))
	}
	const commits = 30
	var wg sync.WaitGroup
	for i, p := range peers {
		wg.Go(func() {
			for j := range commits {
				commitKey(t, via(runs[i].s), p.d, "data", key(names[i], j), int64(j))
			}
		})
	}
	wg.Wait()
	var dbs []*db.Database
	for _, p := range peers {
		dbs = append(dbs, p.d)
	}
	sameHeads(t, time.Minute, "data", dbs...)
	var want []string
	for _, name := range names {
		for j := range commits {
			want = append(want, key(name, j))
		}
	}
	for _, p := range peers {
		if missing := keysMissing(mapOf(t, p.d, "data"), want); len(missing) > 0 {
			t.Errorf("%s lacks %d keys, e.g. %v", p.id, len(missing), missing[:min(5, len(missing))])
		}
	}
	var merges int64
	for _, r := range runs {
		merges += r.s.Stats().Merges
	}
	// Peers that heard the same changes write the same merge: at most one
	// merge commit per commit (8-16 for 90 seen).
	if bound := int64(len(peers) * commits); merges > bound {
		t.Errorf("%d merge commits for %d commits: a merge storm (bound %d)", merges, len(peers)*commits, bound)
	}
	t.Logf("merges: %d for %d commits", merges, len(peers)*commits)
}

// A head whose root nobody can serve is retried with backoff and does not
// hold up another writer's heads.
func TestUnreachableHeadDoesNotStall(t *testing.T) {
	n := newFakeNet()
	a, b := n.add("A", nil), n.add("B", nil)
	ra := startSyncer(t, a, fast(Config{}))
	var retries atomic.Int64
	rb := startSyncer(t, b, fast(Config{Workers: 1, HeadTimeout: 300 * time.Millisecond, OnEvent: func(e Event) {
		if e.Kind == EventRetry && e.Writer == "ghost" {
			retries.Add(1)
		}
	}}))
	ghost := chunks.Of([]byte("nobody has this"))
	b.hs.deliver(Head{Writer: "ghost", Root: ghost, Seq: 7})
	for i := range 3 {
		h := commitKey(t, via(ra.s), a.d, "todo", key("a", i), int64(i))
		testwait.Until(t, 5*time.Second, "B adopting A's head despite the ghost", func() (bool, string) {
			got := headOf(t, b.d, "todo")
			return got == h, got.String()
		})
	}
	testwait.Until(t, 5*time.Second, "retries of the ghost head", func() (bool, string) {
		return retries.Load() >= 2, fmt.Sprint(retries.Load())
	})
	var ghostStatus WriterStatus
	for _, w := range rb.s.Writers() {
		if w.Writer == "ghost" {
			ghostStatus = w
		}
	}
	if ghostStatus.Synced || ghostStatus.Attempts == 0 || !strings.Contains(ghostStatus.LastError, "not on the fake network") {
		t.Errorf("ghost status = %+v", ghostStatus)
	}
	if st := rb.s.Stats(); st.Failures < 2 || st.Pending != 1 {
		t.Errorf("stats = %+v, want failures and one pending writer", st)
	}
	// The data appears: the next retry succeeds.
	n.setOffline("A", false)
}

// A newer head of a writer supersedes an attempt stuck on an older one.
func TestNewerHeadSupersedesStuckAttempt(t *testing.T) {
	n := newFakeNet()
	a, b := n.add("A", nil), n.add("B", nil)
	rb := startSyncer(t, b, fast(Config{HeadTimeout: time.Minute, RetryMin: time.Minute, SupersedeAfter: 100 * time.Millisecond}))
	ghost := chunks.Of([]byte("nobody has this either"))
	// The fake store fails at once, so make the ghost's root hang instead.
	b.store.hang = ghost
	if err := a.hs.Publish(context.Background(), ghost); err != nil { // seq 1
		t.Fatal(err)
	}
	testwait.Until(t, 5*time.Second, "the attempt at the ghost to start", func() (bool, string) {
		ws := rb.s.Writers()
		return len(ws) == 1 && ws[0].Busy, fmt.Sprintf("%+v", ws)
	})
	h := commitKey(t, func(ctx context.Context, ds string, v value.Value, base chunks.Hash) (chunks.Hash, error) {
		c, err := a.d.Commit(ctx, ds, v, db.CommitOptions{})
		return c.Hash, err
	}, a.d, "todo", "x", 1)
	if err := a.hs.Publish(context.Background(), mustRoot(t, a.store)); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 5*time.Second, "B adopting A's newer head", func() (bool, string) {
		got := headOf(t, b.d, "todo")
		return got == h, got.String()
	})
}

func mustRoot(t testing.TB, st chunks.ChunkStore) chunks.Hash {
	t.Helper()
	r, err := st.Root(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Heads that pile up while the syncer is busy are coalesced: only the
// newest per writer is processed.
func TestCoalescing(t *testing.T) {
	n := newFakeNet()
	a, b := n.add("A", nil), n.add("B", nil)
	const commits = 50
	var last chunks.Hash
	for i := range commits {
		c, err := a.d.Commit(context.Background(), "log", value.Int(int64(i)), db.CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		last = c.Hash
		if err := a.hs.Publish(context.Background(), mustRoot(t, a.store)); err != nil {
			t.Fatal(err)
		}
	}
	rb := startSyncer(t, b, fast(Config{}))
	testwait.Until(t, 5*time.Second, "B adopting A's last head", func() (bool, string) {
		got := headOf(t, b.d, "log")
		return got == last, got.String()
	})
	testwait.Until(t, 5*time.Second, "B to drain its heads", func() (bool, string) {
		st := rb.s.Stats()
		return st.Pending == 0 && st.Heads >= commits, fmt.Sprintf("%+v", st)
	})
	st := rb.s.Stats()
	if st.FastForwards > 3 || st.Processed > 3 || st.Coalesced < commits-3 {
		t.Errorf("stats = %+v: want the 50 heads coalesced into very few", st)
	}
}

// A restarted peer converges from the heads it resolves at start.
func TestRestartCatchesUp(t *testing.T) {
	n := newFakeNet()
	storageB := chunks.NewMemoryStorage()
	a, b := n.add("A", nil), n.add("B", storageB)
	ra := startSyncer(t, a, fast(Config{}))
	rb := startSyncer(t, b, fast(Config{}))
	h1 := commitKey(t, via(ra.s), a.d, "todo", "one", 1)
	testwait.Until(t, 5*time.Second, "B adopting h1", func() (bool, string) { return headOf(t, b.d, "todo") == h1, "" })
	rb.stop(t)
	h2 := commitKey(t, via(ra.s), a.d, "todo", "two", 2)
	// B comes back on the same storage with a head store that heard
	// nothing live: only the resolved record tells it about h2.
	n.mu.Lock()
	delete(n.peers, b.id)
	n.mu.Unlock()
	b2 := n.add("B", storageB)
	if got := headOf(t, b2.d, "todo"); got != h1 {
		t.Fatalf("B restarted on %s, want h1 %s", got, h1)
	}
	startSyncer(t, b2, fast(Config{}))
	testwait.Until(t, 5*time.Second, "restarted B adopting h2", func() (bool, string) {
		got := headOf(t, b2.d, "todo")
		return got == h2, got.String()
	})
}

// Commits made by another process on the same store are published: at
// once by the store's root watch (the poll off proves it), and by the poll
// of a store that cannot watch. The final publish happens on shutdown.
func TestWatchAndFinalPublish(t *testing.T) {
	for _, tc := range []struct {
		name  string
		watch bool
		poll  time.Duration
	}{
		{"watch", true, -1},
		{"poll", false, 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := newFakeNet()
			storage := chunks.NewMemoryStorage()
			a := n.add("A", storage)
			if !tc.watch {
				a.d = db.New(unwatched{a.store})
			}
			ra := startSyncer(t, a, fast(Config{WatchInterval: tc.poll}))
			other := db.New(storage.NewStore()) // "another process"
			for i := range 3 {
				if _, err := other.Commit(context.Background(), "todo", value.Int(int64(i)), db.CommitOptions{}); err != nil {
					t.Fatal(err)
				}
				root := mustRoot(t, storage.NewStore())
				testwait.Until(t, 5*time.Second, "the other process's root published", func() (bool, string) {
					return ra.s.Published() == root, fmt.Sprint(a.hs.published())
				})
			}
			root := mustRoot(t, storage.NewStore())
			before := len(a.hs.published())
			ra.stop(t)
			if got := a.hs.published(); len(got) != before+1 || got[len(got)-1] != root {
				t.Errorf("publishes after stop = %v, want one more of %s", got[before:], root)
			}
		})
	}
}

// unwatched hides a store's optional abilities, chunks.RootWatcher among
// them.
type unwatched struct{ chunks.ChunkStore }

// A failing publish is retried until it succeeds.
func TestPublishRetries(t *testing.T) {
	n := newFakeNet()
	a := n.add("A", nil)
	a.hs.fail = errors.New("pubsub down")
	var fails atomic.Int64
	ra := startSyncer(t, a, fast(Config{OnEvent: func(e Event) {
		if e.Kind == EventPublishFailed {
			fails.Add(1)
		}
	}}))
	if _, err := a.d.Commit(context.Background(), "todo", value.Int(1), db.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	ra.s.Notify()
	testwait.Until(t, 5*time.Second, "failed publishes", func() (bool, string) { return fails.Load() >= 2, "" })
	a.hs.mu.Lock()
	a.hs.fail = nil
	a.hs.mu.Unlock()
	root := mustRoot(t, a.store)
	testwait.Until(t, 5*time.Second, "the publish to succeed", func() (bool, string) {
		return ra.s.Published() == root, fmt.Sprintf("%+v", ra.s.Stats())
	})
}

// Publish retries back off from RetryMin but never wait longer than
// publishRetryMax, however long the publishes failed: a writer whose Kubo
// comes back after a long outage publishes again soon.
func TestPublishBackoffIsCapped(t *testing.T) {
	s := &Syncer{cfg: Config{RetryMin: time.Second, RetryMax: time.Minute}}
	if d := s.publishBackoff(1); d < 800*time.Millisecond || d > 1200*time.Millisecond {
		t.Errorf("publishBackoff(1) = %v, want RetryMin (1s) ±20%%", d)
	}
	for n := 1; n <= 20; n++ {
		if d := s.publishBackoff(n); d > publishRetryMax {
			t.Errorf("publishBackoff(%d) = %v, more than %v (backoff gives %v)", n, d, publishRetryMax, s.backoff(n))
		}
	}
	s.cfg.RetryMax = time.Second // a smaller RetryMax still applies
	if d := s.publishBackoff(10); d > 1200*time.Millisecond {
		t.Errorf("publishBackoff(10) with RetryMax 1s = %v", d)
	}
}

// With a policy that refuses conflicts, a conflicting head is reported,
// not retried, and the loop goes on.
func TestConflictIsPermanent(t *testing.T) {
	n := newFakeNet()
	a, b := n.add("A", nil), n.add("B", nil)
	ctx := context.Background()
	base, err := a.d.Commit(ctx, "cfg", value.String("base"), db.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.d.FastForward(ctx, "cfg", base.Hash); err != nil {
		t.Fatal(err)
	}
	ca, _ := a.d.Commit(ctx, "cfg", value.String("a"), db.CommitOptions{})
	cb, _ := b.d.Commit(ctx, "cfg", value.String("b"), db.CommitOptions{})
	var conflicts atomic.Int64
	rb := startSyncer(t, b, fast(Config{Policy: merge.Fail, OnEvent: func(e Event) {
		if e.Kind == EventConflict {
			conflicts.Add(1)
		}
	}}))
	if err := a.hs.Publish(ctx, mustRoot(t, a.store)); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 5*time.Second, "the conflict", func() (bool, string) { return conflicts.Load() == 1, "" })
	testwait.Until(t, 5*time.Second, "the head to count as processed", func() (bool, string) {
		st := rb.s.Stats()
		return st.Processed == 1 && st.Pending == 0, fmt.Sprintf("%+v", st)
	})
	if st := rb.s.Stats(); st.Failures != 0 || st.Conflicts != 1 {
		t.Errorf("stats = %+v: a conflict is not retried", st)
	}
	if got := headOf(t, b.d, "cfg"); got != cb.Hash {
		t.Errorf("B's head moved to %s on a conflict", got)
	}
	_ = ca
}

// Only the configured datasets are synced.
func TestDatasetFilter(t *testing.T) {
	n := newFakeNet()
	a, b := n.add("A", nil), n.add("B", nil)
	ra := startSyncer(t, a, fast(Config{}))
	rb := startSyncer(t, b, fast(Config{Datasets: []string{"public"}}))
	commitKey(t, via(ra.s), a.d, "private", "k", 1)
	h := commitKey(t, via(ra.s), a.d, "public", "k", 1)
	testwait.Until(t, 5*time.Second, "B adopting public", func() (bool, string) { return headOf(t, b.d, "public") == h, "" })
	if got := headOf(t, b.d, "private"); !got.IsEmpty() {
		t.Errorf("B synced a dataset it was not asked to: private = %s", got)
	}
	_ = rb
}

// A root chunk that is not a database root is dropped for good.
func TestBadRootIsPermanent(t *testing.T) {
	n := newFakeNet()
	a, b := n.add("A", nil), n.add("B", nil)
	junk := chunks.NewChunk([]byte{0x63, 'a', 'b', 'c'}) // CBOR "abc"
	if err := a.store.Put(context.Background(), junk); err != nil {
		t.Fatal(err)
	}
	rb := startSyncer(t, b, fast(Config{}))
	b.hs.deliver(Head{Writer: a.id, Root: junk.Hash(), Seq: 1})
	testwait.Until(t, 5*time.Second, "the bad root to be dropped", func() (bool, string) {
		ws := rb.s.Writers()
		return len(ws) == 1 && ws[0].Synced && strings.Contains(ws[0].LastError, "not a database root"), fmt.Sprintf("%+v", ws)
	})
	if st := rb.s.Stats(); st.Failures != 0 {
		t.Errorf("stats = %+v: a bad root is not retried", st)
	}
}

// Heads of the syncer's own key, and older heads, are ignored.
func TestIgnoresSelfAndOlder(t *testing.T) {
	n := newFakeNet()
	b := n.add("B", nil)
	rb := startSyncer(t, b, fast(Config{}))
	root := chunks.Of([]byte("x"))
	rb.s.offer(Head{Writer: b.id, Root: root, Seq: 5})
	rb.s.offer(Head{Writer: "A", Root: chunks.Hash{}, Seq: 5})
	rb.s.offer(Head{Writer: "A", Root: root, Seq: 4})
	ws := rb.s.Writers()
	if len(ws) != 1 || ws[0].Writer != peer.ID("A") || ws[0].Seq != 5 {
		t.Errorf("writers = %+v", ws)
	}
}

func TestBackoff(t *testing.T) {
	s := &Syncer{cfg: Config{RetryMin: 100 * time.Millisecond, RetryMax: time.Second}}
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, s.backoff(n))
	}
	for i, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		if got[i] < want*8/10 || got[i] > want*12/10 {
			t.Errorf("backoff(%d) = %v, want %v ±20%%", i+1, got[i], want)
		}
	}
	if !slices.IsSortedFunc(got[:4], func(a, b time.Duration) int { return int(a - b) }) {
		t.Errorf("backoff not growing: %v", got)
	}
}
