// Package ipfsstore is the chunks.ChunkStore on a Kubo node, reached over
// its RPC API or embedded in the process (package ipfsnode): every chunk is
// a block whose CID is derived from the chunk's hash (HashToCID), so `ipfs
// dag get` shows the data and any peer can fetch it over bitswap.
//
// It owns the way to Kubo and back: batched CAR writes (dag/import),
// verified reads with a bounded cache and a bounded wait on the network,
// the root with compare-and-swap in a local state directory (shared by
// every process that opens it), and the keep (keep.go): a pinned tree that
// names every chunk the database wrote, pinned before the chunks exist, so
// that no `ipfs repo gc`, however it interleaves with writes, removes one.
// Chunks of other writers that it read are the node's cache: a replica
// keeps those (package syncer, replicate mode).
//
//	n, _ := ipfsnode.Connect(ctx, "")           // the daemon of $IPFS_PATH
//	s, _ := ipfsstore.Open(ctx, n, ipfsstore.Options{Dir: dir})
//	_ = s.Put(ctx, c)
//	_ = s.Commit(ctx, c.Hash(), chunks.Hash{}) // ErrOptimisticLock if another writer won
//
// It does not know what chunks mean: values, commits and datasets are the
// data model's (packages value, prolly, db).
package ipfsstore
