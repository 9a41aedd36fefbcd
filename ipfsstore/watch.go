package ipfsstore

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/fsnotify/fsnotify"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

var _ chunks.RootWatcher = (*Store)(nil)

// WatchRoot implements chunks.RootWatcher with the operating system's file
// notifications (inotify on Linux) on the state directory: every root move,
// by any process, renames a new root file into place, so a signal follows
// each move within milliseconds instead of at the next poll. Filesystems
// that do not report changes made elsewhere (network mounts) stay silent;
// callers keep polling for them.
func (s *Store) WatchRoot(ctx context.Context) (<-chan struct{}, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("cannot watch the root file: %w", err)
	}
	// The directory, not the file: the file is replaced by a rename, which
	// would end a watch on the file itself.
	if err := w.Add(s.rf.dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("cannot watch the root file in %s: %w", s.rf.dir, err)
	}
	out := make(chan struct{}, 1)
	signal := func() {
		select {
		case out <- struct{}{}:
		default: // a signal is already waiting: coalesce
		}
	}
	go func() {
		defer close(out)
		defer w.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Base(ev.Name) != rootFileName || !ev.Has(fsnotify.Create|fsnotify.Write|fsnotify.Rename) {
					continue
				}
				signal()
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				// An overflowed event queue loses events, not the watch:
				// signal, so the receiver reads the root once.
				s.log.Debug("root file watch", "err", err)
				signal()
			}
		}
	}()
	return out, nil
}
