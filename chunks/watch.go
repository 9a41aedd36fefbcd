package chunks

import "context"

// RootWatcher is an optional ability of a ChunkStore whose persisted root
// other stores can move behind its back, such as several processes sharing
// one state directory. A caller that must react to such moves (the sync
// loop publishing a commit made by the CLI) finds it by type assertion and
// falls back to polling Rebase without it.
type RootWatcher interface {
	// WatchRoot returns a channel that receives a value soon after the
	// persisted root may have moved, by this store or another, until ctx
	// ends; it is then closed. Signals are coalesced (one may stand for
	// several moves) and may come without a move, so the receiver reads the
	// root (Rebase, Root) to see what changed. The channel is also closed if
	// watching fails later; an error means watching could not start.
	WatchRoot(ctx context.Context) (<-chan struct{}, error)
}
