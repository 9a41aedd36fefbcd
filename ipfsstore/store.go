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
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
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
	// unresolved are links of put chunks to chunks neither put nor known
	// to be in the node; a root may move only once all are found.
	unresolved map[cid.Cid]struct{}
	root       chunks.Hash
	closed     bool

	commitMu sync.Mutex // one Commit or flush at a time per store
	cache    *cache

	st storeStats
}

var _ chunks.ChunkStore = (*Store)(nil)

type storeStats struct {
	gets, misses, hits, fetches, bytesRead, has, puts, bytesPut, flushes, written, commits, casFailures atomic.Int64
}

// Open opens the store whose state lives in opts.Dir on the Kubo node n. It
// makes sure the persisted root is kept from Kubo's garbage collector and
// removes what a crash may have left (see reconcileRoot). The caller keeps ownership of n.
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
		node:       n,
		be:         newBackend(n),
		rf:         rf,
		id:         st.ID,
		opts:       opts,
		log:        opts.Logger.With("store", opts.Dir),
		pending:    make(map[chunks.Hash][]byte),
		unresolved: make(map[cid.Cid]struct{}),
		root:       st.Root,
		cache:      newCache(opts.CacheBytes),
	}
	if err := s.reconcileRoot(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// legacyPinName names the recursive pin with which earlier versions kept
// the database's root.
func (s *Store) legacyPinName() string { return "noms-ipfs/" + s.id }

// reconcileRoot repairs what a crash during Commit can leave (an MFS entry
// for a root that was never persisted, or for the one before it) and makes
// sure the persisted root has its entry: after an `ipfs files rm` by hand,
// or on a store written by a version that pinned its root instead (that
// pin is removed once the entry exists).
func (s *Store) reconcileRoot(ctx context.Context) error {
	return s.rf.locked(func() error {
		st, err := s.rf.read()
		if err != nil {
			return err
		}
		dir, want := mfsDir(s.id), ""
		if !st.Root.IsEmpty() {
			want = rootEntry(st.Root)
		}
		entries, err := s.be.protected(ctx, dir)
		if err != nil {
			return err
		}
		found := false
		for _, e := range entries {
			if e == want {
				found = true
				continue
			}
			if err := s.be.unprotect(ctx, dir, e); err != nil {
				return err
			}
			s.log.Debug("removed stale root entry", "dir", dir, "entry", e)
		}
		if st.Root.IsEmpty() || found {
			return nil
		}
		if ok, err := s.be.has(ctx, HashToCID(st.Root)); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("cannot open IPFS chunk store: root %s (%s): %w", st.Root, HashToCID(st.Root), ErrWrongNode)
		}
		// Only a root without its entry can be one an earlier version
		// pinned; listing pins costs a scan of the node's whole pin set, so
		// it is not done on every open. (A crash between the protect and
		// the unpin below leaves the old pin: more data kept, nothing lost.)
		legacy, err := s.be.pinned(ctx, s.legacyPinName())
		if err != nil {
			return err
		}
		if err := s.be.protect(ctx, dir, want, rootDirNode(st.Root)); err != nil {
			return err
		}
		for _, p := range legacy {
			if err := s.be.unpin(ctx, p); err != nil {
				return err
			}
			s.log.Info("replaced the root pin of an earlier version with an MFS entry", "pin", p, "dir", dir)
		}
		return nil
	})
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
	if err := chunks.CheckPut(c); err != nil {
		return err
	}
	var links []cid.Cid
	err := dagcbor.Links(c.Data(), func(l cid.Cid) error {
		links = append(links, l)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot put chunk %s: %w: %w", c.Hash(), chunks.ErrInvalidChunk, err)
	}
	if err := s.check(ctx); err != nil {
		return err
	}
	s.st.puts.Add(1)
	s.st.bytesPut.Add(int64(c.Size()))
	s.mu.Lock()
	s.pending[c.Hash()] = c.Data()
	delete(s.unresolved, HashToCID(c.Hash()))
	for _, l := range links {
		if h, err := CIDToHash(l); err == nil {
			if _, ok := s.pending[h]; ok || s.cache.has(h) {
				continue
			}
		}
		s.unresolved[l] = struct{}{}
	}
	full := len(s.pending) >= s.opts.FlushChunks
	s.mu.Unlock()
	if full {
		return s.Flush(ctx)
	}
	return nil
}

// resolveLinks checks that every link of the chunks put so far reaches a
// chunk that is pending or in the node, so that a committed root never
// links new chunks to a hole (as Noms' stores refuse dangling refs). It
// returns the links it found, to be forgotten once the root has moved.
func (s *Store) resolveLinks(ctx context.Context) ([]cid.Cid, error) {
	s.mu.RLock()
	var ask, all []cid.Cid
	for l := range s.unresolved {
		all = append(all, l)
		if h, err := CIDToHash(l); err == nil {
			if _, ok := s.pending[h]; ok || s.cache.has(h) {
				continue
			}
		}
		ask = append(ask, l)
	}
	s.mu.RUnlock()
	var mu sync.Mutex
	var missing []cid.Cid
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(hasConcurrency)
	for _, l := range ask {
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
		return nil, fmt.Errorf("%d linked chunks are neither put nor in the node, e.g. %s: %w", len(missing), missing[0], chunks.ErrNotFound)
	}
	return all, nil
}

// Flush writes every pending chunk to the node without moving the root.
// Until a Commit makes a root that reaches them, the node's garbage
// collector may remove them.
func (s *Store) Flush(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	return s.writeBatches(ctx, s.pendingBlocks())
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

// Commit implements chunks.ChunkStore. Pending chunks are written first,
// then, under a lock shared with every process on the same state directory:
// the new root gets its MFS entry (so it and all below it that the node
// holds survive a garbage collection), pending chunks are written top down
// from it, the root file is replaced atomically, and only then the old
// root's entry removed. A crash at any step leaves the last committed root
// readable and protected; the next Open removes a leftover entry.
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
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	var resolved []cid.Cid
	if current != last {
		var err error
		if resolved, err = s.resolveLinks(ctx); err != nil {
			return fmt.Errorf("cannot commit root %s: %w", current, err)
		}
	}
	blks := s.pendingBlocks()
	var persisted chunks.Hash
	err := s.rf.locked(func() error {
		st, err := s.rf.read()
		if err != nil {
			return err
		}
		persisted = st.Root
		if st.Root != last {
			// Lost the race: the chunks still become durable, as promised.
			if err := s.writeBatches(ctx, blks); err != nil {
				return err
			}
			return chunks.ErrOptimisticLock
		}
		if current == last {
			return s.writeBatches(ctx, blks)
		}
		dir := mfsDir(s.id)
		if !current.IsEmpty() {
			if err := s.be.protect(ctx, dir, rootEntry(current), rootDirNode(current)); err != nil {
				return err
			}
		}
		if err := s.writeBatches(ctx, topDown(HashToCID(current), blks)); err != nil {
			return err
		}
		st.Root = current
		if err := s.rf.write(st); err != nil {
			return err
		}
		persisted = current
		if !last.IsEmpty() {
			// The new root is durable; failing to drop the old entry only
			// keeps more data than needed until the next Open.
			if err := s.be.unprotect(ctx, dir, rootEntry(last)); err != nil {
				s.log.Warn("cannot remove the previous root's MFS entry", "root", last, "err", err)
			}
		}
		return nil
	})
	if err == nil && len(resolved) > 0 {
		s.mu.Lock()
		for _, l := range resolved {
			delete(s.unresolved, l)
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	if err == nil || errors.Is(err, chunks.ErrOptimisticLock) {
		s.root = persisted
	}
	s.mu.Unlock()
	switch {
	case err == nil:
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
