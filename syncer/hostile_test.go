package syncer_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/kubo/core/coreiface/options"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/headstore"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/syncer"
)

// A third daemon floods the database's topic with announcements that must
// not move anyone: a replay of A's older head, a valid record of a writer
// nobody allowed (forged head for the database), random bytes and a message
// over the size cap. B counts each under its reason, its head stays, and
// A's next commit is adopted as usual.
func TestClusterHostileAnnouncements(t *testing.T) {
	c := newCluster(t, "A", "B", "Evil")
	a, b, evil := c.peers[0], c.peers[1], c.peers[2]
	allowed := c.writers()[:2]
	a.start(t, allowed, syncer.Config{})
	b.start(t, allowed, syncer.Config{})

	h1 := a.commit(t, "data", "one", 1)
	testwait.Until(t, 20*time.Second, "B adopting A's first head", func() (bool, string) { return b.head("data") == h1, b.head("data").String() })
	old := b.hs.Known()[a.key]
	h2 := a.commit(t, "data", "two", 2)
	testwait.Until(t, 20*time.Second, "B adopting A's second head", func() (bool, string) {
		return b.head("data") == h2 && b.hs.Known()[a.key].Seq > old.Seq, b.head("data").String()
	})

	// The evil daemon joins the topic so that its messages reach B.
	topic := a.hs.Topic()
	subCtx, cancel := context.WithCancel(ctx(t))
	sub, err := evil.node.API().PubSub().Subscribe(subCtx, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		// client/rpc's subscription races Close against its reader until
		// the reader has seen the end: cancel, drain to EOF, then close.
		cancel()
		dctx, stop := context.WithTimeout(context.Background(), 10*time.Second)
		defer stop()
		for {
			if _, err := sub.Next(dctx); errors.Is(err, io.EOF) || dctx.Err() != nil {
				break
			}
		}
		_ = sub.Close()
	}()
	testwait.Until(t, 20*time.Second, "the evil daemon seeing B on the topic", func() (bool, string) {
		ps, err := evil.node.API().PubSub().Peers(ctx(t), options.PubSub.Topic(topic))
		return err == nil && slices.ContainsFunc(ps, func(p peer.ID) bool { return p.String() == b.kubo.PeerID }), fmt.Sprint(ps, err)
	})

	stranger, _, err := ic.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forged := chunks.Of([]byte("a root nobody should adopt"))
	rec, err := ipns.NewRecord(stranger, path.FromCid(forged.CID()), 1, time.Now().Add(time.Hour), time.Minute, ipns.WithPublicKey(true))
	if err != nil {
		t.Fatal(err)
	}
	forgedRec, err := ipns.MarshalRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 300)
	_, _ = rand.Read(junk)
	huge := make([]byte, 1<<20-1<<10) // about the most gossipsub carries
	_, _ = rand.Read(huge)
	send := []struct {
		what, reason string
		data         []byte
	}{
		{"A's older head, replayed", headstore.ReasonReplay, old.Record},
		{"a valid head of a writer nobody allowed", headstore.ReasonUntrusted, forgedRec},
		{"random bytes", headstore.ReasonMalformed, junk},
		{"an oversized message", headstore.ReasonOversized, huge},
	}
	before := b.hs.Stats()
	for _, m := range send {
		prev := b.hs.Stats()
		// Kubo may drop one of a burst from a sender (per-sender sequence
		// checks run concurrently), so a message not received is resent.
		for attempt := 1; ; attempt++ {
			if err := evil.node.API().PubSub().Publish(ctx(t), topic, m.data); err != nil {
				t.Fatalf("publish %s: %v", m.what, err)
			}
			// B's own and A's re-announcements keep arriving (dropped as
			// self and duplicate), so only the expected reason tells.
			if testwait.Poll(2*time.Second, func() bool { return b.hs.Stats().Dropped[m.reason] > prev.Dropped[m.reason] }) {
				break
			}
			if attempt == 3 {
				t.Fatalf("B never received %s: %+v", m.what, b.hs.Stats())
			}
		}
		if st := b.hs.Stats(); st.Accepted != prev.Accepted {
			t.Fatalf("%s: B accepted %d more heads; stats %+v", m.what, st.Accepted-prev.Accepted, st)
		}
	}
	st := b.hs.Stats()
	if st.Accepted != before.Accepted {
		t.Fatalf("B accepted %d heads from the evil daemon", st.Accepted-before.Accepted)
	}
	for _, m := range send {
		if st.Dropped[m.reason] <= before.Dropped[m.reason] {
			t.Errorf("drops as %q did not grow: before %v, after %v", m.reason, before.Dropped, st.Dropped)
		}
	}
	if b.head("data") != h2 {
		t.Fatalf("B's head moved to %s during the attack", b.head("data"))
	}
	strangerID, err := peer.IDFromPrivateKey(stranger)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := b.hs.Known()[strangerID]; ok {
		t.Fatalf("B keeps a head for the stranger")
	}
	t.Logf("B's drops: %v", maps.Clone(st.Dropped))

	// And the peers keep syncing.
	h3 := a.commit(t, "data", "three", 3)
	testwait.Until(t, 20*time.Second, "B adopting A's head after the attack", func() (bool, string) { return b.head("data") == h3, b.head("data").String() })
}
