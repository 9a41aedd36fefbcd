package headstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	iface "github.com/ipfs/kubo/core/coreiface"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

const (
	// Resubscription backoff after the subscription breaks (daemon
	// restarting, stream error).
	minResubscribe = 100 * time.Millisecond
	maxResubscribe = 5 * time.Second
	// resolveTimeout bounds ResolveAll's wait on one writer: a writer
	// nobody can reach must not hold up the others.
	resolveTimeout = 10 * time.Second
	// resolveConcurrency bounds ResolveAll's routing queries in flight.
	resolveConcurrency = 4
	// drainTimeout bounds the wait for an RPC subscription's reader to
	// stop once its request is cancelled; it stops at once in practice.
	drainTimeout = 2 * time.Second
)

// receive takes announcements off the topic until the store closes,
// subscribing again whenever the subscription breaks: pubsub is lossy
// anyway, and re-announcements make up for what was missed meanwhile.
func (s *Store) receive(sub iface.PubSubSubscription, cancel context.CancelFunc) {
	backoff := minResubscribe
	for {
		for {
			msg, err := sub.Next(s.ctx)
			if err != nil {
				if s.ctx.Err() == nil {
					s.log.Warn("pubsub subscription broke; subscribing again", "topic", s.topic, "err", err)
				}
				break
			}
			backoff = minResubscribe
			s.handle(msg.From(), msg.Data())
		}
		s.endSubscription(sub, cancel)
		for {
			if !sleep(s.ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxResubscribe)
			var err error
			if sub, cancel, err = s.subscribe(s.ctx); err == nil {
				break
			}
			if s.ctx.Err() == nil {
				s.log.Warn("cannot subscribe again", "topic", s.topic, "err", err, "retry_in", backoff)
			}
		}
	}
}

// subscribe subscribes to the topic for as long as ctx lasts or until
// endSubscription.
func (s *Store) subscribe(ctx context.Context) (iface.PubSubSubscription, context.CancelFunc, error) {
	ctx, cancel := context.WithCancel(ctx)
	sub, err := s.api.PubSub().Subscribe(ctx, s.topic)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return sub, cancel, nil
}

// endSubscription stops sub, made by subscribe with cancel. Over RPC,
// Kubo's client's Close races with the goroutine that reads the stream
// (Close clears a field that goroutine selects on), so that goroutine is
// stopped first, by cancelling the request, and waited for: its channel
// closes, which Next reports as io.EOF. Close then only releases the
// response. An embedded node's subscription closes cleanly.
func (s *Store) endSubscription(sub iface.PubSubSubscription, cancel context.CancelFunc) {
	endSubscription(sub, cancel, s.node != nil && s.node.RPC() != nil)
}

func endSubscription(sub iface.PubSubSubscription, cancel context.CancelFunc, overRPC bool) {
	cancel()
	if overRPC {
		ctx, stop := context.WithTimeout(context.Background(), drainTimeout)
		defer stop()
		for {
			if _, err := sub.Next(ctx); errors.Is(err, io.EOF) || ctx.Err() != nil {
				break
			}
		}
	}
	_ = sub.Close()
}

// handle checks one announcement and accepts or drops it. from is the
// daemon that relayed it, which says nothing about the writer: only the
// signed record does.
func (s *Store) handle(from peer.ID, data []byte) {
	p, err := parseRecord(data, "")
	var h Head
	if err == nil {
		h, err = p.verify()
	}
	if err == nil && p.writer == s.self {
		// Our own announcement, echoed back by pubsub: nothing to learn.
		// Checked after the signature, so that a forgery naming our key
		// counts as the attack it is (bad-signature), not as an echo.
		err = errSelf
	}
	if err == nil {
		err = s.accept(h, viaTopic)
	}
	if err != nil {
		s.drop(err, viaTopic, "from", from, "writer", p.writer, "bytes", len(data))
		return
	}
	s.log.Debug("head accepted", "writer", h.Writer, "root", h.Root, "seq", h.Seq, "from", from)
}

// Resolve fetches writer's current record from the routing system (DHT and
// IPNS over pubsub) rather than any resolver cache, and verifies it like an
// announcement. A newer head than known is accepted and also delivered on
// Heads; otherwise the newest known head is returned, since the routing
// system may lag behind announcements. Verification failures are counted in
// Stats and returned wrapping their sentinel; a writer that is not trusted
// is refused without a query (ErrUntrusted).
func (s *Store) Resolve(ctx context.Context, writer peer.ID) (Head, error) {
	if s.isClosed() {
		return Head{}, ErrClosed
	}
	if !s.trusted(writer) {
		return Head{}, fmt.Errorf("cannot resolve head of %s: %w", writer, ErrUntrusted)
	}
	data, err := s.fetchRecord(ctx, writer, false)
	if err != nil {
		return Head{}, fmt.Errorf("cannot resolve head of %s: %w", writer, err)
	}
	p, err := parseRecord(data, writer)
	var h Head
	if err == nil {
		h, err = p.verify()
	}
	if err == nil {
		// Kubo's copy lacks the key (the name carries it); with it, Record
		// verifies on its own, like an announcement.
		if ann, aerr := embedPublicKey(data, mustPublicKey(writer)); aerr == nil {
			h.Record = ann
		}
		err = s.accept(h, viaResolve)
	}
	switch {
	case err == nil:
		s.log.Debug("head resolved", "writer", h.Writer, "root", h.Root, "seq", h.Seq)
		return h, nil
	case errors.Is(err, ErrReplay) || errors.Is(err, errDuplicate):
		// Not a drop: the routing system simply has not caught up.
		s.mu.Lock()
		s.countLocked(viaResolve)
		known := s.known[writer]
		s.mu.Unlock()
		return known, nil
	default:
		s.drop(err, viaResolve, "writer", writer, "bytes", len(data), "via", "resolve")
		return Head{}, fmt.Errorf("cannot resolve head of %s: %w", writer, err)
	}
}

// ResolveAll resolves every allowed writer (and any other writer already
// accepted) but ourselves, a few at a time, so that a store that has just
// started catches up without waiting for the next announcements. A writer
// that cannot be resolved is logged and skipped; only the end of ctx is an
// error.
func (s *Store) ResolveAll(ctx context.Context) error {
	if s.isClosed() {
		return ErrClosed
	}
	sem := make(chan struct{}, resolveConcurrency)
	var wg sync.WaitGroup
	for _, w := range s.allowedWriters() {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
			defer cancel()
			h, err := s.Resolve(rctx, w)
			switch {
			case err == nil:
				s.log.Debug("writer resolved", "writer", w, "root", h.Root, "seq", h.Seq)
			case errors.Is(err, ErrNotFound):
				s.log.Debug("writer has no head yet", "writer", w, "err", err)
			default:
				s.log.Warn("cannot resolve writer", "writer", w, "err", err)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// mustPublicKey returns the key inside an ed25519 peer ID that a record
// has just been verified against.
func mustPublicKey(id peer.ID) ic.PubKey {
	pk, err := id.ExtractPublicKey()
	if err != nil {
		panic(fmt.Sprintf("headstore: verified writer %s has no inline key: %v", id, err))
	}
	return pk
}

// sleep waits d or until ctx ends, reporting whether the wait was complete.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
