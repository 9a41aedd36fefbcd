// Package prolly owns the content-defined, history-independent search
// trees ("prolly trees") that hold the collections of noms-ipfs: Maps and
// Sets ordered by key, Lists and Blobs indexed by position. Each node is
// one chunk, a DAG-CBOR array [level, entries] (see docs/datamodel.md),
// so trees are IPFS DAGs whose links IPFS can follow.
//
// Where a node ends is decided by the entries themselves (a hash of each
// key, item or child link, weighed by the node's size; a rolling hash over
// blob bytes), never by the order of the edits that produced them: the
// same contents always give the same nodes and the same root hash. Edits
// (Apply, Splice, SpliceBlob) re-chunk only around what changed, so one
// edit rewrites about one node per level; Diff skips identical subtrees
// without reading them.
//
// prolly does not know what entries mean. They are opaque byte slices,
// each a single strict DAG-CBOR data item produced by the caller (package
// value), embedded in nodes as they are; ordered trees are sorted by the
// caller's Compare. Encoding values, the total order of values, and what a
// collection's root is wrapped in are package value's business; storing
// and moving chunks is package chunks' (and ipfsstore's). Parameters of
// the chunking are in config.go: they are part of the format.
//
//	b := prolly.NewBuilder(ctx, store, prolly.MapShape, value.CompareEncoded)
//	for _, e := range sortedEntries {
//		if err := b.Add(e); err != nil { ... }
//	}
//	m, err := b.Done()
//	m, err = prolly.Apply(ctx, store, m, value.CompareEncoded, []prolly.Edit{{Key: k, Value: v}})
//	v, found, err := prolly.Get(ctx, store, m, value.CompareEncoded, k)
//
// Reads and edits never panic on hostile chunks: every node read is
// validated (strict DAG-CBOR, node layout, counts and keys against its
// parent) and faults are reported as errors wrapping ErrCorrupt.
package prolly
