package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
)

// benchCommits is how many commits BenchmarkClusterHeadPropagation times per
// iteration; benchPubsubMessages how many raw pubsub messages.
const (
	benchCommits        = 50
	benchPubsubMessages = 100
	// benchPubsubInterval spaces the raw messages out, as the commits are:
	// the figure is latency, not throughput.
	benchPubsubInterval = 50 * time.Millisecond
)

// BenchmarkClusterHeadPropagation times a head crossing from writer a to
// writer b, each a Kubo daemon and a sync in containers of their own, beside
// raw pubsub between the same two Kubos:
//
//   - publish-to-adopt: a's `published` event for root R to b's
//     `fast-forward` (or `merged`) event taking a's R, both from the syncs'
//     JSON logs (the containers share the host's clock). a logs its event
//     once Kubo's RPC returns from the announcement, so under load b can
//     log its adoption a few tens of milliseconds first;
//   - set-to-adopt: `noms-ipfs set` on a returning (to this process, through
//     docker exec) to that adoption. It adds what the first leaves out: the
//     sync hearing of the commit (the store's root watch) and Kubo's `name
//     publish` of the new record before the announcement; under load,
//     docker exec can return after b adopted, hence an occasional negative
//     sample;
//   - pubsub: one message from a probe in a's namespace, through a's and
//     b's Kubos, to a probe in b's namespace.
//
// Commits are made one at a time, each waited for. Run with
// `go test -run '^$' -bench Cluster -benchtime 1x ./docker/` (make bench).
func BenchmarkClusterHeadPropagation(b *testing.B) {
	c := startCluster(b)
	aLog := benchFollowLogs(b, c.id("sync-a"))
	bLog := benchFollowLogs(b, c.id("sync-b"))
	// One commit end to end first: b has subscribed and the meshes formed.
	ctx := context.Background()
	c.commitAndAwaitAdoption(ctx, "warm-up", 0, aLog, bLog)

	var pubToAdopt, setToAdopt []time.Duration
	var pubsub []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for n := range benchCommits {
			s := c.commitAndAwaitAdoption(ctx, fmt.Sprintf("bench-%d-%d", i, n), n, aLog, bLog)
			pubToAdopt = append(pubToAdopt, s.adopted.Sub(s.published))
			setToAdopt = append(setToAdopt, s.adopted.Sub(s.setReturned))
		}
		pubsub = append(pubsub, c.rawPubsub(i)...)
	}
	b.StopTimer()

	b.ReportMetric(0, "ns/op") // a wall time per iteration means nothing here
	benchReportLatency(b, "publish-to-adopt", pubToAdopt)
	benchReportLatency(b, "set-to-adopt", setToAdopt)
	slices.Sort(pubsub)
	b.ReportMetric(benchQuantileFloat(pubsub, 0.5), "pubsub-p50-ms")
	b.ReportMetric(benchQuantileFloat(pubsub, 0.99), "pubsub-p99-ms")
	b.Logf("head a→b, publish to adopt: %s", benchSummary(pubToAdopt))
	b.Logf("head a→b, set returned to adopt: %s", benchSummary(setToAdopt))
	b.Logf("raw pubsub a→b: %d of %d messages, p50 %.1f ms, p99 %.1f ms", len(pubsub), b.N*benchPubsubMessages,
		benchQuantileFloat(pubsub, 0.5), benchQuantileFloat(pubsub, 0.99))
}

// BenchmarkClusterHeadPropagationUnderFlood times heads a→b as
// BenchmarkClusterHeadPropagation does, with only a writing, first on a
// quiet topic and then while the outsider x floods it with replayed,
// forged, unknown-writer, garbage and oversized records (the hostile
// probe, at up to benchFloodRate a second): the figure is what a flood
// costs legitimate heads, the two sets side by side in one run.
func BenchmarkClusterHeadPropagationUnderFlood(b *testing.B) {
	c := startCluster(b)
	c.startOutsider()
	man := c.manifest()
	a, ok := man.Member("a")
	if !ok {
		b.Fatal("the manifest has no member a")
	}
	bm, ok := man.Member("b")
	if !ok {
		b.Fatal("the manifest has no member b")
	}
	aLog := benchFollowLogs(b, c.id("sync-a"))
	bLog := benchFollowLogs(b, c.id("sync-b"))
	ctx := context.Background()
	c.commitAndAwaitAdoption(ctx, "warm-up", 0, aLog, bLog)

	// The probe captures records of a and b to replay while the quiet
	// commits are made, then floods until it is removed.
	probe := benchStartProbe(b, c.project+"_flood", c.id("peer-x"), "hostile",
		"--topic", "noms-ipfs/db/"+database, "--victim", a.Writer+","+bm.Writer,
		"--flood", "1000000", "--rate", fmt.Sprint(benchFloodRate), "--flood-for", "10m", "--timeout", "15m")
	probe.await("ready", converge)
	// heads makes benchCommits commits per iteration and returns their
	// publish-to-adopt latencies.
	heads := func(phase string) []time.Duration {
		var out []time.Duration
		for i := 0; i < b.N; i++ {
			for n := range benchCommits {
				s := c.commitAndAwaitAdoption(ctx, fmt.Sprintf("%s-%d-%d", phase, i, n), n, aLog, bLog)
				out = append(out, s.adopted.Sub(s.published))
			}
		}
		return out
	}
	quiet := heads("quiet")
	probe.await("captured", converge)
	probe.await("flood-start", converge)
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	before, err := c.status(sctx, "b")
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	flood := heads("flood")
	elapsed := time.Since(start)
	// b's status file is rewritten every 2 s: the count lags by as much.
	sctx, cancel = context.WithTimeout(ctx, time.Minute)
	after, err := c.status(sctx, "b")
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	dropped := benchDroppedSince(before, after)
	var hostile int64
	for _, r := range hostileReasons {
		hostile += dropped[r]
	}
	if hostile < int64(benchCommits) {
		b.Fatalf("b dropped %d hostile announcements during the flood (%v): the flood did not reach it", hostile, dropped)
	}

	b.ReportMetric(0, "ns/op")
	benchReportLatency(b, "quiet", quiet)
	benchReportLatency(b, "flood", flood)
	b.ReportMetric(float64(hostile)/elapsed.Seconds(), "hostile-drops/s-at-b")
	b.Logf("head a→b, publish to adopt, quiet topic: %s", benchSummary(quiet))
	b.Logf("head a→b, publish to adopt, flooded topic: %s", benchSummary(flood))
	b.Logf("b dropped %d hostile announcements in %.1f s (%.0f/s): %v", hostile, elapsed.Seconds(),
		float64(hostile)/elapsed.Seconds(), dropped)
}

// benchFloodRate bounds the outsider's flood; one publish at a time over
// Kubo's RPC is the real bound (see hostileFlood).
const benchFloodRate = 200

// benchDroppedSince is how many announcements a sync dropped between two
// of its statuses, by reason.
func benchDroppedSince(before, after peerStatus) map[string]int64 {
	out := map[string]int64{}
	for r, n := range after.Sync.Heads.Dropped {
		if d := n - before.Sync.Heads.Dropped[r]; d > 0 {
			out[r] = d
		}
	}
	return out
}

// benchCommit is the timeline of one commit made on a and adopted by b.
type benchCommit struct {
	root                            string
	setReturned, published, adopted time.Time
}

// commitAndAwaitAdoption sets key on a, then waits for a's sync to publish
// the new root and for b's to take it.
func (c *composeCluster) commitAndAwaitAdoption(ctx context.Context, key string, value int, aLog, bLog *benchLogFollower) benchCommit {
	c.tb.Helper()
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := c.noms(sctx, "a", "set", dataset, key, fmt.Sprint(value))
	cancel()
	if err != nil {
		c.tb.Fatalf("set %s on a: %v", key, err)
	}
	s := benchCommit{setReturned: time.Now()}
	// Only a writes, so its first publish after the set is the set's root.
	pub := aLog.await(c.tb, "a's publish of "+key, func(e benchEvent) bool { return e.Msg == "published" && e.Time.After(start) })
	s.root, s.published = pub.Root, pub.Time
	adopt := bLog.await(c.tb, "b's adoption of a's root "+s.root, func(e benchEvent) bool { return benchIsAdoption(e) && e.Root == s.root })
	s.adopted = adopt.Time
	return s
}

// rawPubsub sends benchPubsubMessages timestamped messages from a probe in
// a's namespace to one in b's, on a topic of their own, and returns the
// one-way latencies in milliseconds.
func (c *composeCluster) rawPubsub(round int) []float64 {
	c.tb.Helper()
	topic := fmt.Sprintf("noms-ipfs/bench/%s/%d", c.project, round)
	count := fmt.Sprint(benchPubsubMessages)
	recv := benchStartProbe(c.tb, fmt.Sprintf("%s_recv_%d", c.project, round), c.id("peer-b"),
		"pubsub-recv", "--topic", topic, "--count", count, "--timeout", "2m")
	recv.await("ready", converge)
	send := benchStartProbe(c.tb, fmt.Sprintf("%s_send_%d", c.project, round), c.id("peer-a"),
		"pubsub-send", "--topic", topic, "--count", count, "--interval", benchPubsubInterval.String(), "--timeout", "2m")
	var done struct {
		Received  int       `json:"received"`
		TimedOut  bool      `json:"timed_out"`
		Latencies []float64 `json:"latencies_ms"`
	}
	if err := json.Unmarshal(recv.await("done", 3*time.Minute), &done); err != nil {
		c.tb.Fatalf("pubsub-recv's summary: %v", err)
	}
	if err := send.wait(time.Minute); err != nil {
		c.tb.Fatalf("pubsub-send: %v", err)
	}
	if done.TimedOut || done.Received == 0 {
		c.tb.Fatalf("pubsub-recv got %d of %d messages before its timeout", done.Received, benchPubsubMessages)
	}
	return done.Latencies
}

// benchEvent is one line of `noms-ipfs sync --json`: the fields the
// propagation figures read.
type benchEvent struct {
	Time   time.Time `json:"time"`
	Msg    string    `json:"msg"`
	Writer string    `json:"writer"`
	Root   string    `json:"root"`
}

// benchParseEvents reads the JSON lines of a sync's output, skipping any
// other line.
func benchParseEvents(text string) []benchEvent {
	var out []benchEvent
	for line := range strings.Lines(text) {
		var e benchEvent
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg != "" {
			out = append(out, e)
		}
	}
	return out
}

// benchIsAdoption reports whether e is a sync taking a root into its
// dataset ("up-to-date" is not: it had the data already). Whoever announced
// the root counts: a peer that fast-forwarded to a's root publishes that
// same root, and its announcement can reach b before a's own does.
func benchIsAdoption(e benchEvent) bool {
	return e.Msg == "fast-forward" || e.Msg == "merged"
}

// benchSample is one root published by one sync and adopted by another.
type benchSample struct {
	root               string
	published, adopted time.Time
}

func (s benchSample) latency() time.Duration { return s.adopted.Sub(s.published) }

// benchPairs pairs every root in publisher's `published` events with the
// first adoption of that root among adopter's events. Roots never adopted
// (a newer head of the publisher came first, or the log ended)
// are only counted.
func benchPairs(publisher, adopter []benchEvent) (samples []benchSample, unadopted int) {
	adopted := map[string]time.Time{}
	for _, e := range adopter {
		if _, seen := adopted[e.Root]; !seen && benchIsAdoption(e) {
			adopted[e.Root] = e.Time
		}
	}
	published := map[string]bool{}
	for _, e := range publisher {
		if e.Msg != "published" || published[e.Root] {
			continue
		}
		published[e.Root] = true
		if t, ok := adopted[e.Root]; ok {
			samples = append(samples, benchSample{root: e.Root, published: e.Time, adopted: t})
		} else {
			unadopted++
		}
	}
	return samples, unadopted
}

// benchReportLatency reports the p50 and p99 of ds in milliseconds as
// <name>-p50-ms and <name>-p99-ms.
func benchReportLatency(b *testing.B, name string, ds []time.Duration) {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(benchQuantile(ds, 0.5)), name+"-p50-ms")
	b.ReportMetric(ms(benchQuantile(ds, 0.99)), name+"-p99-ms")
}

// benchQuantile is the nearest-rank q-quantile of ds (0 when empty).
func benchQuantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// benchQuantileFloat is benchQuantile of values already sorted.
func benchQuantileFloat(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func benchSummary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	return fmt.Sprintf("n=%d p50 %v, p99 %v, min %v, max %v", len(ds),
		r(benchQuantile(ds, 0.5)), r(benchQuantile(ds, 0.99)), r(slices.Min(ds)), r(slices.Max(ds)))
}

// benchLogFollower collects the events of a container's output as it
// writes them (docker logs --follow).
type benchLogFollower struct {
	container string
	mu        sync.Mutex
	events    []benchEvent
}

func benchFollowLogs(tb testing.TB, container string) *benchLogFollower {
	tb.Helper()
	f := &benchLogFollower{container: container}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "docker", "logs", "--follow", container)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		tb.Fatalf("docker logs %s: %v", container, err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("docker logs %s: %v", container, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			for _, e := range benchParseEvents(sc.Text()) {
				f.mu.Lock()
				f.events = append(f.events, e)
				f.mu.Unlock()
			}
		}
		_ = cmd.Wait()
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return f
}

// await waits for the first event that matches.
func (f *benchLogFollower) await(tb testing.TB, what string, match func(benchEvent) bool) benchEvent {
	tb.Helper()
	var found benchEvent
	testwait.Until(tb, converge, what, func() (bool, string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, e := range f.events {
			if match(e) {
				found = e
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events from %s so far", len(f.events), f.container)
	})
	return found
}

// benchProbe is a noms-ipfs-probe container running in a peer's network
// namespace; its JSON lines arrive on events. hostile_test.go runs the
// hostile peer with it too.
type benchProbe struct {
	tb     testing.TB
	name   string
	lines  chan []byte
	exited chan struct{}
	err    error // of docker run, once exited is closed
	stderr bytes.Buffer
}

// benchStartProbe runs the probe with args in the namespace of the
// container peer, as a container called name that the test's cleanup
// removes whatever happens.
func benchStartProbe(tb testing.TB, name, peer string, args ...string) *benchProbe {
	tb.Helper()
	p := &benchProbe{tb: tb, name: name, lines: make(chan []byte, 64), exited: make(chan struct{})}
	full := append([]string{"run", "--rm", "--name", name, "--network", "container:" + peer, probeImage}, args...)
	cmd := exec.Command("docker", full...)
	cmd.Stderr = &p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("probe %s: %v", name, err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("probe %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			p.lines <- slices.Clone(sc.Bytes())
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.exited)
	}()
	tb.Cleanup(func() {
		// Registered after the cluster's cleanup, so it runs first: the
		// probe leaves the namespace before its owner goes.
		_, _ = docker(context.Background(), "rm", "-f", name)
		go func() {
			for range p.lines { // let the reader reach cmd.Wait
			}
		}()
		select {
		case <-p.exited:
		case <-time.After(time.Minute):
			tb.Errorf("probe %s: docker run did not exit after its container was removed", name)
		}
	})
	return p
}

// await returns the probe's next line whose "event" is event, skipping
// others; the test fails if the probe exits first or timeout passes.
func (p *benchProbe) await(event string, timeout time.Duration) json.RawMessage {
	p.tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				<-p.exited
				p.tb.Fatalf("probe %s exited (%v) before %q: %s", p.name, p.err, event, strings.TrimSpace(p.stderr.String()))
			}
			var e struct {
				Event string `json:"event"`
			}
			if json.Unmarshal(line, &e) == nil && e.Event == event {
				return line
			}
		case <-deadline.C:
			p.tb.Fatalf("probe %s: no %q after %v", p.name, event, timeout)
		}
	}
}

// wait waits for the probe to exit, reporting its failure.
func (p *benchProbe) wait(timeout time.Duration) error {
	go func() {
		for range p.lines {
		}
	}()
	select {
	case <-p.exited:
		if p.err != nil {
			return fmt.Errorf("%w: %s", p.err, strings.TrimSpace(p.stderr.String()))
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("probe %s still running after %v", p.name, timeout)
	}
}
