package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/headstore"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
)

const (
	// hostileFlood is how many messages the outsider floods the head topic
	// with, at no more than hostileRate a second and for no longer than
	// hostileFloodFor: one publish at a time over Kubo's RPC is the real
	// bound, 30 to 130 a second on a loaded 2-core machine.
	hostileFlood    = 2000
	hostileRate     = 200
	hostileFloodFor = 20 * time.Second
	// hostileWritePause spaces each writer's commits a little: the
	// machine runs other clusters too.
	hostileWritePause = 100 * time.Millisecond
)

// hostileReasons are the drop reasons the attack must leave on every sync:
// replayed records (replay), records naming a writer's key but signed by
// another (bad-signature), valid records of a key nobody allowed
// (untrusted), random bytes (malformed) and records over the size limit
// (oversized).
var hostileReasons = []string{
	headstore.ReasonReplay, headstore.ReasonBadSignature, headstore.ReasonUntrusted,
	headstore.ReasonMalformed, headstore.ReasonOversized,
}

// An outsider inside the private swarm attacks the head topic while a, b
// and c write: it replays a's and b's old records, forges records under
// their keys, announces heads of its own key and sends garbage, then floods
// the topic with all of these. Every sync counts each kind under its drop
// reason, accepts nothing from the stranger, never holds the forged root,
// keeps running, and every acknowledged write still converges. Head
// propagation a→b during the flood and outside it, and the syncs' memory,
// are logged.
//
// Both a and b are victims: a sync takes a replay of its own (validly
// signed) record for pubsub's echo ("self"), so each victim counts the
// replays of the other's.
func TestHostilePeerIsContained(t *testing.T) {
	began := time.Now()
	phase := func(what string) { t.Logf("%5.1f s: %s", time.Since(began).Seconds(), what) }
	c := startCluster(t)
	phase("cluster healthy")
	c.startOutsider()
	man := c.manifest()
	writerKey := map[string]string{}
	for _, m := range man.Members {
		writerKey[m.Name] = m.Writer
	}
	trusted := man.Writers()

	before, err := hostileStatuses(c)
	if err != nil {
		t.Fatal(err)
	}
	var loops []*writeLoop
	for _, p := range writers {
		loops = append(loops, c.startWrites(p, hostileWritePause))
	}
	phase("writes under way; attack starts")

	probe := benchStartProbe(t, c.project+"_hostile", c.id("peer-x"), "hostile",
		"--topic", "noms-ipfs/db/"+database,
		"--victim", writerKey["a"]+","+writerKey["b"],
		"--flood", fmt.Sprint(hostileFlood), "--rate", fmt.Sprint(hostileRate), "--flood-for", hostileFloodFor.String(),
		"--timeout", "4m")
	// The outsider replays records it captured first: two of each victim.
	probe.await("ready", converge)
	// While it listens: the writes' cost, without the flood's.
	memBefore := hostileMemory(c)
	probe.await("captured", converge)
	probe.await("flood-start", converge)
	var attack struct {
		Sent         map[string]int    `json:"sent"`
		Flood        int               `json:"flood"`
		Reasons      map[string]string `json:"reasons"`
		FloodStart   time.Time         `json:"flood_start"`
		FloodEnd     time.Time         `json:"flood_end"`
		FloodSeconds float64           `json:"flood_seconds"`
		ForgedRoot   string            `json:"forged_root"`
		Stranger     string            `json:"stranger"`
	}
	if err := json.Unmarshal(probe.await("done", 4*time.Minute), &attack); err != nil {
		t.Fatalf("the probe's summary: %v", err)
	}
	if err := probe.wait(time.Minute); err != nil {
		t.Fatalf("hostile probe: %v", err)
	}
	if attack.ForgedRoot == "" || attack.Stranger == "" {
		t.Fatalf("the probe's summary lacks the forged root or the stranger's key: %+v", attack)
	}
	// The probe and this test agree on what each kind of attack causes.
	if got := slices.Sorted(maps.Values(attack.Reasons)); !slices.Equal(slices.Compact(got), slices.Sorted(slices.Values(hostileReasons))) {
		t.Fatalf("the probe's attacks cause %v, the test expects %v", attack.Reasons, hostileReasons)
	}
	t.Logf("outsider sent %v; flood of %d in %.1f s (%.0f/s)", attack.Sent, attack.Flood, attack.FloodSeconds,
		float64(attack.Flood)/attack.FloodSeconds)
	memFlood := hostileMemory(c)
	phase("attack over")

	// Writes after the attack: the figures once it is over.
	waitAcked(t, 2, loops...)
	phase("writes after the attack acknowledged")
	var acked []map[string]int
	for _, w := range loops {
		a, failed := w.Stop()
		if failed > 0 {
			t.Errorf("writer %s: %d writes failed under attack", w.peer, failed)
		}
		acked = append(acked, a)
	}
	want := union(acked...)
	phase("writes stopped")
	head := c.waitConverged(want, members...)
	phase("converged")
	t.Logf("%d writes from %d writers converged under attack; every peer at %s", len(want), len(writers), head)

	// Every sync counted every kind of attack under its reason. Status
	// files are rewritten every 2 s, hence the wait.
	var after map[string]peerStatus
	testwait.Until(t, converge, "every sync to count the attack under "+strings.Join(hostileReasons, ", "), func() (bool, string) {
		var err error
		if after, err = hostileStatuses(c); err != nil {
			return false, err.Error()
		}
		var missing []string
		for _, p := range members {
			for _, r := range hostileReasons {
				if after[p].Sync.Heads.Dropped[r] <= before[p].Sync.Heads.Dropped[r] {
					missing = append(missing, fmt.Sprintf("%s: %s %d→%d", p, r, before[p].Sync.Heads.Dropped[r], after[p].Sync.Heads.Dropped[r]))
				}
			}
		}
		return len(missing) == 0, strings.Join(missing, "; ")
	})
	for _, p := range members {
		st := after[p]
		t.Logf("sync-%s: received %d, accepted %d, dropped %v", p, st.Sync.Heads.Received, st.Sync.Heads.Accepted, st.Sync.Heads.Dropped)
		for _, w := range st.Sync.Writers {
			if !slices.Contains(trusted, w.Writer) {
				t.Errorf("sync-%s knows writer %s, not one of the cluster's %v", p, w.Writer, trusted)
			}
			if w.Root == attack.ForgedRoot {
				t.Errorf("sync-%s holds the forged root %s as %s's head", p, w.Root, w.Writer)
			}
		}
		if st.Root == attack.ForgedRoot || st.Sync.Published == attack.ForgedRoot {
			t.Errorf("sync-%s's root %s or published %s is the forged root", p, st.Root, st.Sync.Published)
		}
	}
	// Nor did any sync ever take the forged root or the stranger's heads in
	// between: anything it accepted it would have tried to fetch and merge,
	// and said so.
	logs := map[string][]benchEvent{}
	for _, p := range members {
		out := hostileLogs(t, c.id("sync-"+p))
		for _, bad := range []string{attack.ForgedRoot, attack.Stranger} {
			if strings.Contains(out, bad) {
				t.Errorf("sync-%s's log mentions %s: %s", p, bad, hostileLineWith(out, bad))
			}
		}
		logs[p] = benchParseEvents(out)
	}
	// Crashes would hide behind compose's restart policy.
	for _, s := range []string{"kubo-a", "kubo-b", "kubo-c", "kubo-r", "sync-a", "sync-b", "sync-c", "sync-r"} {
		if n := strings.TrimSpace(c.mustDocker("inspect", "-f", "{{.RestartCount}}", c.id(s))); n != "0" {
			t.Errorf("%s restarted %s times during the attack", s, n)
		}
	}

	// Propagation a→b: during the flood, and outside it.
	samples, unadopted := benchPairs(logs["a"], logs["b"])
	var during, outside []time.Duration
	for _, s := range samples {
		if s.published.Before(attack.FloodStart) || s.published.After(attack.FloodEnd) {
			outside = append(outside, s.latency())
		} else {
			during = append(during, s.latency())
		}
	}
	t.Logf("head a→b (a's publish to b's adoption): during the flood %s; before and after it %s; %d of a's roots not adopted as such (superseded, or b had them already)",
		benchSummary(during), benchSummary(outside), unadopted)
	if len(during) == 0 {
		t.Errorf("no head a published during the flood (%v to %v) reached b", attack.FloodStart, attack.FloodEnd)
	}
	t.Logf("memory before the flood:  %s", memBefore)
	t.Logf("memory after the flood:   %s", memFlood)
	t.Logf("memory at the end:        %s", hostileMemory(c))
}

// startOutsider starts x, a Kubo node inside the private swarm that no
// sync trusts, and waits until it is healthy.
func (c *composeCluster) startOutsider() {
	c.tb.Helper()
	c.compose("--profile", "outsider", "up", "-d", "peer-x", "kubo-x")
	testwait.Until(c.tb, converge, "the outsider's Kubo healthy", func() (bool, string) {
		h := c.health("kubo-x")
		return h == "running/healthy", h
	})
}

// hostileStatuses reads every member's status.
func hostileStatuses(c *composeCluster) (map[string]peerStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := map[string]peerStatus{}
	for _, p := range members {
		st, err := c.status(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("status of %s: %w", p, err)
		}
		if st.Sync == nil {
			return nil, fmt.Errorf("status of %s has no sync section", p)
		}
		out[p] = st
	}
	return out, nil
}

// hostileMemory is the memory use of the syncs and Kubos, as docker stats
// reports it, or why it could not be read: a figure, never a failure.
func hostileMemory(c *composeCluster) string {
	services := []string{"sync-a", "sync-b", "sync-c", "sync-r", "kubo-a", "kubo-b", "kubo-c", "kubo-r", "kubo-x"}
	name := map[string]string{}
	args := []string{"stats", "--no-stream", "--format", "{{.ID}}\t{{.MemUsage}}"}
	for _, s := range services {
		id := c.id(s)
		name[id[:12]] = s
		args = append(args, id)
	}
	out, err := docker(context.Background(), args...)
	if err != nil {
		return err.Error()
	}
	var parts []string
	for line := range strings.Lines(out) {
		id, usage, ok := strings.Cut(strings.TrimSpace(line), "\t")
		if !ok {
			continue
		}
		used, _, _ := strings.Cut(usage, " / ")
		parts = append(parts, name[id[:min(12, len(id))]]+" "+used)
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// hostileLogs is a container's whole output, stdout and stderr.
func hostileLogs(t *testing.T, container string) string {
	t.Helper()
	out, err := exec.Command("docker", "logs", container).CombinedOutput()
	if err != nil {
		t.Fatalf("docker logs %s: %v: %s", container, err, out)
	}
	return string(out)
}

// hostileLineWith is the first line of text containing s.
func hostileLineWith(text, s string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}
