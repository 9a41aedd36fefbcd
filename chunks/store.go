package chunks

import "context"

// ChunkStore is the contract every chunk store meets. It holds immutable
// chunks addressed by hash, plus one mutable cell, the root, moved only by
// compare-and-swap. All methods are safe for concurrent use, except Close,
// which must not race with other calls. Every method that may do I/O takes a
// context and honours its cancellation.
type ChunkStore interface {
	// Get returns the chunk with hash h, or an error wrapping ErrNotFound.
	// A chunk read from storage that crossed a trust boundary (the network,
	// another process's files) is verified against h first: on mismatch the
	// error wraps ErrHashMismatch.
	Get(ctx context.Context, h Hash) (Chunk, error)

	// GetMany calls found once for each distinct hash in hashes whose chunk
	// the store has; absent hashes are skipped silently, duplicates are
	// fetched once. Calls to found are serialised but come in no particular
	// order. An error from found stops the call and is returned.
	GetMany(ctx context.Context, hashes []Hash, found func(Chunk) error) error

	// Has reports whether the store holds the chunk with hash h. It answers
	// from local state and never waits on the network.
	Has(ctx context.Context, h Hash) (bool, error)

	// HasMany returns the set of hashes among hashes that the store does not
	// hold (duplicates allowed in the input). Like Has it never waits on the
	// network.
	HasMany(ctx context.Context, hashes []Hash) (absent HashSet, err error)

	// Put adds c to the store. It is visible to Get and Has on this store as
	// soon as Put returns, but durable only after the next successful
	// Commit. Chunks whose bytes do not match their hash, that are larger than
	// MaxChunkSize, or that are not valid DAG-CBOR (the one format of chunks,
	// so that IPFS can follow their links) are refused with an error
	// wrapping ErrHashMismatch or ErrInvalidChunk. A chunk may link to chunks
	// not put yet; Commit checks the links (see there).
	Put(ctx context.Context, c Chunk) error

	// Root returns the root as of opening the store, the last Rebase, or the
	// last Commit through this store, whichever is latest. The zero Hash
	// means an empty database.
	Root(ctx context.Context) (Hash, error)

	// Rebase brings Root up to date with the persisted root, which another
	// store on the same storage may have moved.
	Rebase(ctx context.Context) error

	// Commit makes every chunk put so far durable, then moves the persisted
	// root from last to current in one atomic step. If the persisted root is
	// no longer last, the chunks stay durable, the root is not moved, the
	// store is rebased onto the persisted root, and the error wraps
	// ErrOptimisticLock. Commit(ctx, r, r) with r == Root persists pending
	// chunks without moving the root. A non-zero current must be a chunk the
	// store holds (else the error wraps ErrNotFound), so a root never points
	// at missing data; likewise every link that current reaches through
	// chunks put since they were last committed must name a chunk the store
	// holds or has pending, else the commit is refused with an error
	// wrapping ErrNotFound, nothing moves, and the store stays usable: other
	// roots commit as before, and the same root commits once the missing
	// chunks are put.
	Commit(ctx context.Context, current, last Hash) error

	// Stats returns counters of the work the store has done since it opened.
	Stats() Stats

	// Close releases the store's resources; chunks put and not committed
	// may be lost. After Close every method fails with ErrClosed.
	Close() error
}

// Stats counts a store's work. Stores fill in what applies to them.
type Stats struct {
	Gets        int64 // chunks requested through Get and GetMany
	GetMisses   int64 // requested chunks that were absent
	CacheHits   int64 // requested chunks served from memory (pending or read cache)
	BytesRead   int64 // bytes of chunks read from the backing storage
	Fetches     int64 // chunks asked of other peers because the backing storage lacked them
	Has         int64 // hashes asked about through Has and HasMany
	Puts        int64 // chunks accepted by Put (including duplicates)
	BytesPut    int64 // bytes accepted by Put
	Pending     int64 // chunks put and not yet durable
	Flushes     int64 // batches written to the backing storage
	Written     int64 // chunks written to the backing storage
	Commits     int64 // successful root moves (including no-op ones)
	CASFailures int64 // Commits refused with ErrOptimisticLock
}
