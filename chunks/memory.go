package chunks

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/ipfs/go-cid"
)

// MemoryStorage is the shared, in-process "persistent" state behind memory
// stores: committed chunks and the root. Several MemoryStores opened on one
// MemoryStorage behave like several processes sharing one database.
type MemoryStorage struct {
	mu       sync.RWMutex
	chunks   map[Hash][]byte
	root     Hash
	watchers map[chan struct{}]struct{} // of WatchRoot, signalled on every root move
}

// NewMemoryStorage returns empty storage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{chunks: make(map[Hash][]byte)}
}

// NewStore opens a store on the storage.
func (s *MemoryStorage) NewStore() *MemoryStore {
	s.mu.RLock()
	root := s.root
	s.mu.RUnlock()
	return &MemoryStore{storage: s, pending: make(map[Hash][]byte), links: NewPendingLinks(), root: root}
}

// Len returns the number of committed chunks.
func (s *MemoryStorage) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.chunks)
}

// Add stores c as committed without moving the root, as if another store
// on the storage had put and committed it: what a node does with a chunk
// it fetched for a reader, which fakes of a network need. It checks c as
// Put does.
func (s *MemoryStorage) Add(c Chunk) error {
	if _, err := CheckPut(c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chunks[c.Hash()] = c.Data()
	return nil
}

func (s *MemoryStorage) get(h Hash) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d, ok := s.chunks[h]
	return d, ok
}

// MemoryStore is a ChunkStore held in memory: a view on a MemoryStorage
// with its own pending chunks and root, as a process has on a disk store.
type MemoryStore struct {
	storage *MemoryStorage

	mu      sync.RWMutex
	pending map[Hash][]byte
	links   *PendingLinks
	root    Hash
	closed  bool

	stats memStats
}

var (
	_ ChunkStore  = (*MemoryStore)(nil)
	_ RootWatcher = (*MemoryStore)(nil)
)

// NewMemoryStore returns a store on fresh storage of its own.
func NewMemoryStore() *MemoryStore { return NewMemoryStorage().NewStore() }

type memStats struct {
	gets, misses, hits, has, puts, bytesPut, flushes, written, commits, casFailures atomic.Int64
}

func (s *MemoryStore) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed {
		return ErrClosed
	}
	return nil
}

// Get implements ChunkStore.
func (s *MemoryStore) Get(ctx context.Context, h Hash) (Chunk, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return Chunk{}, err
	}
	return s.getLocked(h)
}

func (s *MemoryStore) getLocked(h Hash) (Chunk, error) {
	s.stats.gets.Add(1)
	if d, ok := s.pending[h]; ok {
		s.stats.hits.Add(1)
		return NewChunkWithHash(h, d), nil
	}
	d, ok := s.storage.get(h)
	if !ok {
		s.stats.misses.Add(1)
		return Chunk{}, fmt.Errorf("cannot get chunk %s: %w", h, ErrNotFound)
	}
	c := NewChunkWithHash(h, d)
	// Memory cannot be corrupted by other processes, but verifying keeps the
	// store honest to the contract every other store meets.
	if err := c.Verify(); err != nil {
		return Chunk{}, fmt.Errorf("cannot get chunk %s: %w", h, err)
	}
	return c, nil
}

// GetMany implements ChunkStore.
func (s *MemoryStore) GetMany(ctx context.Context, hashes []Hash, found func(Chunk) error) error {
	seen := make(HashSet, len(hashes))
	for _, h := range hashes {
		if seen.Has(h) {
			continue
		}
		seen.Insert(h)
		c, err := s.Get(ctx, h)
		if err == nil {
			if err := found(c); err != nil {
				return err
			}
			continue
		}
		if !isNotFound(err) {
			return err
		}
	}
	return nil
}

// Has implements ChunkStore.
func (s *MemoryStore) Has(ctx context.Context, h Hash) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return false, err
	}
	return s.hasLocked(h), nil
}

func (s *MemoryStore) hasLocked(h Hash) bool {
	s.stats.has.Add(1)
	if _, ok := s.pending[h]; ok {
		return true
	}
	_, ok := s.storage.get(h)
	return ok
}

// HasMany implements ChunkStore.
func (s *MemoryStore) HasMany(ctx context.Context, hashes []Hash) (HashSet, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	absent := HashSet{}
	for _, h := range hashes {
		if !s.hasLocked(h) {
			absent.Insert(h)
		}
	}
	return absent, nil
}

// Put implements ChunkStore.
func (s *MemoryStore) Put(ctx context.Context, c Chunk) error {
	links, err := CheckPut(c)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	s.stats.puts.Add(1)
	s.stats.bytesPut.Add(int64(c.Size()))
	s.pending[c.Hash()] = c.Data()
	s.links.Add(c.Hash(), links, s.holdsLocked)
	return nil
}

// holdsLocked reports whether l names a chunk pending or committed; the
// memory store holds nothing but chunks.
func (s *MemoryStore) holdsLocked(l cid.Cid) bool {
	h, err := HashFromCID(l)
	if err != nil {
		return false
	}
	if _, ok := s.pending[h]; ok {
		return true
	}
	_, ok := s.storage.get(h)
	return ok
}

// CheckPut applies the checks every store makes on Put: size, hash and
// DAG-CBOR validity. It returns the chunk's links.
func CheckPut(c Chunk) ([]cid.Cid, error) {
	if c.Size() > MaxChunkSize {
		return nil, fmt.Errorf("cannot put chunk %s: %w: %d bytes, limit %d", c.Hash(), ErrInvalidChunk, c.Size(), MaxChunkSize)
	}
	if err := c.Verify(); err != nil {
		return nil, fmt.Errorf("cannot put chunk: %w", err)
	}
	return Links(c)
}

// Root implements ChunkStore.
func (s *MemoryStore) Root(ctx context.Context) (Hash, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx); err != nil {
		return Hash{}, err
	}
	return s.root, nil
}

// Rebase implements ChunkStore.
func (s *MemoryStore) Rebase(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	s.storage.mu.RLock()
	s.root = s.storage.root
	s.storage.mu.RUnlock()
	return nil
}

// Commit implements ChunkStore.
func (s *MemoryStore) Commit(ctx context.Context, current, last Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	if !current.IsEmpty() && !s.hasLocked(current) {
		return fmt.Errorf("cannot commit root %s: %w", current, ErrNotFound)
	}
	// Links the walk cannot vouch for are absent here: the memory store
	// has nowhere else to look.
	walked, missing := s.links.Check(current, s.holdsLocked)
	if len(missing) > 0 {
		return &DanglingLinksError{Root: current, Missing: missing}
	}
	st := s.storage
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(s.pending) > 0 {
		for h, d := range s.pending {
			st.chunks[h] = d
		}
		s.stats.flushes.Add(1)
		s.stats.written.Add(int64(len(s.pending)))
		s.pending = make(map[Hash][]byte)
	}
	if st.root != last {
		s.root = st.root
		s.stats.casFailures.Add(1)
		return fmt.Errorf("cannot move root from %s to %s (root is %s): %w", last, current, st.root, ErrOptimisticLock)
	}
	st.root = current
	st.signalLocked()
	s.root = current
	s.links.Forget(walked)
	s.stats.commits.Add(1)
	return nil
}

// Stats implements ChunkStore.
func (s *MemoryStore) Stats() Stats {
	s.mu.RLock()
	pending := len(s.pending)
	s.mu.RUnlock()
	return Stats{
		Gets:        s.stats.gets.Load(),
		GetMisses:   s.stats.misses.Load(),
		CacheHits:   s.stats.hits.Load(),
		Has:         s.stats.has.Load(),
		Puts:        s.stats.puts.Load(),
		BytesPut:    s.stats.bytesPut.Load(),
		Pending:     int64(pending),
		Flushes:     s.stats.flushes.Load(),
		Written:     s.stats.written.Load(),
		Commits:     s.stats.commits.Load(),
		CASFailures: s.stats.casFailures.Load(),
	}
}

// Close implements ChunkStore. Uncommitted chunks are dropped.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.pending = nil
	return nil
}

// WatchRoot implements RootWatcher: every root move by any store on the
// same storage signals.
func (s *MemoryStore) WatchRoot(ctx context.Context) (<-chan struct{}, error) {
	s.mu.RLock()
	err := s.check(ctx)
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	c := make(chan struct{}, 1)
	st := s.storage
	st.mu.Lock()
	if st.watchers == nil {
		st.watchers = make(map[chan struct{}]struct{})
	}
	st.watchers[c] = struct{}{}
	st.mu.Unlock()
	go func() {
		<-ctx.Done()
		st.mu.Lock()
		delete(st.watchers, c)
		st.mu.Unlock()
		close(c) // no send can follow: sends hold st.mu and c is gone
	}()
	return c, nil
}

// signalLocked tells every watcher that the root moved. Callers hold s.mu.
func (s *MemoryStorage) signalLocked() {
	for c := range s.watchers {
		select {
		case c <- struct{}{}:
		default: // one signal is already waiting
		}
	}
}
