// Package syncer keeps a database's datasets in sync with the other writers
// of the same database: the sync loop of DESIGN.md.
//
// A Syncer sits between a db.Database (on any chunk store, normally an
// ipfsstore.Store), a head store (package headstore: signed heads over IPNS
// and pubsub) and, in replicate mode, the Kubo node whose pins keep pulled
// data alive. For every head another writer announces, and at start for
// every head the head store knows or resolves, it reads that writer's
// database root and, for each configured dataset (default: all of them),
// merges the writer's head commit into its own:
//
//	announced commit is an ancestor of ours   → nothing to do
//	(replicate mode: recursively pin the announced root first)
//	ours is an ancestor of the announced one  → fast-forward
//	otherwise                                 → three-way merge (Deterministic
//	                                            by default)
//
// and then publishes its own new root, so that the others fast-forward to the
// merge. With a symmetric policy (Deterministic, Fail) the merge takes the
// latest read head of every writer at once (merge.IntoAll): its result is
// one commit whose parents are the changes it merges, so every peer that
// has heard the same changes writes the same commit, whatever merges each
// made before, and the loop ends after one round. Merging one writer at a
// time instead makes peers merge each other's pairwise merges: on three
// peers making 100 commits each that wrote 225 to 1,700 merge commits and
// took seconds to settle; IntoAll writes about 75 and settles within half
// a second of the last commit. An asymmetric policy (Ours, Theirs) merges
// one writer at a time (merge.Into).
//
// # Modes
//
// Shared (the decentralized chunk store): nothing is pulled ahead; chunks of
// the announced root are read from the network on demand through the chunk
// store (ipfsstore.Store.Get asks bitswap). ipfsstore keeps what this peer
// wrote from Kubo's garbage collector (its keep) and nothing else, so
// adopting a head (fast-forward or merge) fetches only what the merge reads;
// what the node has read of other writers is a cache that a garbage
// collection may drop and a later read fetches again.
//
// Replicate (the classic peer-to-peer replica): before adopting a head the
// syncer pins the writer's whole announced root recursively into the local
// node, under a pin named noms-ipfs-replica/<database>/<writer>, moved as
// the writer's root advances (the new root pinned, then the old unpinned).
// The data then survives the publisher going away, and other peers can read
// it from this node.
//
// # Scheduling
//
// Heads are kept per writer, newest sequence number first: announcements
// that arrive while one of a writer's heads is being processed replace each
// other, and only the newest is processed next (coalescing). Up to
// Config.Workers writers are processed at once, one head per writer at a
// time, each bounded by Config.HeadTimeout (Config.PinTimeout for the pin),
// so an announcement whose data nobody serves times out and is retried with
// exponential backoff (Config.RetryMin to Config.RetryMax) without holding
// up any other writer. A newer head of the same writer cancels a stuck
// attempt (one older than Config.SupersedeAfter) and is processed at once.
//
// # Chunk pushes
//
// Bitswap sends a node's wants at most every 20 ms, so each chunk fetched on
// demand costs a round of ~20 ms and a DAG is found one level per round.
// So before publishing a new root a syncer pushes the chunks under it that
// it has neither sent nor received before (breadth first from the root,
// up to 512 KiB) in one message on the pubsub topic PushTopic(database);
// every syncer imports what arrives there into its node, so that the head
// announced just after finds its chunks local. A push is checked by hashing
// and carries no authority; anything not pushed or lost is fetched over
// bitswap as before. Config.NoPush turns pushes off.
//
// # Merging
//
// The syncer merges one head at a time (concurrent merges of several
// writers' heads would write intermediate merges that every peer then
// merges again). The application's commits do not wait for a merge, which
// may wait seconds on the network for chunks: both move the dataset's head
// by the database's compare-and-swap, and whichever comes second merges
// again, with the chunks it read now local. Merging happens through a chunk store
// that, before the root moves, fetches the chunks the new chunks link to
// and the node lacks (subtrees a merge never had to read), because
// ipfsstore refuses to commit a root over links it cannot find locally.
//
// # Publishing local commits
//
// The syncer publishes the local root (headstore Publish) whenever it moves:
// at start, after each of its own merges and fast-forwards, when the
// application calls Notify (or commits through Syncer.Commit, which does),
// and when another process sharing the store moves its persisted root, as
// the noms-ipfs CLI does: at once where the store signals such moves
// (chunks.RootWatcher; ipfsstore watches its root file), else at the next
// poll (every Config.WatchInterval, default 1 s). On shutdown (the context given
// to Run is cancelled) it flushes the store and publishes the root one last
// time.
//
// # Restarts
//
// Nothing but counters is kept in memory that the database or the head
// store do not keep: Run loads the root, publishes it, asks the head store
// to resolve every known writer (ResolveAll) and converges with what it
// finds, then follows announcements.
//
//	hs, _ := headstore.New(ctx, node, headstore.Config{Database: "todo", Open: true})
//	s, _ := syncer.New(d, node, hs, syncer.Config{Mode: syncer.Replicate})
//	go s.Run(ctx)                        // until ctx is cancelled
//	s.Commit(ctx, "todo", v, merge.CommitOptions{Base: head.Hash}) // published at once
package syncer
