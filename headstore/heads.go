package headstore

import (
	"context"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// headQueue hands accepted heads to the reader of Heads without ever
// blocking the receiver: it holds at most one head per writer, the newest,
// so a slow reader skips heads that were superseded while it was busy (a
// sync loop only cares about a writer's latest root).
type headQueue struct {
	out  chan Head     // unbuffered: a head waits here only while it is current
	wake chan struct{} // capacity 1: "pending changed"

	mu      sync.Mutex
	pending map[peer.ID]Head
	order   []peer.ID // writers in pending, oldest first
}

func newHeadQueue() *headQueue {
	return &headQueue{
		out:     make(chan Head),
		wake:    make(chan struct{}, 1),
		pending: make(map[peer.ID]Head),
	}
}

// offer queues h unless a newer head of its writer is already queued.
func (q *headQueue) offer(h Head) {
	q.mu.Lock()
	if cur, ok := q.pending[h.Writer]; ok {
		if h.Seq > cur.Seq {
			q.pending[h.Writer] = h
		}
	} else {
		q.pending[h.Writer] = h
		q.order = append(q.order, h.Writer)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take removes and returns the oldest queued head.
func (q *headQueue) take() (Head, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return Head{}, false
	}
	w := q.order[0]
	q.order = q.order[1:]
	h := q.pending[w]
	delete(q.pending, w)
	return h, true
}

// supersede returns the queued head of h's writer, removing it from the
// queue, if it is newer than h; else h.
func (q *headQueue) supersede(h Head) Head {
	q.mu.Lock()
	defer q.mu.Unlock()
	cur, ok := q.pending[h.Writer]
	if !ok || cur.Seq <= h.Seq {
		return h
	}
	delete(q.pending, h.Writer)
	for i, w := range q.order {
		if w == h.Writer {
			q.order = append(q.order[:i], q.order[i+1:]...)
			break
		}
	}
	return cur
}

// run delivers queued heads to out until ctx ends, then closes out.
func (q *headQueue) run(ctx context.Context) {
	defer close(q.out)
	for {
		h, ok := q.take()
		if !ok {
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		for sent := false; !sent; {
			select {
			case q.out <- h:
				sent = true
			case <-q.wake:
				// A newer head of the same writer replaces the one the
				// reader has not taken yet.
				h = q.supersede(h)
			case <-ctx.Done():
				return
			}
		}
	}
}
