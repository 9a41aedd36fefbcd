package syncer

import (
	"context"
	"time"
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
// syncer's own merges, the application's commits) and when the poll of the
// persisted root sees another process move it. A failed publish is retried
// with backoff (publishBackoff); requests meanwhile are folded into that retry.
func (s *Syncer) publishLoop(ctx context.Context) {
	var watch <-chan time.Time
	if s.cfg.WatchInterval > 0 {
		t := time.NewTicker(s.cfg.WatchInterval)
		defer t.Stop()
		watch = t.C
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	waiting := false // for retry to fire
	pending := false
	attempts := 0
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
		case <-watch:
			root, err := s.root(ctx)
			if err != nil {
				s.log.Debug("cannot poll the local root", "err", err)
				continue
			}
			if root != s.Published() {
				pending = true
			}
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
