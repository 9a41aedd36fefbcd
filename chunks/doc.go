// Package chunks defines the unit of storage of noms-ipfs, the Chunk (bytes
// addressed by their 20-byte SHA-512 hash), and the ChunkStore contract that
// every storage backend meets: immutable chunks plus one root moved by
// compare-and-swap. It also holds an in-memory store.
//
// It knows nothing of values or the network: the data model builds on it, and
// package ipfsstore implements it on Kubo. It does name each chunk by a CID
// (Hash.CID), because chunks link to each other by CID so that IPFS can
// follow the links. The single definition of
// what a ChunkStore must do is the conformance suite in chunks/chunkstest,
// which every implementation runs.
//
//	s := chunks.NewMemoryStore()
//	c := chunks.NewChunk(data)
//	_ = s.Put(ctx, c)
//	_ = s.Commit(ctx, c.Hash(), chunks.Hash{}) // ErrOptimisticLock if another writer won
package chunks
