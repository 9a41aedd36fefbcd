package syncer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/kubo/core/coreiface/options"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/headstore"
	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
	"github.com/noms-ipfs/noms-ipfs/merge"
	"github.com/noms-ipfs/noms-ipfs/syncer"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// The integration tests run three real Kubo daemons on loopback; each peer
// is its own ipfsstore.Store, db.Database, headstore.Store and Syncer in
// this process, talking to its daemon over RPC, exactly as `noms-ipfs
// sync` does.

const testDB = "itest"

var debugLogs = os.Getenv("SYNCER_DEBUG") != ""

// peerT is one writer of the test database.
type peerT struct {
	name string
	kubo *kubotest.Node
	dir  string // ipfsstore state, kept across restarts
	key  peer.ID

	node  *ipfsnode.Node
	store *ipfsstore.Store
	d     *db.Database
	hs    *headstore.Store
	s     *syncer.Syncer

	cancel context.CancelFunc
	done   chan error
}

// clusterT is a set of peers on connected daemons.
type clusterT struct {
	t     testing.TB
	peers []*peerT
}

// newCluster starts count daemons, connects them, and creates each peer's
// writer key so that every peer can allow the others. No peer runs yet.
func newCluster(t testing.TB, names ...string) *clusterT {
	t.Helper()
	nodes := kubotest.StartCluster(t, len(names))
	c := &clusterT{t: t}
	for i, name := range names {
		p := &peerT{name: name, kubo: nodes[i], dir: filepath.Join(t.TempDir(), name)}
		p.connect(t)
		k, err := p.node.API().Key().Generate(ctx(t), keyName, options.Key.Type(options.Ed25519Key))
		if err != nil {
			t.Fatalf("%s: generate writer key: %v", name, err)
		}
		p.key = k.ID()
		c.peers = append(c.peers, p)
		t.Cleanup(func() { p.stop(t) })
	}
	return c
}

const keyName = "noms-ipfs-" + testDB

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

func (p *peerT) connect(t testing.TB) {
	t.Helper()
	n, err := ipfsnode.Connect(ctx(t), p.kubo.APIAddr)
	if err != nil {
		t.Fatalf("%s: connect to Kubo: %v", p.name, err)
	}
	p.node = n
}

func (c *clusterT) writers() []peer.ID {
	var ids []peer.ID
	for _, p := range c.peers {
		ids = append(ids, p.key)
	}
	return ids
}

// logger logs to the test at warning level, or at debug level with
// $SYNCER_DEBUG; with $SYNCER_LOGFILE, to that file instead (benchmarks
// truncate their logs).
func logger(t testing.TB, name string) *slog.Logger {
	level := slog.LevelWarn
	if debugLogs {
		level = slog.LevelDebug
	}
	var w io.Writer = tbWriter{t}
	if logFile != nil {
		w = logFile
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})).With("peer", name)
}

var logFile = func() *os.File {
	name := os.Getenv("SYNCER_LOGFILE")
	if name == "" {
		return nil
	}
	f, err := os.Create(name)
	if err != nil {
		panic(err)
	}
	return f
}()

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a line logged after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// open opens the peer's store, database and head store (not the syncer).
func (p *peerT) open(t testing.TB, allowed []peer.ID) {
	t.Helper()
	if p.node == nil {
		p.connect(t)
	}
	st, err := ipfsstore.Open(ctx(t), p.node, ipfsstore.Options{Dir: p.dir, FetchTimeout: 10 * time.Second, Logger: logger(t, p.name)})
	if err != nil {
		t.Fatalf("%s: open store: %v", p.name, err)
	}
	p.store, p.d = st, db.New(st)
	hs, err := headstore.New(ctx(t), p.node, headstore.Config{
		Database: testDB, KeyName: keyName, Allowed: allowed,
		Announce: time.Second, TTL: 5 * time.Second, Logger: logger(t, p.name),
	})
	if err != nil {
		t.Fatalf("%s: start head store: %v", p.name, err)
	}
	if hs.Self() != p.key {
		t.Fatalf("%s: head store writes as %s, want the generated key %s", p.name, hs.Self(), p.key)
	}
	p.hs = hs
}

// start opens the peer if needed and runs its syncer until stop.
func (p *peerT) start(t testing.TB, allowed []peer.ID, cfg syncer.Config) {
	t.Helper()
	if p.hs == nil {
		p.open(t, allowed)
	}
	cfg.Database = testDB
	if cfg.Logger == nil {
		cfg.Logger = logger(t, p.name)
	}
	if cfg.HeadTimeout == 0 {
		// Long: replicate mode's pin walks the writer's whole DAG, seconds
		// on a busy VM.
		cfg.HeadTimeout = time.Minute
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = 200 * time.Millisecond
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 2 * time.Second
	}
	s, err := syncer.New(p.d, p.node, p.hs, cfg)
	if err != nil {
		t.Fatalf("%s: new syncer: %v", p.name, err)
	}
	p.s = s
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan error, 1)
	go func() { p.done <- s.Run(runCtx) }()
}

// stop stops the syncer, head store, store and RPC connection (not the
// daemon); a stopped peer can start again.
func (p *peerT) stop(t testing.TB) {
	t.Helper()
	if p.cancel != nil {
		p.cancel()
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("%s: Run returned %v", p.name, err)
			}
		case <-time.After(time.Minute):
			t.Errorf("%s: syncer did not stop within a minute", p.name)
		}
		p.cancel = nil
	}
	if p.hs != nil {
		_ = p.hs.Close()
		p.hs = nil
	}
	if p.store != nil {
		_ = p.store.Close()
		p.store = nil
	}
	if p.node != nil {
		_ = p.node.Close()
		p.node = nil
	}
}

// commit sets key=val in the dataset's map through the syncer (published
// at once) and returns the new head.
func (p *peerT) commit(t testing.TB, dataset, key string, val int64) chunks.Hash {
	t.Helper()
	c := context.Background()
	var m value.Map
	var base chunks.Hash
	head, err := p.d.Head(c, dataset)
	switch {
	case err == nil:
		base, m = head.Hash, head.Value.(value.Map)
	default:
		if m, err = value.NewMap(c, p.store); err != nil {
			t.Fatal(err)
		}
	}
	if m, err = m.Set(c, p.store, value.String(key), value.Int(val)); err != nil {
		t.Fatal(err)
	}
	res, err := p.s.Commit(c, dataset, m, merge.CommitOptions{Base: base})
	if err != nil {
		t.Fatalf("%s: commit %s=%d: %v", p.name, key, val, err)
	}
	return res.Commit.Hash
}

func (p *peerT) head(dataset string) chunks.Hash {
	c, err := p.d.Head(context.Background(), dataset)
	if err != nil {
		return chunks.Hash{}
	}
	return c.Hash
}

// converged waits until every peer has the same non-zero head of dataset.
func converged(t testing.TB, timeout time.Duration, dataset string, peers ...*peerT) chunks.Hash {
	t.Helper()
	var h chunks.Hash
	testwait.Until(t, timeout, "identical heads of "+dataset, func() (bool, string) {
		var state []string
		same := true
		h = peers[0].head(dataset)
		for _, p := range peers {
			hp := p.head(dataset)
			state = append(state, fmt.Sprintf("%s=%s pending=%d", p.name, hp, p.s.Stats().Pending))
			if hp.IsEmpty() || hp != h {
				same = false
			}
		}
		return same, strings.Join(state, " ")
	})
	return h
}

func (p *peerT) values(t testing.TB, dataset string) map[string]int64 {
	t.Helper()
	c := context.Background()
	head, err := p.d.Head(c, dataset)
	if err != nil {
		t.Fatalf("%s: head of %s: %v", p.name, dataset, err)
	}
	out := map[string]int64{}
	for e, err := range head.Value.(value.Map).All(c, p.store, nil) {
		if err != nil {
			t.Fatalf("%s: read %s: %v", p.name, dataset, err)
		}
		out[string(e.Key.(value.String))] = int64(e.Value.(value.Int))
	}
	return out
}

func key(peer string, i int) string { return fmt.Sprintf("%s-%05d", peer, i) }

// A commits; B and C adopt A's head. Then A, B and C commit concurrently:
// all end on one head with every key, and merges stay bounded.
func TestClusterAdoptAndConverge(t *testing.T) {
	c := newCluster(t, "A", "B", "C")
	a, b, cc := c.peers[0], c.peers[1], c.peers[2]
	for _, p := range c.peers {
		p.start(t, c.writers(), syncer.Config{})
	}
	h := a.commit(t, "data", "first", 1)
	for _, p := range []*peerT{b, cc} {
		testwait.Until(t, 20*time.Second, p.name+" adopting A's first head", func() (bool, string) {
			st := p.s.Stats() // counted once the head has moved
			return p.head("data") == h && st.FastForwards == 1, fmt.Sprintf("head=%s %+v", p.head("data"), st)
		})
		if st := p.s.Stats(); st.Merges != 0 {
			t.Errorf("%s merged to adopt A's first head: %+v", p.name, st)
		}
	}

	const commits = 25
	var wg sync.WaitGroup
	for _, p := range c.peers {
		wg.Go(func() {
			for i := range commits {
				p.commit(t, "data", key(p.name, i), int64(i))
			}
		})
	}
	wg.Wait()
	final := converged(t, 60*time.Second, "data", c.peers...)
	want := []string{"first"}
	for _, p := range c.peers {
		for i := range commits {
			want = append(want, key(p.name, i))
		}
	}
	var merges int64
	for _, p := range c.peers {
		got := p.values(t, "data")
		for _, k := range want {
			if _, ok := got[k]; !ok {
				t.Errorf("%s lacks %s", p.name, k)
			}
		}
		st := p.s.Stats()
		merges += st.Merges
		if st.PushesReceived == 0 || st.ReceivedChunks == 0 || st.PushesDropped != 0 {
			t.Errorf("%s: chunk pushes did not flow: %+v", p.name, st)
		}
		t.Logf("%s: %+v", p.name, st)
	}
	t.Logf("converged on %s: %d merge commits for %d commits", final, merges, len(want))
	// Merges take every writer's latest head at once (merge.IntoAll), so
	// peers that heard the same changes write the same merge: at most one
	// merge commit per commit (37-45 for 76 seen; merging one writer at a
	// time wrote 126-137, and 500-1700 once merges got fast).
	if bound := int64(len(want)); merges > bound {
		t.Errorf("%d merge commits for %d commits: a merge storm (bound %d)", merges, len(want), bound)
	}
}

// C's daemon is stopped in the middle of A's and B's writes; restarted, C
// resolves their heads and catches up.
func TestClusterStoppedPeerCatchesUp(t *testing.T) {
	c := newCluster(t, "A", "B", "C")
	a, b, cc := c.peers[0], c.peers[1], c.peers[2]
	for _, p := range c.peers {
		p.start(t, c.writers(), syncer.Config{})
	}
	const commits = 20
	var wg sync.WaitGroup
	for _, p := range []*peerT{a, b} {
		wg.Go(func() {
			for i := range commits {
				p.commit(t, "data", key(p.name, i), int64(i))
			}
		})
	}
	// C writes too, then goes down while A and B go on.
	for i := range 5 {
		cc.commit(t, "data", key("C", i), int64(i))
	}
	cc.stop(t)
	cc.kubo.Stop(t)
	wg.Wait()
	converged(t, 60*time.Second, "data", a, b)

	cc.kubo.Restart(t)
	for _, p := range []*peerT{a, b} {
		cc.kubo.Connect(t, p.kubo)
	}
	cc.start(t, c.writers(), syncer.Config{})
	final := converged(t, 60*time.Second, "data", a, b, cc)
	got := cc.values(t, "data")
	for _, name := range []string{"A", "B"} {
		for i := range commits {
			if _, ok := got[key(name, i)]; !ok {
				t.Errorf("C lacks %s after catching up", key(name, i))
			}
		}
	}
	for i := range 5 {
		if _, ok := got[key("C", i)]; !ok {
			t.Errorf("C's own %s was lost", key("C", i))
		}
	}
	t.Logf("C caught up on %s: %+v", final, cc.s.Stats())
}

// B replicates A. A's daemon goes away with its repo, B's node collects
// garbage, and C, which never saw A, still reads every value through B.
func TestClusterReplicaOutlivesPublisher(t *testing.T) {
	c := newCluster(t, "A", "B", "C")
	a, b, cc := c.peers[0], c.peers[1], c.peers[2]
	allowed := c.writers()
	a.start(t, allowed, syncer.Config{})
	b.start(t, allowed, syncer.Config{Mode: syncer.Replicate})

	// Enough entries for a multi-level prolly tree, and some history.
	const entries = 3000
	ctxb := context.Background()
	mb := value.NewMapBuilder(ctxb, a.store)
	for i := range entries {
		if err := mb.Add(value.String(key("k", i)), value.Int(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	m, err := mb.Map()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.s.Commit(ctxb, "data", m, merge.CommitOptions{}); err != nil {
		t.Fatal(err)
	}
	var h chunks.Hash
	for i := range 3 {
		h = a.commit(t, "data", key("extra", i), int64(i))
	}
	testwait.Until(t, 30*time.Second, "B adopting and pinning A's head", func() (bool, string) {
		st := b.s.Stats()
		return b.head("data") == h && st.Pins >= 1 && st.Pending == 0, fmt.Sprintf("head=%s %+v", b.head("data"), st)
	})
	st := b.s.Stats()
	if st.BytesPinned < entries*5 {
		t.Errorf("B pinned %d bytes for %d entries", st.BytesPinned, entries)
	}
	pins := b.kubo.IPFS(t, "pin", "ls", "--type=recursive", "--names")
	replicaPin := syncer.ReplicaPinPrefix + testDB + "/" + a.key.String()
	if !strings.Contains(pins, replicaPin) {
		t.Errorf("B has no pin named %s:\n%s", replicaPin, pins)
	}
	t.Logf("B: %+v", st)

	// A goes away for good.
	a.stop(t)
	a.kubo.Stop(t)
	if err := os.RemoveAll(a.kubo.Repo); err != nil {
		t.Fatal(err)
	}
	gc := b.kubo.IPFS(t, "repo", "gc")
	t.Logf("B's repo gc removed %d blocks", strings.Count(gc, "removed"))

	// C joins now, allowing A and B: only B can serve the data.
	cc.start(t, allowed, syncer.Config{})
	testwait.Until(t, 60*time.Second, "C adopting the head through B", func() (bool, string) {
		return cc.head("data") == h, fmt.Sprintf("head=%s %+v %+v", cc.head("data"), cc.s.Stats(), cc.s.Writers())
	})
	got := cc.values(t, "data")
	if len(got) != entries+3 {
		t.Errorf("C reads %d entries, want %d", len(got), entries+3)
	}
	for i := range entries {
		if v, ok := got[key("k", i)]; !ok || v != int64(i) {
			t.Fatalf("C reads %s = %d, %v; want %d", key("k", i), v, ok, i)
		}
	}
}

// A head whose root nobody has is retried with backoff, while another
// writer's heads keep being adopted.
func TestClusterUnreachableAnnouncement(t *testing.T) {
	c := newCluster(t, "A", "B")
	a, b := c.peers[0], c.peers[1]
	ghostKey, err := a.node.API().Key().Generate(ctx(t), "ghost", options.Key.Type(options.Ed25519Key))
	if err != nil {
		t.Fatal(err)
	}
	allowed := append(c.writers(), ghostKey.ID())
	a.start(t, allowed, syncer.Config{})
	// Without chunk pushes B fetches A's chunks over bitswap, the path
	// pushes only shortcut.
	b.start(t, allowed, syncer.Config{HeadTimeout: 5 * time.Second, RetryMin: 500 * time.Millisecond, NoPush: true})

	ghost, err := headstore.New(ctx(t), a.node, headstore.Config{Database: testDB, KeyName: "ghost", Open: true, Announce: -1, Logger: logger(t, "ghost")})
	if err != nil {
		t.Fatal(err)
	}
	defer ghost.Close()
	nowhere := chunks.Of([]byte(fmt.Sprintf("no such chunk %d", time.Now().UnixNano())))
	if err := ghost.Publish(ctx(t), nowhere); err != nil {
		t.Fatalf("publish the ghost head: %v", err)
	}
	testwait.Until(t, 20*time.Second, "B to start on the ghost head", func() (bool, string) {
		for _, w := range b.s.Writers() {
			if w.Writer == ghost.Self() && w.Root == nowhere {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", b.s.Writers())
	})
	for i := range 3 {
		start := time.Now()
		h := a.commit(t, "data", key("A", i), int64(i))
		testwait.Until(t, 10*time.Second, "B adopting A's head beside the ghost", func() (bool, string) {
			return b.head("data") == h, b.head("data").String()
		})
		t.Logf("A's commit %d adopted by B in %v", i, time.Since(start))
	}
	testwait.Until(t, 20*time.Second, "retries of the ghost head", func() (bool, string) {
		for _, w := range b.s.Writers() {
			if w.Writer == ghost.Self() {
				return w.Attempts >= 2 && !w.Synced, fmt.Sprintf("%+v", w)
			}
		}
		return false, "ghost unknown"
	})
	if st := b.s.Stats(); st.Failures < 2 || st.Pending != 1 || st.PushesReceived != 0 {
		t.Errorf("B stats = %+v; want failures and the ghost pending", st)
	}
}
