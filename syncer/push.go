package syncer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
	"github.com/noms-ipfs/noms-ipfs/headstore"
	"github.com/noms-ipfs/noms-ipfs/internal/carv1"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// Chunk push.
//
// Bitswap sends a peer's wants at most once per 20 ms (boxo's
// minSendMessageDelay), so every chunk fetched on demand costs about 20 ms,
// and a head's chunks are found one level at a time: adopting a commit took
// ~90 ms on loopback, a merge of 100 unseen commits seconds. So before it
// publishes a new root, a syncer sends the chunks under it that it has not
// sent or received before (walking down from the root, stopping at chunks
// already sent or received, within a budget) as one message on the pubsub
// topic PushTopic(database). Every syncer of the database imports what
// arrives there into its node before the matching head announcement is
// processed, so adopting a head usually needs no bitswap round trip. Chunks
// are content-addressed, so a push is checked by hashing alone; it carries
// no authority (heads come only from the head store). What is not pushed, or
// lost (pubsub is lossy), is still fetched over bitswap.
//
// Message: "nmp1", uvarint count, then per chunk uvarint length and bytes.

// PushTopic is the pubsub topic on which a database's chunks are pushed.
func PushTopic(database string) string { return headstore.TopicPrefix + database + "/chunks" }

const (
	pushMagic = "nmp1"
	// pushBudget bounds one push message; pubsub refuses messages above
	// 1 MiB.
	pushBudget    = 512 << 10
	maxPushChunks = 4096
	// pushSeenMax bounds the memory of chunks known to be sent or received;
	// past it the set starts over (pushes then resend a little).
	pushSeenMax = 1 << 20
	// settleMax bounds how long processing a head waits for imports of
	// pushes in flight.
	settleMax = 200 * time.Millisecond
)

var errBadPush = errors.New("malformed chunk push")

type pushCounters struct {
	sent, sentChunks, sentBytes, received, receivedChunks, receivedBytes, dropped atomic.Int64
}

// pusher sends and receives chunk pushes for one database.
type pusher struct {
	node  *ipfsnode.Node
	store chunks.ChunkStore
	topic string
	log   *slog.Logger
	ctr   *pushCounters

	self peer.ID // the node's ID, to skip our own messages

	mu        sync.Mutex
	seen      map[chunks.Hash]struct{}
	importing int
	idle      chan struct{} // closed when importing drops to 0; nil while 0
}

func newPusher(n *ipfsnode.Node, st chunks.ChunkStore, database string, log *slog.Logger, ctr *pushCounters) *pusher {
	return &pusher{node: n, store: st, topic: PushTopic(database), log: log, ctr: ctr, seen: map[chunks.Hash]struct{}{}}
}

func (p *pusher) markSeen(hs []chunks.Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen)+len(hs) > pushSeenMax {
		p.seen = map[chunks.Hash]struct{}{}
	}
	for _, h := range hs {
		p.seen[h] = struct{}{}
	}
}

func (p *pusher) unseen(hs []chunks.Hash) []chunks.Hash {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := hs[:0:0]
	for _, h := range hs {
		if _, ok := p.seen[h]; !ok {
			out = append(out, h)
		}
	}
	return out
}

// collect walks down from root, breadth first, and returns the local chunks
// not seen before, within the budget.
func (p *pusher) collect(ctx context.Context, root chunks.Hash) ([]chunks.Chunk, error) {
	var out []chunks.Chunk
	size := 0
	visited := chunks.HashSet{}
	level := []chunks.Hash{root}
	for len(level) > 0 && size < pushBudget && len(out) < maxPushChunks {
		var fresh []chunks.Hash
		for _, h := range p.unseen(level) {
			if !visited.Has(h) {
				visited.Insert(h)
				fresh = append(fresh, h)
			}
		}
		if len(fresh) == 0 {
			break
		}
		// Only what the node holds: a chunk read lazily from another
		// writer may lack its children, which are not ours to push.
		absent, err := p.store.HasMany(ctx, fresh)
		if err != nil {
			return nil, err
		}
		local := fresh[:0]
		for _, h := range fresh {
			if !absent.Has(h) {
				local = append(local, h)
			}
		}
		var next []chunks.Hash
		full := false
		err = p.store.GetMany(ctx, local, func(c chunks.Chunk) error {
			if full || size+len(c.Data()) > pushBudget || len(out) >= maxPushChunks {
				full = true
				return nil
			}
			size += len(c.Data())
			out = append(out, c)
			return dagcbor.Links(c.Data(), func(l cid.Cid) error {
				if h, err := chunks.HashFromCID(l); err == nil {
					next = append(next, h)
				}
				return nil
			})
		})
		if err != nil {
			return nil, err
		}
		if full {
			break
		}
		level = next
	}
	return out, nil
}

// push sends the unseen chunks under root. Failures only cost speed.
func (p *pusher) push(ctx context.Context, root chunks.Hash) {
	cs, err := p.collect(ctx, root)
	if err != nil {
		p.log.Debug("cannot collect chunks to push", "root", root, "err", err)
		return
	}
	if len(cs) == 0 {
		return
	}
	msg := binary.AppendUvarint([]byte(pushMagic), uint64(len(cs)))
	hs := make([]chunks.Hash, len(cs))
	bytesOut := 0
	for i, c := range cs {
		msg = binary.AppendUvarint(msg, uint64(len(c.Data())))
		msg = append(msg, c.Data()...)
		hs[i] = c.Hash()
		bytesOut += len(c.Data())
	}
	// Kubo refuses a node's message whose sequence number is not above the
	// last one ("validation ignored"), which a concurrent head-store
	// publish on the same node can cause: try again a few times.
	for attempt, wait := 0, 5*time.Millisecond; ; attempt, wait = attempt+1, wait*2 {
		err = p.node.API().PubSub().Publish(ctx, p.topic, msg)
		if err == nil || attempt == 3 || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
	}
	if err != nil {
		p.log.Debug("cannot push chunks", "root", root, "chunks", len(cs), "err", err)
		return
	}
	p.markSeen(hs)
	p.ctr.sent.Add(1)
	p.ctr.sentChunks.Add(int64(len(cs)))
	p.ctr.sentBytes.Add(int64(bytesOut))
	p.log.Debug("pushed chunks", "root", root, "chunks", len(cs), "bytes", bytesOut)
}

// receive imports pushed chunks into the node until ctx ends.
func (p *pusher) receive(ctx context.Context) {
	sctx, cancel := context.WithCancel(ctx)
	sub, err := p.node.API().PubSub().Subscribe(sctx, p.topic)
	if err != nil {
		cancel()
		if ctx.Err() == nil {
			p.log.Warn("cannot subscribe to chunk pushes; chunks will come over bitswap only", "topic", p.topic, "err", err)
		}
		return
	}
	defer func() {
		// Over RPC, Kubo's client's Close races with the goroutine that
		// reads the stream: stop that goroutine first by ending the
		// request, and wait for it (Next then reports io.EOF).
		cancel()
		if p.node.RPC() != nil {
			dctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
			for {
				if _, err := sub.Next(dctx); errors.Is(err, io.EOF) || dctx.Err() != nil {
					break
				}
			}
			stop()
		}
		_ = sub.Close()
	}()
	for {
		msg, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				p.log.Warn("chunk push subscription ended", "err", err)
			}
			return
		}
		if msg.From() == p.self {
			continue
		}
		blks, n, err := parsePush(msg.Data())
		if err != nil {
			p.ctr.dropped.Add(1)
			p.log.Debug("dropped chunk push", "from", msg.From(), "bytes", len(msg.Data()), "err", err)
			continue
		}
		p.begin()
		err = p.importBlocks(ctx, blks)
		p.end()
		if err != nil {
			if ctx.Err() == nil {
				p.ctr.dropped.Add(1)
				p.log.Debug("cannot import pushed chunks", "from", msg.From(), "err", err)
			}
			continue
		}
		hs := make([]chunks.Hash, len(blks))
		for i, b := range blks {
			hs[i], _ = chunks.HashFromCID(b.Cid())
		}
		p.markSeen(hs)
		p.ctr.received.Add(1)
		p.ctr.receivedChunks.Add(int64(len(blks)))
		p.ctr.receivedBytes.Add(int64(n))
	}
}

// parsePush decodes and hashes a push message.
func parsePush(msg []byte) ([]blocks.Block, int, error) {
	rest, ok := bytes.CutPrefix(msg, []byte(pushMagic))
	if !ok {
		return nil, 0, fmt.Errorf("%w: no magic", errBadPush)
	}
	count, n := binary.Uvarint(rest)
	if n <= 0 || count == 0 || count > maxPushChunks {
		return nil, 0, fmt.Errorf("%w: bad count", errBadPush)
	}
	rest = rest[n:]
	blks := make([]blocks.Block, 0, count)
	total := 0
	for range count {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l == 0 || l > chunks.MaxChunkSize || l > uint64(len(rest)-n) {
			return nil, 0, fmt.Errorf("%w: bad chunk length", errBadPush)
		}
		data := rest[n : n+int(l)]
		rest = rest[n+int(l):]
		if err := dagcbor.Validate(data); err != nil {
			return nil, 0, fmt.Errorf("%w: %w", errBadPush, err)
		}
		b, err := blocks.NewBlockWithCid(bytes.Clone(data), chunks.Of(data).CID())
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", errBadPush, err)
		}
		blks = append(blks, b)
		total += int(l)
	}
	if len(rest) != 0 {
		return nil, 0, fmt.Errorf("%w: trailing bytes", errBadPush)
	}
	return blks, total, nil
}

// importBlocks writes blocks into the node, unpinned: the pin of the root
// that adopts them keeps them.
func (p *pusher) importBlocks(ctx context.Context, blks []blocks.Block) error {
	if p.node.Embedded() {
		return p.node.Core().Blocks.AddBlocks(ctx, blks)
	}
	car := carv1.Append(nil, blks[0].Cid(), blks)
	resp, err := p.node.RPC().Request("dag/import").
		Option("pin-roots", false).
		Option("silent", true).
		FileBody(bytes.NewReader(car)).
		Send(ctx)
	if err != nil {
		return err
	}
	defer resp.Close()
	if resp.Error != nil {
		return resp.Error
	}
	_, err = io.Copy(io.Discard, resp.Output)
	return err
}

func (p *pusher) begin() {
	p.mu.Lock()
	if p.importing == 0 {
		p.idle = make(chan struct{})
	}
	p.importing++
	p.mu.Unlock()
}

func (p *pusher) end() {
	p.mu.Lock()
	p.importing--
	if p.importing == 0 {
		close(p.idle)
		p.idle = nil
	}
	p.mu.Unlock()
}

// settle waits, up to settleMax, for imports in flight: the head being
// processed was probably pushed just before it was announced.
func (p *pusher) settle(ctx context.Context) {
	p.mu.Lock()
	idle := p.idle
	p.mu.Unlock()
	if idle == nil {
		return
	}
	t := time.NewTimer(settleMax)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	case <-ctx.Done():
	}
}
