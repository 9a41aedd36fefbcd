// Package db is the versioned database: named datasets, each pointing at a
// head commit, over any chunks.ChunkStore (in memory or on IPFS).
//
// A Commit holds a value, its parents (sorted, so identical merges are
// byte-identical chunks) and a height (1 + the largest parent height), which
// lets IsAncestor and CommonAncestor visit only commits above the answer.
// The database root is one chunk naming a Map from dataset name to head
// commit; every head change moves it with the store's compare-and-swap, so
// two writers never lose a commit: the loser gets ErrOptimisticLock.
//
// Values and collections live in package value; merging concurrent heads
// is package merge's business.
//
//	d := db.New(chunks.NewMemoryStore())
//	c, err := d.Commit(ctx, "todo", value.String("milk"), db.CommitOptions{})
//	head, err := d.Head(ctx, "todo")
//	for c, err := range d.History(ctx, head.Hash) { ... }
package db
