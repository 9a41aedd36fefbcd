package syncer

import (
	"context"
	"time"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// publishRetryMax caps the wait between attempts at publishing the local
// root, below Config.RetryMax: requests that arrive while a retry is
// pending wait for it, so a backoff grown to RetryMax while Kubo was down
// would hold every write made after Kubo came back for up to that long
// (a minute by default). An attempt is one RPC call, no more than each
// re-announcement costs, and the head store likewise subscribes again
// within 5 s of Kubo's return.
const publishRetryMax = 5 * time.Second

// publishBackoff is the wait before publish attempt n+1.
func (s *Syncer) publishBackoff(n int) time.Duration {
	return min(s.backoff(n), publishRetryMax)
}

// publishLoop publishes the local root whenever it moves: on Notify (the
// syncer's own merges, the application's commits), and when another
// process moves the persisted root, which the store signals at once if it
// can (chunks.RootWatcher) and the poll finds otherwise. A failed publish
// is retried with backoff (publishBackoff); requests meanwhile are folded
// into that retry.
func (s *Syncer) publishLoop(ctx context.Context) {
	var poll <-chan time.Time
	if s.cfg.WatchInterval > 0 {
		t := time.NewTicker(s.cfg.WatchInterval)
		defer t.Stop()
		poll = t.C
	}
	var moved <-chan struct{}
	if w, ok := s.d.Store().(chunks.RootWatcher); ok {
		var err error
		if moved, err = w.WatchRoot(ctx); err != nil {
			s.log.Warn("cannot watch the local root; other processes' commits are published at the next poll",
				"poll", s.cfg.WatchInterval, "err", err)
		}
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	waiting := false // for retry to fire
	pending := false
	attempts := 0
	checkRoot := func() {
		root, err := s.root(ctx)
		if err != nil {
			s.log.Debug("cannot read the local root", "err", err)
			return
		}
		if root != s.Published() {
			pending = true
		}
	}
	for {
		if pending && !waiting {
			pctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
			err := s.publish(pctx, false)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				attempts++
				wait := s.publishBackoff(attempts)
				s.log.Warn("cannot publish the local root; will retry", "attempt", attempts, "retry_in", wait.Round(time.Millisecond), "err", err)
				s.emit(Event{Kind: EventPublishFailed, Retry: wait, Err: err})
				retry.Reset(wait)
				waiting = true
			} else {
				attempts, pending = 0, false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.notify:
			pending = true
		case _, ok := <-moved:
			if !ok {
				moved = nil
				if ctx.Err() == nil {
					s.log.Warn("the watch of the local root ended; other processes' commits are published at the next poll",
						"poll", s.cfg.WatchInterval)
				}
				continue
			}
			checkRoot()
		case <-poll:
			checkRoot()
		case <-retry.C:
			waiting = false
		}
	}
}

// publish announces the local root through the head store, unless it is
// empty or (without always) the root published last.
func (s *Syncer) publish(ctx context.Context, always bool) error {
	root, err := s.root(ctx)
	if err != nil {
		return err
	}
	if root.IsEmpty() || (!always && root == s.Published()) {
		return nil
	}
	start := time.Now()
	if s.push != nil {
		s.push.push(ctx, root)
	}
	if err := s.hs.Publish(ctx, root); err != nil {
		s.ctr.publishFails.Add(1)
		return err
	}
	s.mu.Lock()
	s.published = root
	s.mu.Unlock()
	s.ctr.published.Add(1)
	s.log.Debug("published root", "root", root, "took", time.Since(start))
	s.emit(Event{Kind: EventPublished, Root: root, Took: time.Since(start)})
	return nil
}
