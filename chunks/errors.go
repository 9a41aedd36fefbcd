package chunks

import "errors"

// ErrNotFound is returned by Get when the store has no chunk with the hash.
var ErrNotFound = errors.New("chunk not found")

// ErrOptimisticLock is returned by Commit when the persisted root is no longer
// the caller's last root: another writer moved it. Rebase and retry.
var ErrOptimisticLock = errors.New("root moved by another writer (optimistic lock failed)")

// ErrInvalidHash is returned when text or bytes do not form a chunk hash.
var ErrInvalidHash = errors.New("invalid chunk hash")

// ErrInvalidChunk is returned when a chunk's bytes are refused: not a valid
// document for the store, or larger than MaxChunkSize.
var ErrInvalidChunk = errors.New("invalid chunk")

// ErrHashMismatch is returned when data read from a store does not hash to
// the hash it was stored under: the data is corrupt.
var ErrHashMismatch = errors.New("chunk data does not match its hash")

// ErrClosed is returned by any call on a store after Close.
var ErrClosed = errors.New("chunk store is closed")

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// ErrForeignCID is returned when a CID is not of the form chunks are named by
// (CIDv1, dag-cbor, sha2-512 truncated to 20 bytes).
var ErrForeignCID = errors.New("CID is not a noms-ipfs chunk CID")
