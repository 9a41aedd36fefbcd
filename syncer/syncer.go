package syncer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
	"github.com/noms-ipfs/noms-ipfs/merge"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// Syncer runs the sync loop for one database. Create it with New, run it
// with Run; its other methods are safe for concurrent use at any time.
type Syncer struct {
	d    *db.Database
	md   *db.Database // d through a fetchingStore: where merges happen
	hs   HeadStore
	cfg  Config
	log  *slog.Logger
	pin  pinner  // nil in shared mode
	push *pusher // nil without a node or with Config.NoPush
	pctr pushCounters

	started atomic.Bool
	// mergeMu makes the syncer's merges one at a time: concurrent ones
	// would lose the compare-and-swap to each other and merge again. The
	// application's commits (Commit) do not take it: they must not wait
	// behind a merge that waits on the network, and the compare-and-swap
	// sorts out the rare race.
	mergeMu sync.Mutex
	// ancestors remembers the virtual ancestors of criss-cross merges,
	// which every merge between writers that merge each other rebuilds.
	ancestors *merge.AncestorCache
	notify    chan struct{} // cap 1: "publish the root"
	ctr       counters

	mu        sync.Mutex
	writers   map[peer.ID]*writer
	queue     []peer.ID   // writers with a head to process, FIFO
	published chunks.Hash // the last root published successfully
	// read holds, per writer, the dataset heads of the newest root of
	// theirs whose head commits were read: merges take them all at once
	// (merge.IntoAll), so writers converge in one round.
	read map[peer.ID]map[string]chunks.Hash
}

// writer is the scheduling state of one other writer. The dispatcher
// goroutine changes it, holding Syncer.mu.
type writer struct {
	latest    Head        // newest head seen
	done      chunks.Hash // root of the newest head processed to the end
	doneSeq   uint64
	doneAt    time.Time
	busy      bool // an attempt runs
	busySince time.Time
	busySeq   uint64
	cancel    context.CancelFunc // of the running attempt
	queued    bool
	attempts  int       // failed attempts at latest
	retryAt   time.Time // zero unless waiting to retry
	lastErr   error
}

// needsWork reports whether w's newest head is still to be processed.
func (w *writer) needsWork() bool {
	return w.latest.Seq > w.doneSeq && w.latest.Root != w.done
}

// New returns a syncer of d's datasets with the writers that hs hears
// from. node is the Kubo node that replicate mode pins into; shared mode
// does not use it (nil allowed). New does no I/O.
func New(d *db.Database, node *ipfsnode.Node, hs HeadStore, cfg Config) (*Syncer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Syncer{
		d:         d,
		md:        db.New(newFetchingStore(d.Store())),
		hs:        hs,
		cfg:       cfg,
		log:       cfg.Logger.With("db", cfg.Database),
		notify:    make(chan struct{}, 1),
		writers:   make(map[peer.ID]*writer),
		ancestors: merge.NewAncestorCache(4096),
		read:      make(map[peer.ID]map[string]chunks.Hash),
	}
	if cfg.Mode == Replicate {
		if node == nil {
			return nil, ErrNoNode
		}
		s.pin = newKuboPinner(node, d.Store(), cfg.Database)
	}
	if node != nil && !cfg.NoPush {
		s.push = newPusher(node, d.Store(), cfg.Database, s.log, &s.pctr)
	}
	return s, nil
}

// Config returns the syncer's configuration with defaults filled in.
func (s *Syncer) Config() Config { return s.cfg }

// Notify tells the syncer that the application moved the local root (it
// committed): the root is published at once. It never blocks; calls while
// a publish is under way are coalesced into one more publish.
func (s *Syncer) Notify() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Commit commits v to the dataset as the application's own change and
// publishes the result at once: merge.CommitWithMerge with the syncer's
// policy (a head moved since opts.Base, by a peer or another local
// writer, is merged with v), then Notify.
func (s *Syncer) Commit(ctx context.Context, dataset string, v value.Value, opts merge.CommitOptions) (merge.Result, error) {
	res, err := merge.CommitWithMerge(ctx, s.md, dataset, v, opts, s.cfg.Policy, merge.WithAncestorCache(s.ancestors))
	if err != nil {
		return res, err
	}
	if res.Outcome != merge.UpToDate {
		s.Notify()
	}
	return res, nil
}

// Stats returns the syncer's counters.
func (s *Syncer) Stats() Stats {
	st := s.ctr.snapshot()
	st.Pushes, st.PushedChunks, st.PushedBytes = s.pctr.sent.Load(), s.pctr.sentChunks.Load(), s.pctr.sentBytes.Load()
	st.PushesReceived, st.ReceivedChunks, st.ReceivedBytes = s.pctr.received.Load(), s.pctr.receivedChunks.Load(), s.pctr.receivedBytes.Load()
	st.PushesDropped = s.pctr.dropped.Load()
	s.mu.Lock()
	for _, w := range s.writers {
		if w.needsWork() {
			st.Pending++
		}
	}
	s.mu.Unlock()
	return st
}

// Writers returns what the syncer knows of every other writer, sorted by
// writer ID.
func (s *Syncer) Writers() []WriterStatus {
	s.mu.Lock()
	out := make([]WriterStatus, 0, len(s.writers))
	for id, w := range s.writers {
		ws := WriterStatus{
			Writer:    id,
			Root:      w.latest.Root,
			Seq:       w.latest.Seq,
			Synced:    !w.needsWork(),
			SyncedAt:  w.doneAt,
			Done:      w.done,
			Busy:      w.busy,
			Attempts:  w.attempts,
			NextRetry: w.retryAt,
		}
		if w.lastErr != nil {
			ws.LastError = w.lastErr.Error()
		}
		out = append(out, ws)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b WriterStatus) int { return cmpString(string(a.Writer), string(b.Writer)) })
	return out
}

// Published returns the last root the syncer published successfully.
func (s *Syncer) Published() chunks.Hash {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.published
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// job is one attempt at one writer's head.
type job struct {
	ctx    context.Context
	cancel context.CancelFunc
	head   Head
}

// result is the end of a job.
type result struct {
	head      Head
	changed   bool // the local root moved
	err       error
	permanent bool // err will not go away by retrying the same head
	took      time.Duration
}

// Run syncs until ctx is cancelled, then stops every goroutine it started,
// flushes the store, publishes the root one last time and returns nil. It
// returns an error only when it cannot go on (ErrHeadStoreClosed). A
// Syncer runs once.
func (s *Syncer) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	root, err := s.root(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	s.log.Info("sync started", "self", s.hs.Self(), "root", root, "mode", s.cfg.Mode,
		"datasets", s.cfg.Datasets, "workers", s.cfg.Workers, "push", s.push != nil)
	if s.push != nil {
		if s.push.self, err = s.push.node.PeerID(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job)
	results := make(chan result)
	resolved := make(chan map[peer.ID]Head, 1)
	var workers, others sync.WaitGroup
	for range s.cfg.Workers {
		workers.Go(func() { s.work(runCtx, jobs, results) })
	}
	others.Go(func() { s.publishLoop(runCtx) })
	if s.push != nil {
		others.Go(func() { s.push.receive(runCtx) })
	}
	others.Go(func() {
		// Heads of writers this peer knows of, looked up once at start so
		// that a restarted or new peer converges without waiting for the
		// next announcement.
		rctx, rcancel := context.WithTimeout(runCtx, s.cfg.HeadTimeout)
		defer rcancel()
		if err := s.hs.ResolveAll(rctx); err != nil && runCtx.Err() == nil {
			s.log.Warn("cannot resolve every known writer's head", "err", err)
		}
		select {
		case resolved <- s.hs.Known():
		case <-runCtx.Done():
		}
	})
	s.Notify() // publish the root we start from
	for _, h := range s.hs.Known() {
		s.offer(h)
	}
	err = s.dispatch(runCtx, jobs, results, resolved)
	cancel()
	workers.Wait()
	others.Wait()
	s.finish(ctx)
	s.log.Info("sync stopped", "stats", fmt.Sprintf("%+v", s.Stats()))
	return err
}

// finish flushes the store and publishes the root a last time, with a
// fresh deadline: the run's context is already cancelled.
func (s *Syncer) finish(parent context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), s.cfg.PublishTimeout)
	defer cancel()
	if f, ok := s.d.Store().(interface{ Flush(context.Context) error }); ok {
		if err := f.Flush(ctx); err != nil {
			s.log.Warn("cannot flush the store", "err", err)
		}
	}
	if err := s.publish(ctx, true); err != nil {
		s.log.Warn("final publish failed", "err", err)
	}
}

// root returns the persisted root of the store, which other processes
// sharing it may have moved.
func (s *Syncer) root(ctx context.Context) (chunks.Hash, error) {
	st := s.d.Store()
	if err := st.Rebase(ctx); err != nil {
		return chunks.Hash{}, fmt.Errorf("cannot read the local root: %w", err)
	}
	return st.Root(ctx)
}

// dispatch is the scheduler: it takes heads in, hands writers out to the
// workers one head at a time, and takes their results back.
func (s *Syncer) dispatch(ctx context.Context, jobs chan<- job, results <-chan result, resolved <-chan map[peer.ID]Head) error {
	heads := s.hs.Heads()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var out chan<- job
		next, ok := s.candidate(ctx)
		if ok {
			out = jobs
		}
		s.armRetry(timer)
		select {
		case <-ctx.Done():
			next.cancelIfSet()
			return nil
		case h, ok := <-heads:
			next.cancelIfSet()
			if !ok {
				return ErrHeadStoreClosed
			}
			s.offer(h)
		case known := <-resolved:
			next.cancelIfSet()
			for _, h := range known {
				s.offer(h)
			}
		case out <- next:
			s.dispatched(next)
		case r := <-results:
			next.cancelIfSet()
			s.completed(ctx, r)
		case <-timer.C:
			next.cancelIfSet()
			s.wakeRetries()
		}
	}
}

func (j job) cancelIfSet() {
	if j.cancel != nil {
		j.cancel()
	}
}

// candidate returns the job for the first queued writer, not yet marked
// as dispatched.
func (s *Syncer) candidate(ctx context.Context) (job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.queue) > 0 {
		w := s.writers[s.queue[0]]
		if w.busy || !w.needsWork() {
			w.queued = false
			s.queue = s.queue[1:]
			continue
		}
		jctx, cancel := context.WithCancel(ctx)
		return job{ctx: jctx, cancel: cancel, head: w.latest}, true
	}
	return job{}, false
}

// dispatched marks the job's writer busy once a worker took the job.
func (s *Syncer) dispatched(j job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.writers[j.head.Writer]
	s.queue = s.queue[1:]
	w.queued = false
	w.busy = true
	w.busySince = time.Now()
	w.busySeq = j.head.Seq
	w.cancel = j.cancel
}

// enqueue queues w's writer unless it is queued, busy or waiting to retry.
// Holding s.mu.
func (s *Syncer) enqueue(w *writer) {
	if w.queued || w.busy || !w.needsWork() {
		return
	}
	w.queued = true
	w.retryAt = time.Time{}
	s.queue = append(s.queue, w.latest.Writer)
}

// offer takes a head from the head store: the newest head per writer wins.
func (s *Syncer) offer(h Head) {
	if h.Writer == "" || h.Writer == s.hs.Self() {
		return
	}
	s.ctr.heads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.writers[h.Writer]
	if w == nil {
		w = &writer{}
		s.writers[h.Writer] = w
	}
	if w.latest.Writer != "" && h.Seq <= w.latest.Seq {
		if h.Seq < w.latest.Seq {
			s.ctr.coalesced.Add(1) // a newer one came first
		}
		return
	}
	if w.needsWork() && !(w.busy && w.busySeq == w.latest.Seq) {
		s.ctr.coalesced.Add(1) // replaced before anyone looked at it
	}
	w.latest = h
	if h.Root == w.done {
		w.doneSeq = h.Seq // the same root again: nothing new
		return
	}
	w.attempts, w.retryAt = 0, time.Time{}
	if w.busy {
		s.supersede(w, time.Now()) // if stuck; else the timer checks again
		return                     // completed requeues it
	}
	s.enqueue(w)
}

// supersedeAt returns when w's running attempt counts as stuck, if a newer
// head waits behind it; zero otherwise. Holding s.mu.
func (s *Syncer) supersedeAt(w *writer) time.Time {
	if !w.busy || w.cancel == nil || w.latest.Seq <= w.busySeq || s.cfg.SupersedeAfter <= 0 {
		return time.Time{}
	}
	return w.busySince.Add(s.cfg.SupersedeAfter)
}

// supersede cancels w's running attempt if a newer head waits and the
// attempt is stuck. Holding s.mu.
func (s *Syncer) supersede(w *writer, now time.Time) {
	if at := s.supersedeAt(w); !at.IsZero() && !at.After(now) {
		s.log.Debug("a newer head supersedes a stuck attempt", "writer", w.latest.Writer, "seq", w.latest.Seq, "stuck_seq", w.busySeq)
		w.cancel()
		w.cancel = nil
	}
}

// completed records the end of an attempt and decides what comes next.
func (s *Syncer) completed(ctx context.Context, r result) {
	if r.changed {
		s.Notify()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.writers[r.head.Writer]
	if w.cancel != nil {
		w.cancel()
	}
	w.busy, w.cancel = false, nil
	switch {
	case r.err == nil || r.permanent:
		s.ctr.processed.Add(1)
		w.done, w.doneSeq, w.doneAt = r.head.Root, r.head.Seq, time.Now()
		w.attempts, w.lastErr = 0, r.err
	case ctx.Err() != nil:
		return // shutting down
	case w.latest.Seq > r.head.Seq:
		w.lastErr = r.err // superseded: the newer head goes at once
		w.attempts = 0
	default:
		s.ctr.failures.Add(1)
		w.lastErr = r.err
		w.attempts++
		wait := s.backoff(w.attempts)
		w.retryAt = time.Now().Add(wait)
		s.log.Warn("cannot sync with writer; will retry", "writer", r.head.Writer, "seq", r.head.Seq,
			"root", r.head.Root, "attempt", w.attempts, "retry_in", wait.Round(time.Millisecond), "err", r.err)
		s.emit(Event{Kind: EventRetry, Writer: r.head.Writer, Seq: r.head.Seq, Root: r.head.Root, Took: r.took, Retry: wait, Err: r.err})
		return
	}
	s.enqueue(w)
}

// backoff is the wait before attempt n+1: RetryMin doubled per failure up to
// RetryMax, with ±20% jitter so that peers do not retry in lockstep.
func (s *Syncer) backoff(n int) time.Duration {
	d := s.cfg.RetryMin
	for i := 1; i < n && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.cfg.RetryMax)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// armRetry sets timer to the earliest pending retry or supersede check, or
// stops it.
func (s *Syncer) armRetry(timer *time.Timer) {
	s.mu.Lock()
	var first time.Time
	for _, w := range s.writers {
		for _, at := range []time.Time{w.retryAt, s.supersedeAt(w)} {
			if !at.IsZero() && (first.IsZero() || at.Before(first)) {
				first = at
			}
		}
	}
	s.mu.Unlock()
	if first.IsZero() {
		timer.Stop()
		return
	}
	timer.Reset(max(time.Until(first), 0))
}

// wakeRetries queues the writers whose retry time has come and cancels
// stuck attempts that a newer head waits behind.
func (s *Syncer) wakeRetries() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, w := range s.writers {
		s.supersede(w, now)
		if !w.retryAt.IsZero() && !w.retryAt.After(now) {
			w.retryAt = time.Time{}
			s.enqueue(w)
		}
	}
}

// work runs jobs until ctx is cancelled.
func (s *Syncer) work(ctx context.Context, jobs <-chan job, results chan<- result) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-jobs:
			r := s.process(j.ctx, j.head)
			select {
			case results <- r:
			case <-ctx.Done():
				j.cancel()
				return
			}
		}
	}
}

// process merges one writer's head into the local datasets: replicate mode
// pins it first; then each dataset of the writer's root is merged.
func (s *Syncer) process(ctx context.Context, h Head) (r result) {
	start := time.Now()
	r.head = h
	defer func() { r.took = time.Since(start) }()
	log := s.log.With("writer", h.Writer, "seq", h.Seq, "root", h.Root)
	if s.pin != nil && !h.Root.IsEmpty() {
		pctx, cancel := context.WithTimeout(ctx, s.cfg.PinTimeout)
		n, err := s.pin.pin(pctx, h.Writer, h.Root)
		cancel()
		if errors.Is(err, errCountShort) {
			log.Debug("replica pinned; byte count short", "err", err)
			err = nil
		}
		if err != nil {
			r.err = fmt.Errorf("cannot pin %s's root %s: %w", h.Writer, h.Root, err)
			return r
		}
		s.ctr.pins.Add(1)
		s.ctr.bytesPinned.Add(n)
		log.Debug("pinned writer's root", "bytes", n)
		s.emit(Event{Kind: EventPinned, Writer: h.Writer, Seq: h.Seq, Root: h.Root, Bytes: n, Took: time.Since(start)})
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HeadTimeout)
	defer cancel()
	if s.push != nil {
		s.push.settle(ctx)
	}
	t0 := time.Now()
	sets, err := readDatasets(ctx, s.d.Store(), h.Root, s.cfg.Datasets)
	log.Debug("read writer's root", "datasets", len(sets), "took", time.Since(t0), "err", err)
	if err != nil {
		r.err = err
		r.permanent = errors.Is(err, ErrBadRoot)
		return r
	}
	// Read their heads before queueing for the lock, so that a head whose
	// data is slow to come holds up no other writer.
	for _, ds := range sets {
		if _, err := s.md.ReadCommit(ctx, ds.Head); err != nil {
			r.err = fmt.Errorf("cannot read %s's head %s of %q: %w", h.Writer, ds.Head, ds.Name, err)
			r.permanent = errors.Is(err, db.ErrNotCommit)
			return r
		}
	}
	s.remember(h.Writer, sets)
	var conflicts []error
	for _, ds := range sets {
		t0 := time.Now()
		s.mergeMu.Lock()
		res, err := s.mergeHeads(ctx, h.Writer, ds)
		s.mergeMu.Unlock()
		log.Debug("merged into dataset", "dataset", ds.Name, "outcome", res.Outcome, "bases", len(res.Bases), "took", time.Since(t0), "err", err)
		ev := Event{Writer: h.Writer, Seq: h.Seq, Root: h.Root, Dataset: ds.Name, Took: time.Since(t0)}
		if errors.Is(err, merge.ErrConflict) {
			s.ctr.conflicts.Add(1)
			log.Warn("merge left conflicts; dataset not merged", "dataset", ds.Name, "err", err)
			ev.Kind, ev.Err = EventConflict, err
			s.emit(ev)
			conflicts = append(conflicts, fmt.Errorf("dataset %q: %w", ds.Name, err))
			continue
		}
		if err != nil {
			r.err = fmt.Errorf("cannot merge %s's head %s of %q: %w", h.Writer, ds.Head, ds.Name, err)
			r.permanent = errors.Is(err, db.ErrNotCommit) || errors.Is(err, merge.ErrAbsentRoot) || errors.Is(err, merge.ErrTooDeep)
			return r
		}
		ev.Commit = res.Commit.Hash
		switch res.Outcome {
		case merge.UpToDate:
			s.ctr.upToDate.Add(1)
			ev.Kind = EventUpToDate
		case merge.FastForward:
			s.ctr.fastForwards.Add(1)
			r.changed = true
			ev.Kind = EventFastForward
			log.Info("fast-forwarded", "dataset", ds.Name, "commit", res.Commit.Hash)
		case merge.Merged:
			s.ctr.merges.Add(1)
			r.changed = true
			ev.Kind = EventMerged
			log.Info("merged", "dataset", ds.Name, "theirs", ds.Head, "commit", res.Commit.Hash)
		}
		s.emit(ev)
	}
	if len(conflicts) > 0 {
		r.err, r.permanent = errors.Join(conflicts...), true
	}
	return r
}

// remember records the dataset heads of a writer's root, all read.
func (s *Syncer) remember(w peer.ID, sets []db.Dataset) {
	heads := make(map[string]chunks.Hash, len(sets))
	for _, ds := range sets {
		heads[ds.Name] = ds.Head
	}
	s.mu.Lock()
	s.read[w] = heads
	s.mu.Unlock()
}

// mergeHeads merges writer w's head of ds into the local dataset together
// with the heads of ds that every other writer announced last (and that
// were read): with a symmetric policy every peer that knows the same heads
// then writes the same merge, where merging one writer at a time makes
// peers merge each other's pairwise merges over and over. A conflict in
// that fold falls back to w's head alone, so one writer's conflicts do
// not hold up the others'.
func (s *Syncer) mergeHeads(ctx context.Context, w peer.ID, ds db.Dataset) (merge.Result, error) {
	cache := merge.WithAncestorCache(s.ancestors)
	if !merge.IsSymmetric(s.cfg.Policy) {
		return merge.Into(ctx, s.md, ds.Name, ds.Head, s.cfg.Policy, cache)
	}
	theirs := []chunks.Hash{ds.Head}
	s.mu.Lock()
	for other, heads := range s.read {
		if h, ok := heads[ds.Name]; ok && other != w {
			theirs = append(theirs, h)
		}
	}
	s.mu.Unlock()
	res, err := merge.IntoAll(ctx, s.md, ds.Name, theirs, s.cfg.Policy, cache)
	if err != nil && len(theirs) > 1 && errors.Is(err, merge.ErrConflict) {
		return merge.Into(ctx, s.md, ds.Name, ds.Head, s.cfg.Policy, cache)
	}
	return res, err
}

func (s *Syncer) emit(e Event) {
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}
