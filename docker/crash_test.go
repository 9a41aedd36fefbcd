package docker

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/cluster"
	"github.com/noms-ipfs/noms-ipfs/headstore"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/syncer"
)

// crashPeer is the writer whose processes the crash tests kill; the
// others write on while it is down.
const crashPeer = "a"

// A writer's sync is SIGKILLed while every writer writes; started again, it
// catches up with what the others wrote meanwhile, its own acknowledged
// writes survive, and every peer ends on one head holding every
// acknowledged write.
func TestSyncKilledMidWritesCatchesUp(t *testing.T) {
	crashTestKillMidWrites(t, "sync-"+crashPeer)
}

// The same with the writer's Kubo: its sync stays up and must get its RPC
// calls and its pubsub subscription back by itself.
func TestKuboKilledMidWritesCatchesUp(t *testing.T) {
	crashTestKillMidWrites(t, "kubo-"+crashPeer)
}

func crashTestKillMidWrites(t *testing.T, service string) {
	c := startCluster(t)
	loops := crashStartWriters(c)
	catchUp := c.crashKillAndCatchUp(service, loops)
	t.Logf("catch-up after restarting %s: %v from `docker start` to %s holding every write acknowledged before it (polled with `noms-ipfs show`: a few hundred ms of resolution)",
		service, catchUp.Round(time.Millisecond), crashPeer)
	c.crashWaitHearsTopic(crashPeer)

	// The restarted writer takes writes again, as do the others.
	waitAcked(t, 3, loops...)
	var acked []map[string]int
	for _, w := range loops {
		a, failed := w.Stop()
		t.Logf("writer %s: %d writes acknowledged, %d failed", w.peer, len(a), failed)
		acked = append(acked, a)
	}
	want := union(acked...)
	head := c.waitConverged(want, members...)
	t.Logf("%d acknowledged writes; every peer at %s", len(want), head)
}

// crashWaitHearsTopic waits until peer p's sync takes announcements of the
// other members off the pubsub topic again: each re-announces every few
// seconds, so a subscription that did not come back shows here.
func (c *composeCluster) crashWaitHearsTopic(p string) {
	c.tb.Helper()
	heard := func() (int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := c.status(ctx, p)
		if err != nil {
			return 0, err
		}
		if st.Sync == nil {
			return 0, fmt.Errorf("%s reports no sync", p)
		}
		// Received counts our own echoes too.
		return st.Sync.Heads.Received - st.Sync.Heads.Dropped[headstore.ReasonSelf], nil
	}
	var base int64
	testwait.Until(c.tb, converge, p+"'s sync status", func() (bool, string) {
		var err error
		base, err = heard()
		return err == nil, fmt.Sprint(err)
	})
	others := int64(len(members) - 1)
	testwait.Until(c.tb, converge, fmt.Sprintf("%s's sync to hear %d more announcements of the others on pubsub", p, others), func() (bool, string) {
		n, err := heard()
		if err != nil {
			return false, err.Error()
		}
		return n-base >= others, fmt.Sprintf("%d more", n-base)
	})
}

// crashStartWriters starts a write loop on every writer.
func crashStartWriters(c *composeCluster) []*writeLoop {
	var loops []*writeLoop
	for _, p := range writers {
		loops = append(loops, c.startWrites(p, 0))
	}
	return loops
}

// crashKillAndCatchUp SIGKILLs service (a container of crashPeer) while
// loops write on every writer, lets the other writers write on while it is
// down, starts it again and returns how long crashPeer took from that
// start until it held every write acknowledged anywhere before it: the
// cluster's head when it came back. The loops keep writing throughout.
// It fails the test if crashPeer acknowledged a write while down or lost
// one it had acknowledged before.
func (c *composeCluster) crashKillAndCatchUp(service string, loops []*writeLoop) time.Duration {
	c.tb.Helper()
	var victim *writeLoop
	var others []*writeLoop
	for _, w := range loops {
		if w.peer == crashPeer {
			victim = w
		} else {
			others = append(others, w)
		}
	}
	if victim == nil {
		c.tb.Fatalf("no write loop on %s", crashPeer)
	}
	waitAcked(c.tb, 3, loops...)
	c.crashKill(service)

	// Two failures after the exit: the second write was started after the
	// kill, so any write acknowledged before the kill is recorded by now.
	failedAtKill := victim.crashFailed()
	testwait.Until(c.tb, converge, "writes on "+crashPeer+" to fail while "+service+" is down", func() (bool, string) {
		n := victim.crashFailed() - failedAtKill
		return n >= 2, fmt.Sprintf("%d failed", n)
	})
	ackedWhileDown := victim.Acked()
	// The others write on: crashPeer must catch up with writes it never saw.
	waitAcked(c.tb, 3, others...)
	if n := victim.Acked() - ackedWhileDown; n != 0 {
		c.tb.Fatalf("%d writes on %s acknowledged while %s was killed", n, crashPeer, service)
	}
	want := crashAckedSoFar(loops...)

	start := time.Now()
	c.mustDocker("start", c.id(service))
	testwait.Until(c.tb, converge, crashPeer+" to hold every write acknowledged before "+service+" restarted", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m, err := c.show(ctx, crashPeer)
		if err != nil {
			return false, err.Error()
		}
		missing := missingWrites(m, want)
		return len(missing) == 0, fmt.Sprintf("%d of %d missing, e.g. %v", len(missing), len(want), missing[:min(5, len(missing))])
	})
	took := time.Since(start)
	c.waitHealthy(crashPeer)
	return took
}

// crashKill SIGKILLs a service's container, as the kernel's OOM killer or a
// crash ends a process, and waits until it has exited. Docker does not
// restart a killed container itself (the kill cancels its restart policy),
// so it stays down until started again.
func (c *composeCluster) crashKill(service string) {
	c.tb.Helper()
	c.mustDocker("kill", "-s", "KILL", c.id(service))
	testwait.Until(c.tb, converge, service+" to exit after SIGKILL", func() (bool, string) {
		st := c.crashState(service)
		return st == "exited", st
	})
}

// crashState is a container's state as Docker reports it ("running",
// "exited", ...).
func (c *composeCluster) crashState(service string) string {
	out, err := docker(context.Background(), "inspect", "-f", "{{.State.Status}}", c.id(service))
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(out)
}

// crashFailed is how many writes of the loop failed so far.
func (w *writeLoop) crashFailed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// crashAckedSoFar is the union of the writes the loops had acknowledged so
// far; they keep running.
func crashAckedSoFar(loops ...*writeLoop) map[string]int {
	out := map[string]int{}
	for _, w := range loops {
		w.mu.Lock()
		maps.Copy(out, w.acked)
		w.mu.Unlock()
	}
	return out
}

// A writer is lost with its disks after the replica pinned its last root;
// the other writers are off too. A reader that joins afterwards reads every
// acknowledged write of every writer through the replica alone, and the
// replica's garbage collector keeps all of it.
func TestLostWriterIsReadThroughTheReplica(t *testing.T) {
	c := startCluster(t)
	man := c.manifest()
	lost, ok := man.Member(crashPeer)
	if !ok {
		t.Fatalf("member %s is not in the manifest", crashPeer)
	}
	loops := crashStartWriters(c)
	waitAcked(t, 5, loops...)
	var acked []map[string]int
	for _, w := range loops {
		a, _ := w.Stop()
		acked = append(acked, a)
	}
	want := union(acked...)
	head := c.waitConverged(want, members...)
	lostRoot := c.crashWaitReplicaPinned(lost.Writer, head)

	// Lose a for good: its containers and its volumes. The set-up's
	// finished container mounts a's repo too, and a volume in use by any
	// container cannot be removed: it goes as well (docker-compose makes a
	// new one when d starts).
	c.compose("rm", "-s", "-f", "-v", "peer-"+crashPeer, "kubo-"+crashPeer, "sync-"+crashPeer, "setup")
	c.forget("peer-"+crashPeer, "kubo-"+crashPeer, "sync-"+crashPeer, "setup")
	c.mustDocker("volume", "rm", c.project+"_kubo-"+crashPeer, c.project+"_home-"+crashPeer)
	// Only the replica holds the data from now on.
	c.mustDocker("stop", "-t", "5", c.id("sync-b"), c.id("sync-c"), c.id("kubo-b"), c.id("kubo-c"))

	// The late reader d: starting it runs the set-up again.
	c.compose("--profile", "late", "up", "-d", "peer-d", "kubo-d", "sync-d")
	c.crashCheckNotRecreated(lost)
	c.waitHealthy("d", replica)
	healthy := time.Now()
	c.waitConverged(want, replica, "d")
	t.Logf("d read all %d acknowledged writes of %d writers through the replica alone, at %s, %v after it was healthy",
		len(want), len(writers), head, time.Since(healthy).Round(time.Millisecond))

	// The replica's GC, with nobody else on the swarm to fetch from.
	c.mustDocker("stop", "-t", "5", c.id("sync-d"), c.id("kubo-d"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	before := c.crashLocalBlocks(ctx)
	out, err := c.exec(ctx, "kubo-"+replica, "ipfs", "repo", "gc")
	if err != nil {
		t.Fatalf("ipfs repo gc on %s: %v", replica, err)
	}
	removed := strings.Count(out, "removed ")
	after := c.crashLocalBlocks(ctx)
	checked := c.crashCheckReplicaComplete(ctx, man.Writers(), map[string]string{lost.Writer: lostRoot})
	t.Logf("replica GC removed %d blocks (%d before, %d after); all %d blocks reachable from its root and its replica pins are still there", removed, before, after, checked)

	// As the user sees it: d, started again, reads everything once more.
	c.mustDocker("start", c.id("kubo-d"), c.id("sync-d"))
	c.waitHealthy("d")
	c.waitConverged(want, replica, "d")
}

// crashWaitReplicaPinned waits until the lost writer has published the
// root holding head and the replica has pinned exactly that root, and
// returns it.
func (c *composeCluster) crashWaitReplicaPinned(writer, head string) (root string) {
	c.tb.Helper()
	testwait.Until(c.tb, converge, "the replica to pin "+crashPeer+"'s last root", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st, err := c.status(ctx, crashPeer)
		if err != nil {
			return false, err.Error()
		}
		if st.Sync == nil || st.Sync.Published == "" || st.Sync.Published != st.Root || st.head(dataset) != head {
			return false, fmt.Sprintf("%s: root %s, head %s, not published yet", crashPeer, st.Root, st.head(dataset))
		}
		rs, err := c.status(ctx, replica)
		if err != nil {
			return false, err.Error()
		}
		if rs.Sync == nil {
			return false, "the replica reports no sync"
		}
		for _, w := range rs.Sync.Writers {
			if w.Writer == writer {
				root = w.Root
				return w.Root == st.Sync.Published && w.Synced,
					fmt.Sprintf("%s published %s; the replica has %s (synced %v)", crashPeer, st.Sync.Published, w.Root, w.Synced)
			}
		}
		return false, "the replica has not heard of " + crashPeer
	})
	return root
}

// crashCheckNotRecreated checks that the set-up, run again when d
// started, did its work and left the lost member lost: no container, an
// empty repo volume, the same identity and writer key in the manifest.
func (c *composeCluster) crashCheckNotRecreated(lost cluster.Member) {
	c.tb.Helper()
	if st := strings.TrimSpace(c.mustDocker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", c.id("setup"))); st != "exited 0" {
		c.tb.Fatalf("set-up run again: %s, want exited 0", st)
	}
	services := c.mustDocker("ps", "-a", "--filter", "label=com.docker.compose.project="+c.project, "--format", `{{.Label "com.docker.compose.service"}}`)
	for _, s := range strings.Fields(services) {
		if s == "peer-"+lost.Name || s == "kubo-"+lost.Name || s == "sync-"+lost.Name {
			c.tb.Fatalf("the set-up ran again and %s has a container again", s)
		}
	}
	// docker cp streams a directory as a tar archive: a's repo must be an
	// empty directory.
	archive := c.mustDocker("cp", c.id("setup")+":/kubo/"+lost.Name, "-")
	tr := tar.NewReader(strings.NewReader(archive))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.tb.Fatalf("reading %s's repo volume: %v", lost.Name, err)
		}
		if strings.Trim(h.Name, "/") != lost.Name {
			c.tb.Fatalf("the set-up re-created %s's Kubo repo: it holds %s", lost.Name, h.Name)
		}
	}
	now, ok := c.manifest().Member(lost.Name)
	if !ok || now != lost {
		c.tb.Fatalf("manifest after the set-up ran again: %s is %+v (present %v), was %+v", lost.Name, now, ok, lost)
	}
}

// crashLocalBlocks counts the blocks in the replica's blockstore.
func (c *composeCluster) crashLocalBlocks(ctx context.Context) int {
	c.tb.Helper()
	out, err := c.exec(ctx, "kubo-"+replica, "ipfs", "--offline", "refs", "local")
	if err != nil {
		c.tb.Fatalf("ipfs refs local on %s: %v", replica, err)
	}
	return len(strings.Fields(out))
}

// crashCheckReplicaComplete checks, offline, that every block under the
// replica's own root and under the root it pinned for each writer is in
// its blockstore, and returns how many blocks that is. The replica's root
// of each writer in want must be the one given. It first checks
// that --offline does keep the daemon from fetching: a walk from a CID
// nobody has must fail rather than search the network.
func (c *composeCluster) crashCheckReplicaComplete(ctx context.Context, writerKeys []string, want map[string]string) int {
	c.tb.Helper()
	kubo := "kubo-" + replica
	var noise [32]byte
	_, _ = rand.Read(noise[:])
	absent := chunks.NewChunk(noise[:]).Hash().CID().String()
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := c.exec(actx, kubo, "ipfs", "--offline", "refs", "-r", absent)
	timedOut := actx.Err() != nil
	cancel()
	if err == nil || timedOut {
		c.tb.Fatalf("ipfs --offline refs -r of a CID nobody has: err %v, timed out %v; want a prompt failure", err, timedOut)
	}

	st, err := c.status(ctx, replica)
	if err != nil {
		c.tb.Fatal(err)
	}
	if st.Sync == nil {
		c.tb.Fatal("the replica reports no sync")
	}
	roots := map[string]string{} // writer -> root hash
	for _, w := range st.Sync.Writers {
		roots[w.Writer] = w.Root
	}
	for w, root := range want {
		if roots[w] != root {
			c.tb.Fatalf("the replica's root of writer %s is %q, want %s", w, roots[w], root)
		}
	}
	pins := c.crashReplicaPins(ctx)
	targets := []string{crashCID(c.tb, st.Root)} // the replica's own root
	for _, key := range writerKeys {
		if key == st.Sync.Writer {
			continue // the replica itself: its own root is above
		}
		root, ok := roots[key]
		if !ok {
			c.tb.Fatalf("the replica knows no root of writer %s", key)
		}
		pin, ok := pins[key]
		if !ok {
			c.tb.Fatalf("the replica has no pin %s%s/%s; it has %v", syncer.ReplicaPinPrefix, database, key, pins)
		}
		targets = append(targets, crashCID(c.tb, root), pin)
		// A pin is a small block linking its writer's root.
		out, err := c.exec(ctx, kubo, "ipfs", "--offline", "refs", pin)
		if err != nil {
			c.tb.Fatalf("replica pin of %s: %v", key, err)
		}
		if got := strings.Fields(out); !slices.Contains(got, crashCID(c.tb, root)) {
			c.tb.Fatalf("the replica pin of %s links %v, not its root %s", key, got, crashCID(c.tb, root))
		}
	}
	// One walk of them all: it fails on the first block missing.
	out, err := c.exec(ctx, kubo, append([]string{"ipfs", "--offline", "refs", "-r", "--unique"}, targets...)...)
	if err != nil {
		c.tb.Fatalf("the replica's root, its writers' roots and its pins %v are not whole in its blockstore after GC: %v", targets, err)
	}
	reachable := map[string]bool{}
	for _, cid := range append(targets, strings.Fields(out)...) {
		reachable[cid] = true
	}
	return len(reachable)
}

// crashReplicaPins lists the replica's pins of writers' roots by writer.
func (c *composeCluster) crashReplicaPins(ctx context.Context) map[string]string {
	c.tb.Helper()
	out, err := c.exec(ctx, "kubo-"+replica, "ipfs", "--offline", "pin", "ls", "--type=recursive", "--names")
	if err != nil {
		c.tb.Fatalf("ipfs pin ls on %s: %v", replica, err)
	}
	prefix := syncer.ReplicaPinPrefix + database + "/"
	pins := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line) // <cid> recursive [name]
		if len(f) == 3 {
			if w, ok := strings.CutPrefix(f[2], prefix); ok {
				if old, dup := pins[w]; dup {
					c.tb.Fatalf("two replica pins of %s: %s and %s", w, old, f[0])
				}
				pins[w] = f[0]
			}
		}
	}
	return pins
}

// crashCID is the CID of a chunk hash as status prints it.
func crashCID(t testing.TB, hash string) string {
	t.Helper()
	h, err := chunks.Parse(hash)
	if err != nil {
		t.Fatalf("hash %q: %v", hash, err)
	}
	return h.CID().String()
}

// The kill scenarios of the tests above, measured: the time from starting
// a SIGKILLed sync, or Kubo, again to its peer holding every write
// acknowledged in the cluster before that start, while every writer keeps
// writing. Each iteration is one kill, on one cluster per sub-benchmark.
//
//	go test -run '^$' -bench ClusterCatchUpAfterCrash -benchtime 1x ./docker/
func BenchmarkClusterCatchUpAfterCrash(b *testing.B) {
	for _, proc := range []string{"sync", "kubo"} {
		b.Run(proc, func(b *testing.B) {
			var took []time.Duration
			c := startCluster(b)
			loops := crashStartWriters(c)
			for range b.N {
				took = append(took, c.crashKillAndCatchUp(proc+"-"+crashPeer, loops))
			}
			var sum time.Duration
			for _, d := range took {
				sum += d
			}
			b.Logf("catch-ups after restarting %s-%s: %v", proc, crashPeer, took)
			// ns/op would be the whole run, cluster start-up included.
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(sum.Seconds()/float64(len(took)), "catchup-s/op")
		})
	}
}
