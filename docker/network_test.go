package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The network faults: a partition that heals, a peer frozen for a while,
// every peer restarted in turn. Their helpers are prefixed net, to stay
// apart from the other fault tests' helpers in this package.

// netWritePause spaces a writer's writes, leaving CPU to the syncs on a
// small machine that runs several clusters at once.
const netWritePause = 250 * time.Millisecond

// A partition ({a, b} | {c, r}) while every writer writes: each side goes
// on alone (and really is alone: neither side's head holds what the other
// side wrote meanwhile); once healed, every peer ends on one head holding
// every acknowledged write.
func TestPartitionHealLosesNothing(t *testing.T) {
	took := netPartitionHeal(t)
	t.Logf("one head on every peer %.1f s after the heal", took.Seconds())
}

// BenchmarkClusterConvergeAfterHeal measures the partition scenario of
// TestPartitionHealLosesNothing: the time from the heal to one head holding
// every acknowledged write on all four peers. Each iteration is one
// partition on a cluster of its own.
//
//	go test -run '^$' -bench ClusterConvergeAfterHeal -benchtime 1x ./docker/
func BenchmarkClusterConvergeAfterHeal(b *testing.B) {
	var took []time.Duration
	for range b.N {
		took = append(took, netPartitionHeal(b))
	}
	var sum time.Duration
	for _, d := range took {
		sum += d
	}
	b.Logf("heal to one head: %v", took)
	// ns/op would be the whole run, cluster start-up included.
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(sum.Seconds()/float64(len(took)), "heal-to-converge-s/op")
}

// netPartitionHeal runs the partition scenario and returns the time from
// the heal to one head holding every acknowledged write on every peer.
func netPartitionHeal(t testing.TB) time.Duration {
	c := startCluster(t)
	loops := map[string]*writeLoop{}
	var all []*writeLoop
	for _, p := range writers {
		loops[p] = c.startWrites(p, netWritePause)
		all = append(all, loops[p])
	}
	// Some history that both sides share.
	waitAcked(t, 2, all...)

	sides := [][]string{{"a", "b"}, {"c", replica}}
	start := time.Now()
	part := netPartitionOff(c, sides[1]...)
	t.Logf("partitioned %v | %v in %.1f s", sides[0], sides[1], time.Since(start).Seconds())
	// Keys from these indexes on were written after the split.
	from := map[string]int{}
	for p, w := range loops {
		from[p] = netNextKey(w)
	}
	waitAcked(t, 4, all...)
	acked := map[string]map[string]int{}
	for _, w := range all {
		a, failed := w.Stop()
		// A write is a local commit: a partition must not refuse it.
		if failed > 0 {
			t.Errorf("writer %s: %d writes failed; writes need no other peer", w.peer, failed)
		}
		if len(netKeysFrom(a, w.peer, from[w.peer])) == 0 {
			t.Fatalf("writer %s has no acknowledged write made after the split", w.peer)
		}
		acked[w.peer] = a
	}

	// Each side agrees within itself on every write of its own writers...
	start = time.Now()
	headAB := c.waitConverged(union(acked["a"], acked["b"]), sides[0]...)
	t.Logf("%v on one head %.1f s after the writes stopped: %s", sides[0], time.Since(start).Seconds(), headAB)
	headCR := c.waitConverged(acked["c"], sides[1]...)
	t.Logf("%v on one head %.1f s after the writes stopped: %s", sides[1], time.Since(start).Seconds(), headCR)
	// ... and knows nothing of what the other side wrote since the split.
	netCheckApart(t, c, sides[0], from, "c")
	netCheckApart(t, c, sides[1], from, "a", "b")

	part.heal()
	healed := time.Now()
	var want []map[string]int
	for _, p := range writers {
		want = append(want, acked[p])
	}
	head := c.waitConverged(union(want...), members...)
	took := time.Since(healed)
	t.Logf("%d writes; every peer at %s", len(union(want...)), head)
	return took
}

// netCheckApart fails the test if a peer of side holds any write that the
// writers of the other side (others) made after the split (from).
func netCheckApart(t testing.TB, c *composeCluster, side []string, from map[string]int, others ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range side {
		m, err := c.show(ctx, p)
		if err != nil {
			t.Fatalf("show on %s: %v", p, err)
		}
		var crossed []string
		for _, o := range others {
			crossed = append(crossed, netKeysFrom(m, o, from[o])...)
		}
		if len(crossed) > 0 {
			t.Errorf("peer %s, partitioned from %v, holds their writes made after the split: %v", p, others, crossed)
		}
	}
}

// netNextKey is the index of the first key that w had not started to
// write yet: writeLoop numbers its keys by attempt, and the attempt in
// flight may have begun before now.
func netNextKey(w *writeLoop) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked) + w.failed + 1
}

// netKeysFrom lists the keys of m that writer p wrote with index from or
// more (writeLoop's keys are <peer>-<index>).
func netKeysFrom(m map[string]int, p string, from int) []string {
	var out []string
	for k := range m {
		if n, err := strconv.Atoi(strings.TrimPrefix(k, p+"-")); err == nil && strings.HasPrefix(k, p+"-") && n >= from {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// netPartition is a network split: its peers left the swarm network for a
// network of their own, where they keep their names (peer-<n>), so that
// they still reach one another, and nobody else.
type netPartition struct {
	c     *composeCluster
	swarm string
	side  string
	peers []string
}

// netPartitionOff moves peers (their peer-<n> containers, which hold the
// network namespace that their Kubo and sync share) from the swarm network
// to a new internal network, removed at cleanup.
func netPartitionOff(c *composeCluster, peers ...string) *netPartition {
	c.tb.Helper()
	p := &netPartition{c: c, swarm: c.project + "_swarm", side: c.project + "_side", peers: peers}
	c.mustDocker("network", "create", "--internal", p.side)
	c.mu.Lock()
	c.networks = append(c.networks, p.side)
	c.mu.Unlock()
	for _, n := range peers {
		id := c.id("peer-" + n)
		c.mustDocker("network", "disconnect", p.swarm, id)
		c.mustDocker("network", "connect", "--alias", "peer-"+n, p.side, id)
	}
	return p
}

// heal puts the peers back on the swarm network under their service
// names, as compose had them.
func (p *netPartition) heal() {
	p.c.tb.Helper()
	for _, n := range p.peers {
		id := p.c.id("peer-" + n)
		p.c.mustDocker("network", "disconnect", p.side, id)
		p.c.mustDocker("network", "connect", "--alias", "peer-"+n, p.swarm, id)
	}
}

// netPausedFor is how long the paused peer stays frozen: several announce
// intervals, so that it misses announcements and their repeats.
const netPausedFor = 5 * announce

// Peer c is frozen (docker pause: its Kubo, its sync and the namespace
// holder) while a and b write, for several announce intervals: it misses
// their heads, and catches up with every acknowledged write once thawed.
func TestPausedPeerCatchesUp(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	la, lb := c.startWrites("a", netWritePause), c.startWrites("b", netWritePause)
	waitAcked(t, 2, la, lb)

	st, err := c.status(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	statusFile := "/home/db/" + database + "/" + st.PeerID + "/" + "sync-status.json"
	var frozen []string
	for _, s := range []string{"peer-c", "kubo-c", "sync-c"} {
		frozen = append(frozen, c.id(s))
	}
	// Thaw before the cluster is torn down, even if the test fails while
	// c is frozen.
	t.Cleanup(func() { _, _ = docker(context.Background(), append([]string{"unpause"}, frozen...)...) })
	c.mustDocker(append([]string{"pause"}, frozen...)...)
	paused := time.Now()
	atPause := netReadSyncStatus(t, c, "sync-c", statusFile)

	// Let time pass on purpose: c must miss announcements and their
	// re-announcements, not just one message.
	waitAcked(t, 3, la, lb)
	time.Sleep(time.Until(paused.Add(netPausedFor)))

	// c heard nothing: its sync has not even rewritten its status file
	// (every 2 s when running), while a and b have moved on.
	for _, id := range frozen {
		if s := strings.TrimSpace(c.mustDocker("inspect", "-f", "{{.State.Status}}", id)); s != "paused" {
			t.Fatalf("container %s is %s, not paused", id, s)
		}
	}
	stillPaused := netReadSyncStatus(t, c, "sync-c", statusFile)
	if stillPaused.UpdatedAt != atPause.UpdatedAt || stillPaused.Root != atPause.Root {
		t.Fatalf("c's sync ran while paused: status %+v, then %+v", atPause, stillPaused)
	}
	for _, p := range []string{"a", "b"} {
		s, err := c.status(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if s.Root == atPause.Root {
			t.Fatalf("%s did not move while c was paused: root %s", p, s.Root)
		}
	}

	c.mustDocker(append([]string{"unpause"}, frozen...)...)
	thawed := time.Now()
	t.Logf("c paused for %.1f s", thawed.Sub(paused).Seconds())
	ackedA, failedA := la.Stop()
	ackedB, failedB := lb.Stop()
	if failedA+failedB > 0 {
		t.Errorf("%d writes on a and %d on b failed while only c was paused", failedA, failedB)
	}
	want := union(ackedA, ackedB)
	head := c.waitConverged(want, members...)
	t.Logf("c caught up %.1f s after it was thawed: %d writes, every peer at %s", time.Since(thawed).Seconds(), len(want), head)
}

// netSyncStatus is the part of a sync's status file that shows it runs.
type netSyncStatus struct {
	UpdatedAt time.Time `json:"updated_at"`
	Root      string    `json:"root"`
}

// netReadSyncStatus reads a sync's status file out of its container with
// docker cp, which works on a paused container, unlike docker exec.
func netReadSyncStatus(t *testing.T, c *composeCluster, service, path string) netSyncStatus {
	t.Helper()
	out := c.mustDocker("cp", c.id(service)+":"+path, "-")
	tr := tar.NewReader(strings.NewReader(out))
	if _, err := tr.Next(); err != nil {
		t.Fatalf("docker cp of %s from %s: %v", path, service, err)
	}
	raw, err := io.ReadAll(tr)
	if err != nil {
		t.Fatalf("docker cp of %s from %s: %v", path, service, err)
	}
	var st netSyncStatus
	if err := json.NewDecoder(bytes.NewReader(raw)).Decode(&st); err != nil {
		t.Fatalf("status file of %s: %v: %q", service, err, raw)
	}
	return st
}

// Every peer is restarted in turn (its Kubo and its sync) while a, b and c
// write: each comes back healthy and the writes go on before the next
// restart; at the end every peer holds every acknowledged write under one
// head.
func TestRollingRestartUnderWrites(t *testing.T) {
	c := startCluster(t)
	var loops []*writeLoop
	for _, p := range writers {
		loops = append(loops, c.startWrites(p, netWritePause))
	}
	waitAcked(t, 2, loops...)
	for _, p := range members {
		start := time.Now()
		kuboID, syncID := c.id("kubo-"+p), c.id("sync-"+p)
		services := []string{kuboID, syncID}
		before := netStartedAt(c, services...)
		// The sync stops first, as compose stops a service before the one
		// it depends on: Kubo, asked to stop while a sync holds requests
		// open, waits out its whole grace period and is killed.
		c.mustDocker("stop", "-t", "10", syncID)
		c.mustDocker("restart", "-t", "10", kuboID)
		c.mustDocker("start", syncID)
		if after := netStartedAt(c, services...); slices.ContainsFunc(after, func(s string) bool { return slices.Contains(before, s) }) {
			t.Fatalf("peer %s not restarted: started at %v, then %v", p, before, after)
		}
		c.waitHealthy(p)
		healthy := time.Since(start)
		waitAcked(t, 2, loops...)
		t.Logf("peer %s restarted: healthy after %.1f s, every writer writing again after %.1f s", p, healthy.Seconds(), time.Since(start).Seconds())
	}
	var acked []map[string]int
	failed := map[string]int{}
	for _, w := range loops {
		a, f := w.Stop()
		acked = append(acked, a)
		failed[w.peer] = f
	}
	want := union(acked...)
	head := c.waitConverged(want, members...)
	t.Logf("%d writes (failed while their peer restarted: %v); every peer at %s", len(want), failed, head)
}

// netStartedAt is when each container last started.
func netStartedAt(c *composeCluster, ids ...string) []string {
	c.tb.Helper()
	out := c.mustDocker(append([]string{"inspect", "-f", "{{.State.StartedAt}}"}, ids...)...)
	return strings.Fields(out)
}
