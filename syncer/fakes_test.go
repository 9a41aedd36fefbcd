package syncer

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
)

// fakeNet is an in-memory stand-in for IPFS plus the head store: each peer
// has a chunk store of its own whose Get falls back to the other peers'
// stores (bitswap), and a head store whose Publish reaches every other peer
// (pubsub) and is remembered (IPNS).
type fakeNet struct {
	mu      sync.Mutex
	peers   map[peer.ID]*fakePeer
	records map[peer.ID]Head // the durable record of each writer
	offline map[peer.ID]bool // peers whose chunks nobody can fetch
}

func newFakeNet() *fakeNet {
	return &fakeNet{peers: map[peer.ID]*fakePeer{}, records: map[peer.ID]Head{}, offline: map[peer.ID]bool{}}
}

type fakePeer struct {
	id    peer.ID
	net   *fakeNet
	store *netStore
	hs    *fakeHeads
	d     *db.Database
}

// add creates a peer with a fresh store on storage (nil: new storage).
func (n *fakeNet) add(id string, storage *chunks.MemoryStorage) *fakePeer {
	if storage == nil {
		storage = chunks.NewMemoryStorage()
	}
	p := &fakePeer{id: peer.ID(id), net: n}
	p.store = &netStore{MemoryStore: storage.NewStore(), storage: storage, net: n, self: p.id}
	p.d = db.New(p.store)
	p.hs = newFakeHeads(n, p.id)
	n.mu.Lock()
	n.peers[p.id] = p
	n.mu.Unlock()
	return p
}

func (n *fakeNet) setOffline(id peer.ID, off bool) {
	n.mu.Lock()
	n.offline[id] = off
	n.mu.Unlock()
}

// netStore is a peer's chunk store: local first, then the network, whose
// chunks it then holds, as a Kubo node does.
type netStore struct {
	*chunks.MemoryStore
	storage *chunks.MemoryStorage
	net     *fakeNet
	self    peer.ID
	hang    chunks.Hash // Get of it waits for the context, as a fetch nobody answers
}

func (s *netStore) Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error) {
	c, err := s.MemoryStore.Get(ctx, h)
	if err == nil {
		return c, nil
	}
	if h == s.hang {
		<-ctx.Done()
		return chunks.Chunk{}, ctx.Err()
	}
	s.net.mu.Lock()
	var others []*fakePeer
	for id, p := range s.net.peers {
		if id != s.self && !s.net.offline[id] {
			others = append(others, p)
		}
	}
	s.net.mu.Unlock()
	for _, p := range others {
		if c, err := p.store.MemoryStore.Get(ctx, h); err == nil {
			return c, s.storage.Add(c)
		}
	}
	return chunks.Chunk{}, fmt.Errorf("chunk %s not on the fake network: %w", h, chunks.ErrNotFound)
}

func (s *netStore) GetMany(ctx context.Context, hs []chunks.Hash, found func(chunks.Chunk) error) error {
	for _, h := range hs {
		c, err := s.Get(ctx, h)
		if err != nil {
			continue
		}
		if err := found(c); err != nil {
			return err
		}
	}
	return nil
}

// fakeHeads implements HeadStore for one peer.
type fakeHeads struct {
	net  *fakeNet
	self peer.ID
	ch   chan Head

	mu    sync.Mutex
	seq   uint64
	known map[peer.ID]Head
	pubs  []chunks.Hash
	fail  error // Publish fails with it while set
}

func newFakeHeads(n *fakeNet, self peer.ID) *fakeHeads {
	return &fakeHeads{net: n, self: self, ch: make(chan Head, 10000), known: map[peer.ID]Head{}}
}

func (f *fakeHeads) Self() peer.ID      { return f.self }
func (f *fakeHeads) Heads() <-chan Head { return f.ch }
func (f *fakeHeads) Known() map[peer.ID]Head {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.known)
}

func (f *fakeHeads) ResolveAll(context.Context) error {
	f.net.mu.Lock()
	recs := maps.Clone(f.net.records)
	f.net.mu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	for w, h := range recs {
		if w != f.self && h.Seq > f.known[w].Seq {
			f.known[w] = h
		}
	}
	return nil
}

func (f *fakeHeads) Publish(_ context.Context, root chunks.Hash) error {
	f.mu.Lock()
	if f.fail != nil {
		err := f.fail
		f.mu.Unlock()
		return err
	}
	f.seq++
	h := Head{Writer: f.self, Root: root, Seq: f.seq, EOL: time.Now().Add(time.Hour)}
	f.pubs = append(f.pubs, root)
	f.mu.Unlock()
	f.net.mu.Lock()
	f.net.records[f.self] = h
	var others []*fakePeer
	for id, p := range f.net.peers {
		if id != f.self {
			others = append(others, p)
		}
	}
	f.net.mu.Unlock()
	for _, p := range others {
		p.hs.deliver(h)
	}
	return nil
}

// deliver hands h to this peer as an accepted announcement.
func (f *fakeHeads) deliver(h Head) {
	f.mu.Lock()
	if h.Seq <= f.known[h.Writer].Seq {
		f.mu.Unlock()
		return
	}
	f.known[h.Writer] = h
	f.mu.Unlock()
	f.ch <- h
}

func (f *fakeHeads) published() []chunks.Hash {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chunks.Hash(nil), f.pubs...)
}

// running is a syncer started by a test, stopped at its end.
type running struct {
	s      *Syncer
	cancel context.CancelFunc
	done   chan error
}

func startSyncer(t *testing.T, p *fakePeer, cfg Config) *running {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := New(p.d, nil, p.hs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{s: s, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the syncer and waits for Run to return; safe to call twice.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run returned %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("syncer did not stop within 30 s of being cancelled")
	}
}
