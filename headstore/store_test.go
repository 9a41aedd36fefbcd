package headstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipns"
	ipns_pb "github.com/ipfs/boxo/ipns/pb"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	iface "github.com/ipfs/kubo/core/coreiface"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

func root(s string) chunks.Hash { return chunks.Of([]byte(s)) }

// TestPublishReceiveResolveRestart: A's heads reach B over pubsub, in
// order and verified; a new Store on B catches up by resolving, with no
// announcement; A's sequence numbers survive a daemon restart.
func TestPublishReceiveResolveRestart(t *testing.T) {
	ds := cluster(t, 2)
	a, b := ds[0], ds[1]
	const db = "pubres"
	ka, kb := genKey(t, a.n, DefaultKeyPrefix+db), genKey(t, b.n, DefaultKeyPrefix+db)
	// No re-announcements: what B learns after its restart it must learn
	// by resolving.
	cfgA := Config{Database: db, Allowed: []peer.ID{kb}, Announce: -1}
	cfgB := Config{Database: db, Allowed: []peer.ID{ka}, Announce: -1}
	sa, sb := open(t, a.n, cfgA), open(t, b.n, cfgB)
	if sa.Self() != ka || sb.Self() != kb || sa.KeyName() != DefaultKeyPrefix+db {
		t.Fatalf("stores use keys %s (%s), %s; want the generated %s, %s", sa.Self(), sa.KeyName(), sb.Self(), ka, kb)
	}
	waitTopicPeer(t, a.n, sa.Topic(), b.d.PeerID)

	r1, r2 := root("r1"), root("r2")
	if err := sa.Publish(ctxT(t), r1); err != nil {
		t.Fatalf("publish r1: %v", err)
	}
	h1 := nextHead(t, sb, ka, "r1 from A", func(h Head) bool { return h.Root == r1 })
	if h1.Writer != ka || len(h1.Record) == 0 || time.Until(h1.EOL) < time.Hour {
		t.Fatalf("head %+v: want writer %s, a record, a long validity", h1, ka)
	}
	if err := sa.Publish(ctxT(t), r2); err != nil {
		t.Fatalf("publish r2: %v", err)
	}
	h2 := nextHead(t, sb, ka, "r2 from A", func(h Head) bool { return h.Root == r2 })
	if h2.Seq <= h1.Seq {
		t.Fatalf("seq went from %d (r1) to %d (r2)", h1.Seq, h2.Seq)
	}
	if k := sb.Known()[ka]; k.Root != r2 || k.Seq != h2.Seq {
		t.Fatalf("B knows A at %+v, want r2 seq %d", k, h2.Seq)
	}
	if k := sa.Known()[ka]; k.Root != r2 || k.Seq != h2.Seq {
		t.Fatalf("A knows itself at %+v, want r2 seq %d", k, h2.Seq)
	}
	// A's own announcements come back to it and are dropped as such.
	waitDropped(t, sa, ReasonSelf, 2)
	if st := sa.Stats(); st.Published != 2 || st.Announced != 2 || st.Accepted != 0 {
		t.Fatalf("A's stats %+v: want 2 published and announced, nothing accepted", st)
	}

	// Publish → receive latency, for the record (the bench measures it
	// properly).
	var lat, pub []time.Duration
	last := h2
	for i := range 20 {
		r := root(fmt.Sprint("lat", i))
		began := time.Now()
		if err := sa.Publish(ctxT(t), r); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		pub = append(pub, time.Since(began))
		h := nextHead(t, sb, ka, fmt.Sprint("latency head ", i), func(h Head) bool { return h.Root == r })
		lat = append(lat, time.Since(began))
		if h.Seq != last.Seq+1 {
			t.Fatalf("seq %d after %d: want consecutive numbers", h.Seq, last.Seq)
		}
		last = h
	}
	t.Logf("Publish() over RPC: %s; Publish start → B's Heads(): %s", quantiles(pub), quantiles(lat))

	// B restarts its store: the new one learns A's head from the routing
	// system, without any announcement.
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	sb2 := open(t, b.n, cfgB)
	if k, ok := sb2.Known()[ka]; ok {
		t.Fatalf("new store knows A before resolving: %+v", k)
	}
	if err := sb2.ResolveAll(ctxT(t)); err != nil {
		t.Fatalf("ResolveAll: %v", err)
	}
	if k := sb2.Known()[ka]; k.Root != last.Root || k.Seq != last.Seq {
		t.Fatalf("after ResolveAll B knows A at seq %d root %s, want seq %d root %s", k.Seq, k.Root, last.Seq, last.Root)
	}
	if h := nextHead(t, sb2, ka, "resolved head on Heads", func(Head) bool { return true }); h.Seq != last.Seq {
		t.Fatalf("Heads gave seq %d, want the resolved %d", h.Seq, last.Seq)
	}
	if h, err := verifyBytes(sb2.Known()[ka].Record, ""); err != nil || h.Writer != ka {
		t.Fatalf("a resolved head's record does not verify on its own: %+v, %v", h, err)
	}
	if st := sb2.Stats(); st.Received != 0 || st.Resolved != 1 || st.Accepted != 1 {
		t.Fatalf("B's new store stats %+v: want 1 resolved and accepted, nothing received", st)
	}
	// Resolving again finds nothing newer and reports the known head.
	if h, err := sb2.Resolve(ctxT(t), ka); err != nil || h.Seq != last.Seq {
		t.Fatalf("second Resolve: %+v, %v", h, err)
	}
	// B's own key is resolvable too, and has no head yet.
	if _, err := sb2.Resolve(ctxT(t), kb); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Resolve of B's unpublished key: %v, want ErrNotFound", err)
	}

	// A's daemon restarts; A's new store continues the sequence.
	if err := sa.Close(); err != nil {
		t.Fatal(err)
	}
	a.d.Restart(t)
	a.d.Connect(t, b.d)
	a.n = connect(t, a.d)
	sa2 := open(t, a.n, cfgA)
	if k := sa2.Known()[ka]; k.Seq != last.Seq || k.Root != last.Root {
		t.Fatalf("after restart A's store found its head at seq %d root %s, want %d %s", k.Seq, k.Root, last.Seq, last.Root)
	}
	waitTopicPeer(t, a.n, sa2.Topic(), b.d.PeerID)
	r3 := root("r3")
	if err := sa2.Publish(ctxT(t), r3); err != nil {
		t.Fatalf("publish after restart: %v", err)
	}
	h3 := nextHead(t, sb2, ka, "r3 after A's restart", func(h Head) bool { return h.Root == r3 })
	if h3.Seq != last.Seq+1 {
		t.Fatalf("after restart seq %d, want %d", h3.Seq, last.Seq+1)
	}

	// Someone else publishes under A's key behind the store's back, with a
	// higher sequence number: the store's next publish goes above it.
	jump := h3.Seq + 10
	a.d.IPFS(t, "name", "publish", "--key", DefaultKeyPrefix+db, "--sequence", fmt.Sprint(jump),
		"--resolve=false", "--allow-offline", rootPath(root("elsewhere")).String())
	r4 := root("r4")
	if err := sa2.Publish(ctxT(t), r4); err != nil {
		t.Fatalf("publish after an outside publish: %v", err)
	}
	if h4 := nextHead(t, sb2, ka, "r4 after an outside publish", func(h Head) bool { return h.Root == r4 }); h4.Seq != jump+1 {
		t.Fatalf("seq %d after an outside publish at %d", h4.Seq, jump)
	}
}

// TestTrustAndReannounce: heads of a writer not in Allowed are dropped as
// untrusted, and accepted by an open store, which learns them from the
// periodic re-announcement alone. The writer's key is generated on first use.
func TestTrustAndReannounce(t *testing.T) {
	ds := cluster(t, 2)
	b, c := ds[0], ds[1]
	const db = "trust"
	someone := newWriterKey(t).id
	sb := open(t, b.n, Config{Database: db, Allowed: []peer.ID{someone}, Announce: -1})
	sc := open(t, c.n, Config{Database: db, Announce: 200 * time.Millisecond})
	keys, err := c.n.API().Key().List(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(keys, func(k iface.Key) bool { return k.Name() == DefaultKeyPrefix+db && k.ID() == sc.Self() }) {
		t.Fatalf("C's keystore lacks the generated key %s", DefaultKeyPrefix+db)
	}
	waitTopicPeer(t, c.n, sc.Topic(), b.d.PeerID)

	rc := root("c1")
	if err := sc.Publish(ctxT(t), rc); err != nil {
		t.Fatal(err)
	}
	waitDropped(t, sb, ReasonUntrusted, 1)
	if _, ok := sb.Known()[sc.Self()]; ok {
		t.Fatal("untrusted head became known")
	}
	if _, err := sb.Resolve(ctxT(t), sc.Self()); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("Resolve of untrusted writer: %v, want ErrUntrusted", err)
	}

	// An open store, started after the publish, with no resolve: it hears
	// the re-announcement.
	so := open(t, b.n, Config{Database: db, KeyName: "open-reader", Open: true, Announce: -1})
	h := nextHead(t, so, sc.Self(), "C's head at the open store", func(h Head) bool { return h.Root == rc })
	// Re-announcements repeat the head: duplicates, not new heads, and not
	// replays.
	waitDropped(t, so, ReasonDuplicate, 1)
	st := so.Stats()
	if st.Accepted != 1 || st.Dropped[ReasonReplay] != 0 {
		t.Fatalf("open store stats %+v: want 1 accepted, no replay", st)
	}
	if k := so.Known()[sc.Self()]; k.Seq != h.Seq || k.EOL.Before(h.EOL) {
		t.Fatalf("known %+v after re-announcements of %+v", k, h)
	}
	if got, err := so.Resolve(ctxT(t), sc.Self()); err != nil || got.Root != rc {
		t.Fatalf("open store resolving C: %+v, %v", got, err)
	}
}

// TestHostileAnnouncements: forged, replayed, malformed and oversized
// announcements, sent raw on the topic from a third daemon, are each counted
// under their reason and do not stop B from accepting A's next head.
func TestHostileAnnouncements(t *testing.T) {
	ds := cluster(t, 3)
	a, b, evil := ds[0], ds[1], ds[2]
	const db = "hostile"
	ka, kb := genKey(t, a.n, DefaultKeyPrefix+db), genKey(t, b.n, DefaultKeyPrefix+db)
	sa := open(t, a.n, Config{Database: db, Allowed: []peer.ID{kb}, Announce: -1})
	sb := open(t, b.n, Config{Database: db, Allowed: []peer.ID{ka}, Announce: -1})
	waitTopicPeer(t, a.n, sa.Topic(), b.d.PeerID)
	// The raw client on the third daemon subscribes too, so that the
	// daemon joins the topic and knows B as a topic peer.
	subCtx, cancel := context.WithCancel(ctxT(t))
	sub, err := evil.n.API().PubSub().Subscribe(subCtx, sa.Topic())
	if err != nil {
		t.Fatal(err)
	}
	defer endSubscription(sub, cancel, true)
	waitTopicPeer(t, evil.n, sa.Topic(), b.d.PeerID)

	r1, r2, r3, forgedRoot := root("h1"), root("h2"), root("h3"), root("forged")
	if err := sa.Publish(ctxT(t), r1); err != nil {
		t.Fatal(err)
	}
	h1 := nextHead(t, sb, ka, "r1", func(h Head) bool { return h.Root == r1 })
	if err := sa.Publish(ctxT(t), r2); err != nil {
		t.Fatal(err)
	}
	h2 := nextHead(t, sb, ka, "r2", func(h Head) bool { return h.Root == r2 })

	stranger := newWriterKey(t)
	hour := time.Now().Add(time.Hour)
	dagPB := cid.NewCidV1(cid.DagProtobuf, mustSum(t, []byte("not a chunk")))
	send := []struct {
		what   string
		reason string
		data   []byte
	}{
		{"A's older record, replayed", ReasonReplay, h1.Record},
		{"A's current record, replayed", ReasonDuplicate, h2.Record},
		{"A's record with its root rewritten", ReasonBadSignature, replaceRoot(t, h2.Record, r2, forgedRoot)},
		{"a record signed by another key claiming A's", ReasonBadSignature,
			editRecord(t, stranger.announcement(t, forgedRoot, h2.Seq+1), func(pb *ipns_pb.IpnsRecord) {
				pb.PubKey, _ = ic.MarshalPublicKey(mustPubKey(t, ka))
			})},
		{"random bytes", ReasonMalformed, randomBytes(t, 200)},
		{"empty message", ReasonMalformed, []byte{}},
		{"a record naming a non-chunk CID", ReasonMalformed,
			signRecord(t, stranger.sk, path.FromCid(dagPB), 1, hour, ipns.WithPublicKey(true))},
		{"an expired record", ReasonExpired,
			signRecord(t, stranger.sk, rootPath(forgedRoot), 1, time.Now().Add(-time.Minute), ipns.WithPublicKey(true))},
		{"a valid record of an unknown writer", ReasonUntrusted, stranger.announcement(t, forgedRoot, 1)},
		// gossipsub's limit is 1 MiB for the whole frame, so this is about
		// the largest message it carries.
		{"1 MiB less the pubsub envelope", ReasonOversized, randomBytes(t, 1<<20-1<<10)},
	}
	// One at a time, each counted before the next is sent: Kubo validates
	// incoming messages concurrently against a strict per-sender sequence
	// check, so of a burst from one node a receiver may drop some. A message
	// not counted within a second is taken as lost that way and sent again.
	before := sb.Stats()
	want := maps.Clone(before.Dropped)
	for _, m := range send {
		prev := sb.Stats()
		for attempt := 1; ; attempt++ {
			if err := evil.n.API().PubSub().Publish(ctxT(t), sa.Topic(), m.data); err != nil {
				t.Fatalf("raw publish of %s: %v", m.what, err)
			}
			if testwait.Poll(time.Second, func() bool { return sb.Stats().Received > prev.Received }) {
				break
			}
			if attempt == 3 {
				t.Fatalf("B never received %s (stats %+v)", m.what, sb.Stats())
			}
			t.Logf("%s not received within 1s; sending it again", m.what)
		}
		st := sb.Stats()
		n := st.Received - prev.Received
		if got := st.Dropped[m.reason] - prev.Dropped[m.reason]; got != n || st.Accepted != prev.Accepted {
			t.Fatalf("%s: received %d, dropped %d as %q; stats %+v", m.what, n, got, m.reason, st)
		}
		want[m.reason] += n
	}
	st := sb.Stats()
	if !equalCounts(st.Dropped, want) {
		t.Fatalf("B's stats %+v, want drops %v", st, want)
	}
	if st.Accepted != before.Accepted {
		t.Fatalf("B accepted %d heads from hostile messages", st.Accepted-before.Accepted)
	}
	if k := sb.Known()[ka]; k.Root != r2 {
		t.Fatalf("B's head for A moved to %s", k.Root)
	}

	if err := sa.Publish(ctxT(t), r3); err != nil {
		t.Fatal(err)
	}
	h3 := nextHead(t, sb, ka, "r3 after the attack", func(h Head) bool { return h.Root == r3 })
	if h3.Seq != h2.Seq+1 || !bytes.Equal(sb.Known()[ka].Record, h3.Record) {
		t.Fatalf("after the attack B holds %+v", sb.Known()[ka])
	}
}

func mustPubKey(t *testing.T, id peer.ID) ic.PubKey {
	t.Helper()
	pk, err := id.ExtractPublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// quantiles formats p50/p90/max of ds.
func quantiles(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1))] }
	return fmt.Sprintf("p50 %v, p90 %v, max %v (n=%d)", q(0.5).Round(10*time.Microsecond), q(0.9).Round(10*time.Microsecond), s[len(s)-1].Round(10*time.Microsecond), len(s))
}

// TestEmbeddedNode: the same Store runs on a Kubo node embedded in this
// process (CoreAPI without RPC: Kubo signs through its own keystore), and
// exchanges heads with a daemon both ways.
func TestEmbeddedNode(t *testing.T) {
	d := cluster(t, 1)[0]
	e, err := ipfsnode.StartEmbedded(ctxT(t), ipfsnode.EmbeddedConfig{Repo: filepath.Join(t.TempDir(), "kubo"), Online: true})
	if err != nil {
		t.Fatalf("start embedded Kubo: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("stop embedded Kubo: %v", err)
		}
	})
	addrs := make([]ma.Multiaddr, 0, len(d.d.SwarmAddrs))
	for _, a := range d.d.SwarmAddrs {
		addrs = append(addrs, ma.StringCast(a))
	}
	dID, err := peer.Decode(d.d.PeerID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.API().Swarm().Connect(ctxT(t), peer.AddrInfo{ID: dID, Addrs: addrs}); err != nil {
		t.Fatalf("connect embedded node to daemon: %v", err)
	}
	const db = "embedded"
	ke, kd := genKey(t, e, DefaultKeyPrefix+db), genKey(t, d.n, DefaultKeyPrefix+db)
	se := open(t, e, Config{Database: db, Allowed: []peer.ID{kd}, Announce: -1})
	sd := open(t, d.n, Config{Database: db, Allowed: []peer.ID{ke}, Announce: -1})
	eID := e.Core().Identity.String()
	waitTopicPeer(t, e, se.Topic(), d.d.PeerID)
	waitTopicPeer(t, d.n, sd.Topic(), eID)

	re, rd := root("from embedded"), root("from daemon")
	// The same root twice: each Publish is a new record, with the next
	// sequence number.
	for range 2 {
		if err := se.Publish(ctxT(t), re); err != nil {
			t.Fatalf("embedded publish: %v", err)
		}
	}
	h := nextHead(t, sd, ke, "the embedded writer's head at the daemon", func(h Head) bool { return h.Seq == 2 })
	if h.Root != re {
		t.Fatalf("daemon got %+v", h)
	}
	if err := sd.Publish(ctxT(t), rd); err != nil {
		t.Fatalf("daemon publish: %v", err)
	}
	nextHead(t, se, kd, "the daemon writer's head at the embedded node", func(h Head) bool { return h.Root == rd })
	if got, err := sd.Resolve(ctxT(t), ke); err != nil || got.Seq != 2 {
		t.Fatalf("daemon resolving the embedded writer: %+v, %v", got, err)
	}
}
