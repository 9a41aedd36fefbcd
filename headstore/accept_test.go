package headstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// offline builds a Store without a Kubo node, fed by handle directly: the
// checks that need state (self, trust, replay) and Heads delivery.
func offline(t *testing.T, self peer.ID, cfg Config) *Store {
	t.Helper()
	s := newStore(context.Background(), cfg)
	s.self = self
	s.allowed[self] = true
	s.wg.Go(func() { s.queue.run(s.ctx) })
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestAcceptTrustReplaySelf(t *testing.T) {
	me, a, stranger := newWriterKey(t), newWriterKey(t), newWriterKey(t)
	s := offline(t, me.id, Config{Allowed: []peer.ID{a.id}})
	r := func(n int) chunks.Hash { return chunks.Of([]byte{byte(n)}) }

	s.handle("relay", me.announcement(t, r(1), 1))       // our own echo
	s.handle("relay", stranger.announcement(t, r(1), 1)) // valid, not allowed
	s.handle("relay", a.announcement(t, r(1), 5))        // accepted
	s.handle("relay", a.announcement(t, r(1), 5))        // re-announcement
	s.handle("relay", a.announcement(t, r(9), 5))        // same seq, other root
	s.handle("relay", a.announcement(t, r(0), 4))        // older
	s.handle("relay", a.announcement(t, r(2), 6))        // accepted
	// Signed by the stranger, carrying our key: a forgery of our heads is
	// an attack, not an echo.
	forged, err := embedPublicKey(stranger.announcement(t, r(4), 9), me.pk)
	if err != nil {
		t.Fatal(err)
	}
	s.handle("relay", forged)

	st := s.Stats()
	want := map[string]int64{ReasonSelf: 1, ReasonUntrusted: 1, ReasonDuplicate: 1, ReasonReplay: 2, ReasonBadSignature: 1}
	if st.Received != 8 || st.Accepted != 2 || !equalCounts(st.Dropped, want) {
		t.Fatalf("stats %+v, want received 8, accepted 2, dropped %v", st, want)
	}
	if k := s.Known(); len(k) != 1 || k[a.id].Root != r(2) || k[a.id].Seq != 6 {
		t.Fatalf("known = %v, want only %s at seq 6", k, a.id)
	}
	if h := recv(t, s); h.Writer != a.id || h.Seq != 5 && h.Seq != 6 {
		t.Fatalf("first head %+v", h)
	}

	open := offline(t, me.id, Config{Open: true})
	open.handle("relay", stranger.announcement(t, r(3), 1))
	if h := recv(t, open); h.Writer != stranger.id || h.Root != r(3) {
		t.Fatalf("open store delivered %+v, want the stranger's head", h)
	}
	if _, err := s.Resolve(context.Background(), stranger.id); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("Resolve of an untrusted writer: %v, want ErrUntrusted", err)
	}
}

// An open database keeps heads of at most MaxWriters writers besides the
// allowed ones; further new writers are dropped and counted, known ones
// still move, and allowed ones always get in.
func TestOpenDatabaseCapsWriters(t *testing.T) {
	me, friend := newWriterKey(t), newWriterKey(t)
	s := offline(t, me.id, Config{Open: true, Allowed: []peer.ID{friend.id}, MaxWriters: 3})
	r := func(n int) chunks.Hash { return chunks.Of([]byte{byte(n)}) }
	var first []writerKey
	for i := range 3 {
		w := newWriterKey(t)
		first = append(first, w)
		s.handle("relay", w.announcement(t, r(i), 1))
	}
	extra := newWriterKey(t)
	s.handle("relay", extra.announcement(t, r(7), 1))    // no room
	s.handle("relay", first[0].announcement(t, r(8), 2)) // known: moves
	s.handle("relay", friend.announcement(t, r(9), 1))   // allowed: always
	st := s.Stats()
	if st.Accepted != 5 || st.Dropped[ReasonTooManyWriters] != 1 {
		t.Fatalf("stats %+v, want 5 accepted and 1 dropped as %s", st, ReasonTooManyWriters)
	}
	k := s.Known()
	if _, ok := k[extra.id]; ok || len(k) != 4 || k[first[0].id].Seq != 2 || k[friend.id].Root != r(9) {
		t.Fatalf("known = %v", k)
	}
}

func equalCounts(got, want map[string]int64) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	for k, v := range got {
		if want[k] != v {
			return false
		}
	}
	return true
}

// recv waits for the next head, failing after a bound.
func recv(t *testing.T, s *Store) Head {
	t.Helper()
	select {
	case h, ok := <-s.Heads():
		if !ok {
			t.Fatal("Heads closed")
		}
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("no head within 5s")
	}
	return Head{}
}

// TestHeadsCoalesce checks that a reader that does not keep up gets each
// writer's newest head, not a backlog, and that no writer's heads go back.
func TestHeadsCoalesce(t *testing.T) {
	me, a, b := newWriterKey(t), newWriterKey(t), newWriterKey(t)
	s := offline(t, me.id, Config{Allowed: []peer.ID{a.id, b.id}})
	const n = 200
	for i := 1; i <= n; i++ {
		if err := s.accept(Head{Writer: a.id, Seq: uint64(i), Root: chunks.Of([]byte{byte(i)})}, viaLocal); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.accept(Head{Writer: b.id, Seq: 1}, viaLocal); err != nil {
		t.Fatal(err)
	}
	last := map[peer.ID]uint64{}
	got := 0
	for last[a.id] != n || last[b.id] != 1 {
		h := recv(t, s)
		got++
		if h.Seq <= last[h.Writer] {
			t.Fatalf("head of %s went from seq %d to %d", h.Writer, last[h.Writer], h.Seq)
		}
		last[h.Writer] = h.Seq
	}
	// At most: one head of a already handed to the channel, a newer one,
	// and b's.
	if got > 4 {
		t.Fatalf("a slow reader got %d heads for 2 writers; coalescing failed", got)
	}
	select {
	case h := <-s.Heads():
		t.Fatalf("extra head %+v", h)
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-s.Heads(); ok {
		t.Fatal("Heads not closed by Close")
	}
}
