package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	iface "github.com/ipfs/kubo/core/coreiface"
	"github.com/ipfs/kubo/core/coreiface/options"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// pinner pulls a writer's root into the local node and keeps it there.
type pinner interface {
	// pin makes root the writer's replica: recursively pinned, the
	// writer's previous replica unpinned. It returns the bytes of blocks
	// it newly brought under replica pins.
	pin(ctx context.Context, writer peer.ID, root chunks.Hash) (int64, error)
}

// keptWriter is the store's ability to write a chunk kept from GC at once
// (ipfsstore.Store.WriteKept).
type keptWriter interface {
	WriteKept(ctx context.Context, cs ...chunks.Chunk) error
}

// errCountShort marks a pin that succeeded but whose bytes could not all be
// counted.
var errCountShort = errors.New("pinned, but cannot count its bytes")

// ReplicaPinPrefix starts the names of replica pins in Kubo:
// noms-ipfs-replica/<database>/<writer peer ID>.
const ReplicaPinPrefix = "noms-ipfs-replica/"

// kuboPinner pins, per writer, a small wrapper block {"root": <link>,
// "replica": "<database>/<writer>"} rather than the root itself: Kubo keeps
// one pin per CID, and converged writers share one root, so pinning roots
// directly would let one writer's next pin move drop another's data (as
// ipfsstore does for its own root). A move pins the new wrapper, then
// unpins the old (see pin).
type kuboPinner struct {
	node   *ipfsnode.Node
	store  chunks.ChunkStore // to walk the pinned DAG when counting bytes
	prefix string            // noms-ipfs-replica/<database>/

	mu      sync.Mutex
	loaded  bool
	pins    map[peer.ID][]cid.Cid    // current replica pins per writer (more than one after a crash)
	locks   map[peer.ID]*sync.Mutex  // one pin move per writer at a time
	counted map[chunks.Hash]struct{} // blocks whose bytes were counted
}

func newKuboPinner(n *ipfsnode.Node, st chunks.ChunkStore, database string) *kuboPinner {
	return &kuboPinner{
		node:    n,
		store:   st,
		prefix:  ReplicaPinPrefix + database + "/",
		pins:    make(map[peer.ID][]cid.Cid),
		locks:   make(map[peer.ID]*sync.Mutex),
		counted: make(map[chunks.Hash]struct{}),
	}
}

// replicaBlock returns the wrapper block pinned for writer's root.
func replicaBlock(name string, root chunks.Hash) chunks.Chunk {
	b := cborx.AppendHead(nil, cborx.Map, 2) // keys in DAG-CBOR's length-first order
	b = cborx.AppendText(b, "root")
	b = cborx.AppendLink(b, root.CID())
	b = cborx.AppendText(b, "replica")
	b = cborx.AppendText(b, name)
	return chunks.NewChunk(b)
}

func (p *kuboPinner) writerLock(w peer.ID) *sync.Mutex {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.locks[w]
	if l == nil {
		l = &sync.Mutex{}
		p.locks[w] = l
	}
	return l
}

// load reads the replica pins a previous run left, once.
func (p *kuboPinner) load(ctx context.Context) error {
	p.mu.Lock()
	loaded := p.loaded
	p.mu.Unlock()
	if loaded {
		return nil
	}
	found, err := p.list(ctx, "")
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.loaded {
		p.loaded = true
		for w, cs := range found {
			p.pins[w] = append(p.pins[w], cs...)
		}
	}
	return nil
}

// list returns the replica pins in Kubo by writer: all of them, or only
// those of the writer whose pin name is given.
func (p *kuboPinner) list(ctx context.Context, name string) (map[peer.ID][]cid.Cid, error) {
	ch := make(chan iface.Pin)
	errc := make(chan error, 1)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts := []options.PinLsOption{options.Pin.Ls.Recursive(), options.Pin.Ls.Detailed(true)}
	if name != "" {
		// Kubo matches names by substring, and its RPC client does not
		// pass the option on: names are checked below.
		opts = append(opts, options.Pin.Ls.Name(name))
	}
	go func() {
		errc <- p.node.OfflineAPI().Pin().Ls(lctx, ch, opts...)
	}()
	found := map[peer.ID][]cid.Cid{}
	for pin := range ch {
		if name != "" && pin.Name() != name {
			continue
		}
		w, ok := strings.CutPrefix(pin.Name(), p.prefix)
		if !ok {
			continue
		}
		id, err := peer.Decode(w)
		if err != nil {
			continue
		}
		found[id] = append(found[id], pin.Path().RootCid())
	}
	if err := <-errc; err != nil {
		return nil, fmt.Errorf("cannot list replica pins: %w", err)
	}
	return found, nil
}

func (p *kuboPinner) pin(ctx context.Context, writer peer.ID, root chunks.Hash) (int64, error) {
	if err := p.load(ctx); err != nil {
		return 0, err
	}
	l := p.writerLock(writer)
	l.Lock()
	defer l.Unlock()

	name := p.prefix + writer.String()
	wrap := replicaBlock(name, root)
	to := wrap.Hash().CID()
	p.mu.Lock()
	old := append([]cid.Cid(nil), p.pins[writer]...)
	p.mu.Unlock()
	if len(old) == 1 && old[0].Equals(to) {
		return 0, nil
	}
	// The wrapper is kept by the store from the moment it exists: a GC
	// between its write and the pin below would otherwise remove it and
	// leave the pin waiting on the network for a block nobody has.
	kept, ok := p.store.(keptWriter)
	if !ok {
		return 0, fmt.Errorf("cannot write replica block: store %T cannot write kept chunks", p.store)
	}
	if err := kept.WriteKept(ctx, wrap); err != nil {
		return 0, fmt.Errorf("cannot write replica block: %w", err)
	}
	// Pin the new root before unpinning the old: no moment without a pin.
	// Not Kubo's pin update, which should walk only what changed: it pairs
	// the links of the two roots by position and recurses without a shared
	// visited set (boxo's dagutils.DiffEnumerate), so on a chain of commits
	// it walks the shared history again at every step (7.5 s against 0.2 s
	// for pin add on a 635-block database). Pin add walks the whole DAG
	// once, locally for every block the node already holds.
	api := p.node.API() // online: the pin fetches what the node lacks
	if err := api.Pin().Add(ctx, path.FromCid(to), options.Pin.Recursive(true), options.Pin.Name(name)); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("cannot pin %s: %w", to, err)
	}
	// The writer's other pins go. They are read back from Kubo rather
	// than taken from p.pins: a pin change of ours that was cancelled (a
	// newer head superseded it, or it timed out) may have been carried out
	// by the daemon all the same, which does not undo a request whose
	// client went away, and its pin would otherwise stay for good.
	if found, err := p.list(ctx, name); err == nil {
		old = found[writer]
	}
	var left []cid.Cid
	for _, c := range old {
		if c.Equals(to) {
			continue
		}
		if err := api.Pin().Rm(ctx, path.FromCid(c), options.Pin.RmRecursive(true)); err != nil {
			left = append(left, c) // keeps more than needed; tried again next time
		}
	}
	p.mu.Lock()
	p.pins[writer] = append([]cid.Cid{to}, left...)
	p.mu.Unlock()
	return p.count(ctx, root)
}

// count walks the DAG under root, now all local, and returns the bytes of
// the blocks not counted before, skipping counted subtrees. The set of
// counted hashes lives as long as the syncer.
func (p *kuboPinner) count(ctx context.Context, root chunks.Hash) (int64, error) {
	var total int64
	level := []chunks.Hash{root}
	for len(level) > 0 {
		var fresh []chunks.Hash
		p.mu.Lock()
		for _, h := range level {
			if _, ok := p.counted[h]; !ok {
				p.counted[h] = struct{}{}
				fresh = append(fresh, h)
			}
		}
		p.mu.Unlock()
		var next []chunks.Hash
		err := p.store.GetMany(ctx, fresh, func(c chunks.Chunk) error {
			total += int64(len(c.Data()))
			return dagcbor.Links(c.Data(), func(l cid.Cid) error {
				if h, err := chunks.HashFromCID(l); err == nil {
					next = append(next, h)
				}
				return nil
			})
		})
		if err != nil {
			// The pin stands; only the count falls short.
			return total, fmt.Errorf("%w: %w", errCountShort, err)
		}
		level = next
	}
	return total, nil
}
