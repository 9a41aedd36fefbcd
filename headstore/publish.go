package headstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/namesys"
	"github.com/ipfs/boxo/path"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/kubo/core/coreiface/options"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

const (
	// recordLifetime is how long a published record stays valid: long, so
	// that a writer that goes away stays resolvable for late joiners (the
	// same as Kubo's CLI default). The re-announce loop and Kubo's own
	// republisher renew it while the writer runs.
	recordLifetime = ipns.DefaultRecordLifetime
	// publishAttempts bounds retries of a publish that Kubo refused with
	// "validation ignored" (see pubMu).
	publishAttempts = 6
	firstRetryDelay = 5 * time.Millisecond
	// reannounceTimeout bounds one re-announcement, so that a daemon that
	// hangs cannot hold pubMu, and with it Publish, for ever.
	reannounceTimeout = 30 * time.Second
	// routingWait is how long a publish waits for Kubo to finish putting
	// the record to the routing system before it announces the head anyway
	// and leaves the put to finish in the background (publishRecord).
	routingWait = 500 * time.Millisecond
	// storedPoll is how often a publish past routingWait looks for its
	// record in Kubo's datastore.
	storedPoll = 50 * time.Millisecond
	// backgroundPutTimeout bounds a put left running.
	backgroundPutTimeout = 30 * time.Second
)

// Publish makes root this writer's head: Kubo signs an IPNS record under
// our key with the sequence number after the last one (found in Kubo's
// datastore at New, so it keeps growing across restarts), stores and
// publishes it (DHT and IPNS over pubsub, for late joiners), and the record,
// with our public key added, is announced on the database topic, without
// waiting for a slow DHT put to end (publishRecord). Publishes run one at a
// time. An error after the IPNS publish leaves the record published; the
// next re-announcement spreads it.
func (s *Store) Publish(ctx context.Context, root chunks.Hash) error {
	if s.isClosed() {
		return ErrClosed
	}
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	seq := s.lastSeq + 1
	h, err := s.publishHead(ctx, root, &seq)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.stats.Published++
	s.mu.Unlock()
	s.log.Debug("head published", "root", root, "seq", h.Seq)
	return nil
}

// reannounce re-publishes and re-announces our last head every interval
// until the store closes; while the put of our last record still runs
// (publishRecord), it only re-announces it.
func (s *Store) reannounce(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		s.pubMu.Lock()
		if s.bgPut.running() && len(s.lastAnn) > 0 {
			// The put of our last record still runs: a new one would only
			// cut it short. The signed record needs no renewal yet.
			ctx, cancel := context.WithTimeout(s.ctx, reannounceTimeout)
			if err := s.announce(ctx, s.lastAnn); err != nil && s.ctx.Err() == nil {
				s.log.Warn("cannot re-announce head", "root", s.lastRoot, "err", err)
			}
			cancel()
		} else if s.hasLast {
			ctx, cancel := context.WithTimeout(s.ctx, reannounceTimeout)
			// No sequence number: Kubo keeps the current one when the value
			// does not change and only renews the validity, so receivers see
			// a duplicate, not a new head.
			if _, err := s.publishHead(ctx, s.lastRoot, nil); err != nil && s.ctx.Err() == nil {
				s.log.Warn("cannot re-announce head", "root", s.lastRoot, "err", err)
			}
			cancel()
		}
		s.pubMu.Unlock()
	}
}

// publishHead has Kubo sign and publish root (with sequence seq, or Kubo's
// choice when nil), reads the signed record back, and announces it. The
// caller holds pubMu.
func (s *Store) publishHead(ctx context.Context, root chunks.Hash, seq *uint64) (Head, error) {
	err := s.publishRecord(ctx, root, seq)
	if seq != nil && isInvalidSequence(err) {
		// Kubo holds a record under our key newer than we knew of: the
		// repo's copy was unreadable at New, or another process shares the
		// key. Kubo then picks the next number itself.
		s.log.Warn("Kubo holds a newer record for our key than expected; letting it choose the sequence", "wanted", *seq, "err", err)
		seq = nil
		err = s.publishRecord(ctx, root, nil)
	}
	if err != nil {
		return Head{}, fmt.Errorf("cannot publish IPNS record of %s for root %s: %w", s.self, root, err)
	}
	raw, err := s.fetchRecord(ctx, s.self, true)
	if err != nil {
		// Kubo's offline router reads the copy its DHT client keeps; with
		// another routing (Routing.Type none: IPNS over pubsub only) the
		// online router has it.
		raw, err = s.fetchRecord(ctx, s.self, false)
	}
	if err != nil {
		return Head{}, fmt.Errorf("cannot read back our IPNS record for root %s: %w", root, err)
	}
	ann, err := embedPublicKey(raw, s.selfPK)
	if err != nil {
		return Head{}, fmt.Errorf("cannot make announcement for root %s: %w", root, err)
	}
	pr, err := parseRecord(ann, s.self)
	if err != nil {
		return Head{}, fmt.Errorf("our own IPNS record for root %s does not verify: %w", root, err)
	}
	h, err := pr.verify()
	if err != nil {
		return Head{}, fmt.Errorf("our own IPNS record for root %s does not verify: %w", root, err)
	}
	if h.Root != root || (seq != nil && h.Seq != *seq) {
		return Head{}, fmt.Errorf("published root %s but Kubo's record under key %s names root %s (seq %d): is another process publishing with it?",
			root, s.keyName, h.Root, h.Seq)
	}
	s.setOwnHead(h)
	if err := s.announce(ctx, ann); err != nil {
		return h, fmt.Errorf("published root %s (seq %d) but cannot announce it: %w", root, h.Seq, err)
	}
	return h, nil
}

// setOwnHead records h as our newest head. The caller holds pubMu or is New.
func (s *Store) setOwnHead(h Head) {
	s.lastSeq, s.lastRoot, s.hasLast, s.lastAnn = h.Seq, h.Root, true, h.Record
	s.mu.Lock()
	if cur, ok := s.known[s.self]; !ok || h.Seq > cur.Seq || (h.Seq == cur.Seq && !h.EOL.Before(cur.EOL)) {
		s.known[s.self] = h
	}
	s.mu.Unlock()
}

// loadOwnHead reads the last record Kubo holds for our key, so that the
// next Publish continues its sequence and Known reports our head. Kubo's
// datastore is where the sequence number persists; a record that cannot be
// read is not fatal (Publish recovers when Kubo refuses a sequence number).
func (s *Store) loadOwnHead(ctx context.Context) {
	raw, err := s.fetchRecord(ctx, s.self, true)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			s.log.Warn("cannot read our last IPNS record; sequence numbers restart from Kubo's", "err", err)
		}
		return
	}
	pr, err := parseRecord(raw, s.self)
	if err == nil {
		var h Head
		if h, err = pr.verify(); err == nil {
			if ann, aerr := embedPublicKey(raw, s.selfPK); aerr == nil {
				h.Record = ann
			}
			s.setOwnHead(h)
			return
		}
	}
	// Not a head (the key also published something else, or the record
	// expired): keep its sequence number so ours stay above it.
	if pr.rec != nil {
		if seq, serr := pr.rec.Sequence(); serr == nil {
			s.lastSeq = seq
		}
	}
	s.log.Warn("our last IPNS record is not a usable head", "err", err)
}

// publishRecord has Kubo sign, store and publish our record for root
// (namePublish). Kubo stores the signed record before it puts it to the
// routing system (the DHT), and that put can take long: seconds on a large
// DHT, and tens of seconds while peers in Kubo's routing table have
// vanished without closing their connections (a network partition), until
// the DHT drops them. The announcement, which is how the other writers
// hear of heads, must not wait for it: once the put has run for
// routingWait and Kubo's datastore holds the record, publishRecord returns
// and leaves the put running (s.bgPut) until it ends, the next publish
// supersedes it, backgroundPutTimeout passes or the store closes. Late
// joiners that resolve the name meanwhile find an older record, then hear
// the next announcement. The caller holds pubMu.
func (s *Store) publishRecord(ctx context.Context, root chunks.Hash, seq *uint64) error {
	// The record about to be signed supersedes the one still being put.
	s.stopBackgroundPut()
	select {
	case s.putToken <- struct{}{}:
	default:
		return ErrClosed // Close holds the token
	}
	pctx, cancel := context.WithTimeout(s.ctx, backgroundPutTimeout)
	put := &backgroundPut{cancel: cancel, ended: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		defer close(put.ended)
		err := s.namePublish(pctx, rootPath(root), seq)
		cancel()
		<-s.putToken // before done: a publish that waited leaves no put running
		done <- err
	}()
	wait := time.NewTimer(routingWait)
	defer wait.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			cancel()
			<-put.ended
			return ctx.Err()
		case <-wait.C:
			if s.holdsRecord(ctx, root, seq) {
				s.log.Debug("routing system slow to take our IPNS record; announcing it meanwhile", "root", root)
				s.bgPut = put
				return nil
			}
			wait.Reset(storedPoll)
		}
	}
}

// backgroundPut is a put of our record left running by publishRecord.
type backgroundPut struct {
	cancel context.CancelFunc
	ended  chan struct{}
}

// running reports whether the put still runs; false for nil.
func (p *backgroundPut) running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.ended:
		return false
	default:
		return true
	}
}

// stopBackgroundPut cuts short the put left running, if any, and waits for
// it to end. The caller holds pubMu.
func (s *Store) stopBackgroundPut() {
	if s.bgPut == nil {
		return
	}
	s.bgPut.cancel()
	<-s.bgPut.ended
	s.bgPut = nil
}

// holdsRecord reports whether Kubo's datastore holds our record for root
// (with sequence seq, unless nil).
func (s *Store) holdsRecord(ctx context.Context, root chunks.Hash, seq *uint64) bool {
	raw, err := s.fetchRecord(ctx, s.self, true)
	if err != nil {
		return false
	}
	pr, err := parseRecord(raw, s.self)
	if err != nil {
		return false
	}
	h, err := pr.verify()
	return err == nil && h.Root == root && (seq == nil || h.Seq == *seq)
}

// namePublish has Kubo sign and publish p under our key.
func (s *Store) namePublish(ctx context.Context, p path.Path, seq *uint64) error {
	return retryIgnored(ctx, func() error {
		if rpc := s.node.RPC(); rpc != nil {
			// The RPC client's Name().Publish drops the sequence option, so
			// the request is made by hand; the server honours it.
			req := rpc.Request("name/publish", p.String()).
				Option("key", s.keyName).
				Option("allow-offline", true).
				Option("resolve", false).
				Option("lifetime", recordLifetime.String()).
				Option("ttl", s.ttl.String())
			if seq != nil {
				req = req.Option("sequence", *seq)
			}
			var out struct{ Name, Value string }
			return req.Exec(ctx, &out)
		}
		opts := []options.NamePublishOption{
			options.Name.Key(s.keyName),
			options.Name.AllowOffline(true),
			options.Name.ValidTime(recordLifetime),
			options.Name.TTL(s.ttl),
		}
		if seq != nil {
			opts = append(opts, options.Name.Sequence(*seq))
		}
		_, err := s.api.Name().Publish(ctx, p, opts...)
		return err
	})
}

// announce publishes an announcement on the topic.
func (s *Store) announce(ctx context.Context, ann []byte) error {
	err := retryIgnored(ctx, func() error { return s.api.PubSub().Publish(ctx, s.topic, ann) })
	if err != nil {
		return fmt.Errorf("cannot publish on topic %q: %w", s.topic, err)
	}
	s.mu.Lock()
	s.stats.Announced++
	s.mu.Unlock()
	return nil
}

// fetchRecord returns the IPNS record of writer from Kubo's routing system;
// offline, only what the node holds itself (for our own key, the record its
// publisher stored).
func (s *Store) fetchRecord(ctx context.Context, writer peer.ID, offline bool) ([]byte, error) {
	api := s.api
	if offline {
		api = s.node.OfflineAPI()
	}
	b, err := api.Routing().Get(ctx, "/ipns/"+writer.String())
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, writer, err)
		}
		return nil, fmt.Errorf("cannot get IPNS record of %s: %w", writer, err)
	}
	return b, nil
}

// retryIgnored calls fn again, with growing pauses, while Kubo refuses a
// pubsub publish as "validation ignored": its pubsub drops a message whose
// per-node sequence number is not above the last one, which happens when
// another publish from the same node (ours, IPNS over pubsub, or another
// program's) raced this one.
func retryIgnored(ctx context.Context, fn func() error) error {
	delay := firstRetryDelay
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == publishAttempts || !isValidationIgnored(err) {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
		delay *= 2
	}
}

// Kubo's errors arrive over RPC as text, so they are recognised by their
// messages as well as by identity (embedded node).

func isValidationIgnored(err error) bool {
	return err != nil && strings.Contains(err.Error(), "validation ignored")
}

func isInvalidSequence(err error) bool {
	return err != nil && (errors.Is(err, namesys.ErrInvalidSequence) ||
		strings.Contains(err.Error(), namesys.ErrInvalidSequence.Error()))
}

func isNotFound(err error) bool {
	return errors.Is(err, routing.ErrNotFound) || errors.Is(err, ds.ErrNotFound) ||
		strings.Contains(err.Error(), routing.ErrNotFound.Error()) ||
		strings.Contains(err.Error(), ds.ErrNotFound.Error())
}
