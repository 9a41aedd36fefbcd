package ipfsstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"golang.org/x/sync/errgroup"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// Options configure a Store.
type Options struct {
	// Dir holds the store's local state: the root file and its lock.
	// Stores of several processes may share one Dir and one Kubo node.
	Dir string
	// CacheBytes bounds the memory of the read cache. Default 64 MiB.
	CacheBytes int64
	// FetchTimeout bounds how long Get waits for a chunk that the local
	// node lacks to arrive from other peers before reporting ErrNotFound.
	// Default 30 s; negative means never ask the network.
	FetchTimeout time.Duration
	// FlushChunks is how many put chunks Put keeps in memory before it
	// writes them to the node. Default 8192.
	FlushChunks int
	// Logger receives debug logs; default slog.Default().
	Logger *slog.Logger
}

const (
	defaultCacheBytes   = 64 << 20
	defaultFetchTimeout = 30 * time.Second
	defaultFlushChunks  = 8192
	// hasConcurrency is how many presence checks run at once against a
	// daemon; 16-32 keep-alive requests saturate Kubo's RPC on 2 cores.
	hasConcurrency = 32
	// undoTimeout bounds the clean-up of a failed write.
	undoTimeout = 10 * time.Second
	// retireBatch is how many replaced keep pins wait before they are
	// unpinned together.
	retireBatch = 16
)

// Store is a chunks.ChunkStore whose chunks are blocks in a Kubo node.
type Store struct {
	node *ipfsnode.Node
	be   backend
	rf   *rootFile
	id   string
	opts Options
	log  *slog.Logger

	mu      sync.RWMutex
	pending map[chunks.Hash][]byte // put, not yet written to the node
	links   *chunks.PendingLinks   // links of put chunks that Commit must check
	root    chunks.Hash
	closed  bool

	// writeMu serialises this store's writes (they also hold the state
	// directory's lock, shared with other processes) and guards keep.
	writeMu sync.Mutex
	keep    keptRoot
	cache   *cache

	st storeStats

	// crashAt, set by tests, stops a write dead after the named step, as
	// if the process had died there: no undo, no clean-up.
	crashAt func(step string) bool
}

// errCrashed is what a write stopped by crashAt returns.
var errCrashed = errors.New("simulated crash")

func (s *Store) crashed(step string) bool { return s.crashAt != nil && s.crashAt(step) }

// keptRoot is the last keep root this store read or wrote, so that a
// write does not read it back from the node when no other process moved it.
type keptRoot struct {
	cid  cid.Cid
	root *keepRoot
}

var _ chunks.ChunkStore = (*Store)(nil)

type storeStats struct {
	gets, misses, hits, fetches, bytesRead, has, puts, bytesPut, flushes, written, commits, casFailures atomic.Int64
}

// Open opens the store whose state lives in opts.Dir on the Kubo node n. It
// finishes or undoes what a write that died half way left (see recover),
// converts stores of earlier versions, and makes sure the database's keep
// root is pinned. The caller keeps ownership of n.
func Open(ctx context.Context, n *ipfsnode.Node, opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("cannot open IPFS chunk store: no state directory")
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = defaultCacheBytes
	}
	if opts.FetchTimeout == 0 {
		opts.FetchTimeout = defaultFetchTimeout
	}
	if opts.FlushChunks <= 0 {
		opts.FlushChunks = defaultFlushChunks
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	rf, st, err := openRootFile(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("cannot open IPFS chunk store: %w", err)
	}
	s := &Store{
		node:    n,
		be:      newBackend(n),
		rf:      rf,
		id:      st.ID,
		opts:    opts,
		log:     opts.Logger.With("store", opts.Dir),
		pending: make(map[chunks.Hash][]byte),
		links:   chunks.NewPendingLinks(),
		root:    st.Root,
		cache:   newCache(opts.CacheBytes),
	}
	if err := s.rf.locked(func() error { return s.recover(ctx) }); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("cannot open IPFS chunk store %s: %w", opts.Dir, err)
	}
	return s, nil
}

// Node returns the Kubo node the store uses.
func (s *Store) Node() *ipfsnode.Node { return s.node }

func (s *Store) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return chunks.ErrClosed
	}
	return nil
}

// Get implements chunks.ChunkStore. A chunk the local node lacks is asked
// of the network for up to Options.FetchTimeout. Data from the node is
// verified against its hash: Kubo does not re-hash blocks it reads from its
// own disk.
func (s *Store) Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error) {
	if err := s.check(ctx); err != nil {
		return chunks.Chunk{}, err
	}
	s.st.gets.Add(1)
	if d, ok := s.memory(h); ok {
		s.st.hits.Add(1)
		return chunks.NewChunkWithHash(h, d), nil
	}
	if h.IsEmpty() {
		s.st.misses.Add(1)
		return chunks.Chunk{}, fmt.Errorf("cannot get chunk: the zero hash names no chunk: %w", chunks.ErrNotFound)
	}
	d, err := s.read(ctx, h)
	if err != nil {
		if errors.Is(err, chunks.ErrNotFound) {
			s.st.misses.Add(1)
		}
		return chunks.Chunk{}, err
	}
	return chunks.NewChunkWithHash(h, d), nil
}

// memory returns h's data from the pending batch or the cache.
func (s *Store) memory(h chunks.Hash) ([]byte, bool) {
	s.mu.RLock()
	d, ok := s.pending[h]
	s.mu.RUnlock()
	if ok {
		return d, true
	}
	return s.cache.get(h)
}

// read fetches h from the node (then the network), verifies and caches it.
func (s *Store) read(ctx context.Context, h chunks.Hash) ([]byte, error) {
	c := HashToCID(h)
	d, err := s.be.getLocal(ctx, c)
	if err != nil && isNotFound(err) && s.opts.FetchTimeout > 0 {
		fctx, cancel := context.WithTimeout(ctx, s.opts.FetchTimeout)
		start := time.Now()
		d, err = s.be.fetch(fctx, c)
		timedOut := err != nil && ctx.Err() == nil && errors.Is(fctx.Err(), context.DeadlineExceeded)
		cancel()
		s.st.fetches.Add(1)
		s.log.Debug("chunk fetched from the network", "hash", h, "took", time.Since(start), "err", err)
		if timedOut {
			return nil, fmt.Errorf("cannot get chunk %s (%s): not in the node, nor found on the network within %s: %w", h, c, s.opts.FetchTimeout, chunks.ErrNotFound)
		}
	}
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("cannot get chunk %s (%s): %w", h, c, chunks.ErrNotFound)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("cannot get chunk %s (%s): %w", h, c, err)
	}
	if err := chunks.NewChunkWithHash(h, d).Verify(); err != nil {
		return nil, fmt.Errorf("cannot get chunk %s (%s): %w", h, c, err)
	}
	s.st.bytesRead.Add(int64(len(d)))
	s.cache.add(h, d)
	return d, nil
}

// GetMany implements chunks.ChunkStore, fetching up to 16 chunks at once.
func (s *Store) GetMany(ctx context.Context, hashes []chunks.Hash, found func(chunks.Chunk) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var mu sync.Mutex
	var stopped error // once found fails, it is not called again
	deliver := func(c chunks.Chunk) error {
		mu.Lock()
		defer mu.Unlock()
		if stopped == nil {
			stopped = found(c)
		}
		return stopped
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	seen := make(chunks.HashSet, len(hashes))
	for _, h := range hashes {
		if seen.Has(h) {
			continue
		}
		seen.Insert(h)
		s.st.gets.Add(1)
		if d, ok := s.memory(h); ok {
			s.st.hits.Add(1)
			if err := deliver(chunks.NewChunkWithHash(h, d)); err != nil {
				_ = g.Wait()
				return err
			}
			continue
		}
		g.Go(func() error {
			d, err := s.read(gctx, h)
			if errors.Is(err, chunks.ErrNotFound) {
				s.st.misses.Add(1)
				return nil
			}
			if err != nil {
				return err
			}
			return deliver(chunks.NewChunkWithHash(h, d))
		})
	}
	return g.Wait()
}

// Has implements chunks.ChunkStore; it asks only the local node.
func (s *Store) Has(ctx context.Context, h chunks.Hash) (bool, error) {
	absent, err := s.HasMany(ctx, []chunks.Hash{h})
	if err != nil {
		return false, err
	}
	return !absent.Has(h), nil
}

// HasMany implements chunks.ChunkStore. Hashes known from this store's own
// writes and reads are answered from memory; the rest are asked of the
// local node only, concurrently.
func (s *Store) HasMany(ctx context.Context, hashes []chunks.Hash) (chunks.HashSet, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.st.has.Add(int64(len(hashes)))
	absent := chunks.HashSet{}
	var ask []chunks.Hash
	s.mu.RLock()
	for _, h := range hashes {
		if _, ok := s.pending[h]; ok {
			continue
		}
		if !h.IsEmpty() && s.cache.has(h) {
			continue
		}
		if !absent.Has(h) {
			absent.Insert(h)
			ask = append(ask, h)
		}
	}
	s.mu.RUnlock()
	if len(ask) == 0 {
		return absent, nil
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(hasConcurrency)
	for _, h := range ask {
		if h.IsEmpty() {
			continue // the zero hash names no chunk
		}
		g.Go(func() error {
			ok, err := s.be.has(gctx, HashToCID(h))
			if err != nil {
				return fmt.Errorf("cannot check chunk %s: %w", h, err)
			}
			if ok {
				s.cache.add(h, nil)
				mu.Lock()
				delete(absent, h)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, err
	}
	return absent, nil
}

// Put implements chunks.ChunkStore. Chunks must be valid DAG-CBOR, the
// format every chunk has so IPFS can follow the links between them. Put
// queues; once Options.FlushChunks are queued it writes them to the node.
func (s *Store) Put(ctx context.Context, c chunks.Chunk) error {
	links, err := chunks.CheckPut(c)
	if err != nil {
		return err
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	s.st.puts.Add(1)
	s.st.bytesPut.Add(int64(c.Size()))
	s.mu.Lock()
	s.pending[c.Hash()] = c.Data()
	full := len(s.pending) >= s.opts.FlushChunks
	s.mu.Unlock()
	s.links.Add(c.Hash(), links, s.known)
	if full {
		return s.Flush(ctx)
	}
	return nil
}

// known reports whether l names a chunk pending here or known to be in the
// node: written by this store (and kept), or seen there.
func (s *Store) known(l cid.Cid) bool {
	h, err := CIDToHash(l)
	if err != nil {
		return false
	}
	s.mu.RLock()
	_, ok := s.pending[h]
	s.mu.RUnlock()
	return ok || s.cache.has(h)
}

// checkLinks makes the dangling-link check of Commit: every link that root
// reaches through chunks put here names a chunk pending, known, or found in
// the node now. It returns the chunks walked, to forget once root is
// committed.
func (s *Store) checkLinks(ctx context.Context, root chunks.Hash) ([]chunks.Hash, error) {
	walked, unknown := s.links.Check(root, s.known)
	if len(unknown) == 0 {
		return walked, nil
	}
	var mu sync.Mutex
	var missing []cid.Cid
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(hasConcurrency)
	for _, l := range unknown {
		g.Go(func() error {
			ok, err := s.be.has(gctx, l)
			if err != nil {
				return fmt.Errorf("cannot check link %s: %w", l, err)
			}
			if h, err := CIDToHash(l); ok && err == nil {
				s.cache.add(h, nil)
			}
			if !ok {
				mu.Lock()
				missing = append(missing, l)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		return nil, &chunks.DanglingLinksError{Root: root, Missing: missing}
	}
	return walked, nil
}

// Flush writes every pending chunk to the node, kept like committed ones,
// without moving the root.
func (s *Store) Flush(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.rf.locked(func() error {
		blks := s.pendingBlocks()
		if len(blks) == 0 {
			return nil
		}
		st, err := s.rf.read()
		if err != nil {
			return err
		}
		return s.persist(ctx, st, blks)
	})
}

// WriteKept writes cs to the node at once, kept like committed chunks,
// without a Commit and without checking their links: for blocks that are
// not database roots but must outlive a garbage collection from the moment
// they exist, such as a replica's pin wrapper (package syncer).
func (s *Store) WriteKept(ctx context.Context, cs ...chunks.Chunk) error {
	blks := make([]blocks.Block, 0, len(cs))
	for _, c := range cs {
		if _, err := chunks.CheckPut(c); err != nil {
			return err
		}
		b, _ := blocks.NewBlockWithCid(c.Data(), HashToCID(c.Hash()))
		blks = append(blks, b)
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.rf.locked(func() error {
		st, err := s.rf.read()
		if err != nil {
			return err
		}
		return s.persist(ctx, st, blks)
	})
}

// pendingBlocks returns the pending chunks as blocks. They stay pending
// (readable) until written.
func (s *Store) pendingBlocks() []blocks.Block {
	s.mu.RLock()
	defer s.mu.RUnlock()
	blks := make([]blocks.Block, 0, len(s.pending))
	for h, d := range s.pending {
		b, _ := blocks.NewBlockWithCid(d, HashToCID(h))
		blks = append(blks, b)
	}
	return blks
}

// persist writes blks, then st to the root file with the keep root that
// names blks too, in the order keep.go explains: pin the new keep root,
// write the blocks, replace the root file. The keep root it replaces is
// retired, not unpinned at once: it names a subset of the new one, so it
// can wait to be unpinned with others (one request per retireBatch writes
// instead of one per write). A keep intent lists the new pins on the way,
// so that the next Open can undo a write that dies half way. Callers hold
// writeMu and the directory lock.
func (s *Store) persist(ctx context.Context, st rootState, blks []blocks.Block) error {
	if len(blks) == 0 {
		return s.rf.write(st)
	}
	old := st.Keep
	kr, err := s.keepRoot(ctx, old)
	if err != nil {
		return err
	}
	hs := make([]chunks.Hash, len(blks))
	for i, b := range blks {
		hs[i], _ = CIDToHash(b.Cid())
	}
	// A write of another process that died here left its intent (a live
	// one would hold the lock): undo it before this one writes its own.
	if err := s.undoDeadWrite(ctx, st); err != nil {
		return err
	}
	next, frozen := kr.add(hs)
	nb := next.block()
	pins := append(frozen, nb)
	in := keepIntent{Pins: make([]cid.Cid, len(pins))}
	for i, p := range pins {
		in.Pins[i] = p.Cid()
	}
	if err := s.rf.writeIntent(in); err != nil {
		return err
	}
	if s.crashed("intent") {
		return errCrashed
	}
	undo := func(err error) error {
		s.undoPins(ctx, in.Pins)
		return err
	}
	if err := s.be.pinBlocks(ctx, s.pinName(), pins); err != nil {
		return undo(err)
	}
	if s.crashed("pinned") {
		return errCrashed
	}
	if err := s.writeBatches(ctx, blks); err != nil {
		return undo(err)
	}
	if s.crashed("written") {
		return errCrashed
	}
	if len(st.Retired) >= retireBatch {
		// Should this fail, they stay listed and are tried again.
		if err := s.be.unpin(ctx, st.Retired); err != nil {
			s.log.Warn("cannot unpin retired keep roots", "count", len(st.Retired), "err", err)
		} else {
			st.Retired = nil
		}
	}
	st.Keep = nb.Cid()
	// The frozen nodes were pinned only until a root linking them was.
	st.Retired = append(st.Retired, in.Pins[:len(frozen)]...)
	if old.Defined() {
		st.Retired = append(st.Retired, old)
	}
	if err := s.rf.write(st); err != nil {
		return undo(err)
	}
	s.keep = keptRoot{cid: nb.Cid(), root: next}
	if s.crashed("recorded") {
		return errCrashed
	}
	if err := s.rf.clearIntent(); err != nil {
		s.log.Warn("cannot clear the keep intent", "err", err)
	}
	return nil
}

// undoPins drops the pins of a write that failed, except the keep root the
// root file names, with a fresh deadline (the failure is often the
// caller's context ending). What it cannot drop the next Open will.
func (s *Store) undoPins(ctx context.Context, pins []cid.Cid) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
	defer cancel()
	if err := s.dropPinsBut(ctx, pins); err != nil {
		s.log.Warn("cannot undo the pins of a failed write; the next open will", "err", err)
		return
	}
	if err := s.rf.clearIntent(); err != nil {
		s.log.Warn("cannot clear the keep intent", "err", err)
	}
}

// dropPinsBut unpins pins except the keep root the root file names now.
func (s *Store) dropPinsBut(ctx context.Context, pins []cid.Cid) error {
	st, err := s.rf.read()
	if err != nil {
		return err
	}
	drop := make([]cid.Cid, 0, len(pins))
	for _, p := range pins {
		if !p.Equals(st.Keep) {
			drop = append(drop, p)
		}
	}
	return s.be.unpin(ctx, drop)
}

// pinName labels keep pins where the backend can name them.
func (s *Store) pinName() string { return "noms-ipfs/" + s.id + "/keep" }

// keepRoot returns the decoded keep root c (an empty one when c is
// undefined), from memory when this store wrote or read it last.
func (s *Store) keepRoot(ctx context.Context, c cid.Cid) (*keepRoot, error) {
	if !c.Defined() {
		return &keepRoot{db: s.id}, nil
	}
	if s.keep.root != nil && s.keep.cid.Equals(c) {
		return s.keep.root, nil
	}
	d, err := s.be.getLocal(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("cannot read keep root %s: %w", c, err)
	}
	nd, err := decodeKeepNode(d)
	if err != nil {
		return nil, fmt.Errorf("cannot read keep root %s: %w", c, err)
	}
	if nd.kind != kindRoot || nd.db != s.id {
		return nil, fmt.Errorf("cannot read keep root %s: a %s node of database %q, want the root of %q", c, nd.kind, nd.db, s.id)
	}
	s.keep = keptRoot{cid: c, root: nd.root}
	return nd.root, nil
}

// writeBatches writes blks in batches of the backend's size. Each written
// batch leaves pending.
func (s *Store) writeBatches(ctx context.Context, blks []blocks.Block) error {
	n := s.be.batchSize()
	for len(blks) > 0 {
		batch := blks[:min(n, len(blks))]
		blks = blks[len(batch):]
		if err := s.be.write(ctx, batch); err != nil {
			return err
		}
		s.written(batch)
	}
	return nil
}

// written moves a written batch from pending to the cache.
func (s *Store) written(batch []blocks.Block) {
	if len(batch) == 0 {
		return
	}
	s.st.flushes.Add(1)
	s.st.written.Add(int64(len(batch)))
	s.mu.Lock()
	for _, b := range batch {
		h, _ := CIDToHash(b.Cid())
		delete(s.pending, h)
	}
	s.mu.Unlock()
	for _, b := range batch {
		h, _ := CIDToHash(b.Cid())
		s.cache.add(h, b.RawData())
	}
}

// Root implements chunks.ChunkStore.
func (s *Store) Root(ctx context.Context) (chunks.Hash, error) {
	if err := s.check(ctx); err != nil {
		return chunks.Hash{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.root, nil
}

// Rebase implements chunks.ChunkStore.
func (s *Store) Rebase(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	st, err := s.rf.read()
	if err != nil {
		return fmt.Errorf("cannot rebase: %w", err)
	}
	s.mu.Lock()
	s.root = st.Root
	s.mu.Unlock()
	return nil
}

// Commit implements chunks.ChunkStore. The links current reaches through
// chunks put here are checked first; then, under a lock shared with every
// process on the same state directory, the pending chunks are written kept
// (see persist) and the root file is replaced atomically with the new root.
// A crash at any step leaves the last committed root readable, and every
// chunk written so far kept.
func (s *Store) Commit(ctx context.Context, current, last chunks.Hash) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if !current.IsEmpty() {
		ok, err := s.Has(ctx, current)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("cannot commit root %s: %w", current, chunks.ErrNotFound)
		}
	}
	walked, err := s.checkLinks(ctx, current)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var persisted chunks.Hash
	err = s.rf.locked(func() error {
		st, err := s.rf.read()
		if err != nil {
			return err
		}
		persisted = st.Root
		blks := s.pendingBlocks()
		if st.Root != last {
			// Lost the race: the chunks still become durable, as promised.
			if len(blks) > 0 {
				if err := s.persist(ctx, st, blks); err != nil {
					return err
				}
			}
			return chunks.ErrOptimisticLock
		}
		if current == last && len(blks) == 0 {
			return nil
		}
		st.Root = current
		if err := s.persist(ctx, st, blks); err != nil {
			return err
		}
		persisted = current
		return nil
	})
	s.mu.Lock()
	if err == nil || errors.Is(err, chunks.ErrOptimisticLock) {
		s.root = persisted
	}
	s.mu.Unlock()
	switch {
	case err == nil:
		s.links.Forget(walked)
		s.st.commits.Add(1)
		return nil
	case errors.Is(err, chunks.ErrOptimisticLock):
		s.st.casFailures.Add(1)
		return fmt.Errorf("cannot move root from %s to %s (root is %s): %w", last, current, persisted, chunks.ErrOptimisticLock)
	default:
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if isNotFound(err) && !errors.Is(err, chunks.ErrNotFound) {
			err = fmt.Errorf("%w: %w", chunks.ErrNotFound, err)
		}
		return fmt.Errorf("cannot commit root %s: %w", current, err)
	}
}

// KeepCheck is what CheckKept found.
type KeepCheck struct {
	Named   int           // distinct chunks the keep names
	Missing []chunks.Hash // of those, the ones the node lacks
}

// CheckKept reads the whole keep and asks the node, without the network,
// for every chunk it names: after any garbage collection none may be
// missing (unless removed by hand with ipfs block rm). Cost: one presence
// check per chunk the database ever wrote.
func (s *Store) CheckKept(ctx context.Context) (KeepCheck, error) {
	if err := s.check(ctx); err != nil {
		return KeepCheck{}, err
	}
	// The names are read under the lock, so no write retires (and a GC
	// removes) a keep node half way through the walk.
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	named := chunks.HashSet{}
	var walk func(c cid.Cid) error
	walk = func(c cid.Cid) error {
		d, err := s.be.getLocal(ctx, c)
		if err != nil {
			return fmt.Errorf("cannot read keep node %s: %w", c, err)
		}
		nd, err := decodeKeepNode(d)
		if err != nil {
			return fmt.Errorf("cannot read keep node %s: %w", c, err)
		}
		switch nd.kind {
		case kindRoot:
			for _, h := range nd.root.tail {
				named.Insert(h)
			}
			for _, level := range nd.root.levels {
				for _, l := range level {
					if err := walk(l); err != nil {
						return err
					}
				}
			}
		case kindLeaf:
			for _, l := range nd.links {
				h, err := hashOfRaw(l)
				if err != nil {
					return err
				}
				named.Insert(h)
			}
		case kindLevel:
			for _, l := range nd.links {
				if err := walk(l); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := s.rf.locked(func() error {
		st, err := s.rf.read()
		if err != nil || !st.Keep.Defined() {
			return err
		}
		return walk(st.Keep)
	}); err != nil {
		return KeepCheck{}, err
	}
	all := make([]chunks.Hash, 0, len(named))
	for h := range named {
		all = append(all, h)
	}
	var mu sync.Mutex
	out := KeepCheck{Named: len(all)}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(hasConcurrency)
	for _, h := range all {
		g.Go(func() error {
			ok, err := s.be.has(gctx, HashToCID(h))
			if err != nil {
				return fmt.Errorf("cannot check chunk %s: %w", h, err)
			}
			if !ok {
				mu.Lock()
				out.Missing = append(out.Missing, h)
				mu.Unlock()
			}
			return nil
		})
	}
	return out, g.Wait()
}

// KeepInfo says how a store's chunks are kept from Kubo's garbage collector.
type KeepInfo struct {
	// Root is the pinned keep root (keep.go); undefined before the first write.
	Root cid.Cid
	// Chunks counts the chunk names added to it over time, repeats included.
	Chunks uint64
}

// Keep returns the database's current keep root, as the root file names it.
func (s *Store) Keep(ctx context.Context) (KeepInfo, error) {
	if err := s.check(ctx); err != nil {
		return KeepInfo{}, err
	}
	st, err := s.rf.read()
	if err != nil {
		return KeepInfo{}, err
	}
	if !st.Keep.Defined() {
		return KeepInfo{}, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	kr, err := s.keepRoot(ctx, st.Keep)
	if err != nil {
		return KeepInfo{}, err
	}
	return KeepInfo{Root: st.Keep, Chunks: kr.count}, nil
}

// Stats implements chunks.ChunkStore.
func (s *Store) Stats() chunks.Stats {
	s.mu.RLock()
	pending := len(s.pending)
	s.mu.RUnlock()
	return chunks.Stats{
		Gets:        s.st.gets.Load(),
		GetMisses:   s.st.misses.Load(),
		CacheHits:   s.st.hits.Load(),
		BytesRead:   s.st.bytesRead.Load(),
		Fetches:     s.st.fetches.Load(),
		Has:         s.st.has.Load(),
		Puts:        s.st.puts.Load(),
		BytesPut:    s.st.bytesPut.Load(),
		Pending:     int64(pending),
		Flushes:     s.st.flushes.Load(),
		Written:     s.st.written.Load(),
		Commits:     s.st.commits.Load(),
		CASFailures: s.st.casFailures.Load(),
	}
}

// CacheBytes returns the memory the read cache holds.
func (s *Store) CacheBytes() int64 { return s.cache.bytes() }

// Close implements chunks.ChunkStore. Pending chunks are dropped; the Kubo
// node stays open (its owner closes it).
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.pending = nil
	return nil
}
