package headstore

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A third daemon freezes (SIGSTOP: its kernel keeps the connections open,
// as a partitioned peer's does), and Kubo's DHT then spends tens of seconds
// on each put of an IPNS record until it drops that peer. A's heads reach B
// all the same while A's puts still run; a newer head's put replaces the
// older one, re-announcements leave it running, and Close ends it.
func TestPublishDoesNotWaitForASlowRoutingPut(t *testing.T) {
	ds := cluster(t, 3)
	a, b, c := ds[0], ds[1], ds[2]
	// Registered after the daemons' cleanups, so it runs before them.
	t.Cleanup(func() { _ = syscall.Kill(c.d.PID(), syscall.SIGCONT) })
	const db = "slowput"
	ka, kb := genKey(t, a.n, DefaultKeyPrefix+db), genKey(t, b.n, DefaultKeyPrefix+db)
	sa := open(t, a.n, Config{Database: db, Allowed: []peer.ID{kb}, Announce: 100 * time.Millisecond})
	sb := open(t, b.n, Config{Database: db, Allowed: []peer.ID{ka}, Announce: -1})
	waitTopicPeer(t, a.n, sa.Topic(), b.d.PeerID)
	// A's first record: Kubo looks the name up in the DHT before it signs
	// the first record of a key, which the frozen peer would hold up too.
	first := root("first")
	if err := sa.Publish(ctxT(t), first); err != nil {
		t.Fatalf("publish: %v", err)
	}
	nextHead(t, sb, ka, "A's first head", func(h Head) bool { return h.Root == first })

	// Only a peer in A's DHT routing table holds up A's puts.
	waitFor(t, "C in A's DHT routing table", func() bool {
		return strings.Contains(a.d.IPFS(t, "stats", "dht", "lan", "--enc=json"), c.d.PeerID)
	})
	if err := syscall.Kill(c.d.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"slow1", "slow2"} {
		r := root(name)
		if err := sa.Publish(ctxT(t), r); err != nil {
			t.Fatalf("publish %s: %v", name, err)
		}
		nextHead(t, sb, ka, name+" from A", func(h Head) bool { return h.Root == r })
		if len(sa.putToken) == 0 {
			t.Fatalf("no put of A's record still runs once B has %s: the frozen peer did not slow the DHT, or Publish waited for it", name)
		}
	}
	// Re-announcements repeat the head without starting another put.
	sa.pubMu.Lock()
	put := sa.bgPut
	sa.pubMu.Unlock()
	dups := sb.Stats().Dropped[ReasonDuplicate]
	waitDropped(t, sb, ReasonDuplicate, dups+3)
	sa.pubMu.Lock()
	same := sa.bgPut == put && put.running()
	sa.pubMu.Unlock()
	if !same {
		t.Fatal("A's re-announcements replaced or ended the put still running")
	}

	closed := make(chan error, 1)
	go func() { closed <- sa.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Close did not end the puts still running after %v", waitTimeout)
	}
}
