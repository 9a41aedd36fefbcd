package syncer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/kubo/core/coreiface/options"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/syncer"
)

// The benchmarks of issue 5 run on real daemons like the cluster tests:
//
//	go test -run '^$' -bench 'HeadPropagation' -benchtime 200x ./syncer
//	go test -run '^$' -bench 'Converge3x100|LateJoiner' -benchtime 1x ./syncer

// percentile returns the p-th percentile (0-100) of ds, sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rawPubsub measures the floor: publish on from's daemon to receipt on to's,
// n messages one after the other, over the same RPC path the head store uses.
func rawPubsub(b *testing.B, from, to *peerT, n int) []time.Duration {
	b.Helper()
	c := ctx(b)
	topic := fmt.Sprintf("bench-raw-%d", time.Now().UnixNano())
	sub, err := to.node.API().PubSub().Subscribe(c, topic)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	testwait.Until(b, 20*time.Second, "the raw topic's mesh", func() (bool, string) {
		ps, err := from.node.API().PubSub().Peers(c, options.PubSub.Topic(topic))
		return err == nil && len(ps) > 0, fmt.Sprint(ps, err)
	})
	var out []time.Duration
	for i := range n + 5 {
		msg := binary.BigEndian.AppendUint64(nil, uint64(i))
		t0 := time.Now()
		if err := from.node.API().PubSub().Publish(c, topic, msg); err != nil {
			b.Fatalf("raw publish %d: %v", i, err)
		}
		for {
			rctx, cancel := context.WithTimeout(c, 5*time.Second)
			m, err := sub.Next(rctx)
			cancel()
			if err != nil {
				b.Fatalf("raw message %d not received: %v", i, err)
			}
			if bytes.Equal(m.Data(), msg) {
				break
			}
		}
		if i >= 5 { // warm-up excluded
			out = append(out, time.Since(t0))
		}
	}
	return out
}

// adoptions collects the commits a peer's syncer fast-forwarded to.
type adoptions struct {
	mu sync.Mutex
	at map[chunks.Hash]time.Time
}

func (a *adoptions) event(e syncer.Event) {
	if e.Kind == syncer.EventFastForward || e.Kind == syncer.EventMerged {
		a.mu.Lock()
		a.at[e.Commit] = time.Now()
		a.mu.Unlock()
	}
}

func (a *adoptions) when(h chunks.Hash) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.at[h]
	return t, ok
}

// BenchmarkHeadPropagation: A commits, B adopts; latency from A's commit
// returning to B's fast-forward, one commit at a time (b.N commits; run
// with -benchtime 200x), beside the raw pubsub latency between the same
// two daemons.
func BenchmarkHeadPropagation(b *testing.B) {
	c := newCluster(b, "A", "B")
	a, bp := c.peers[0], c.peers[1]
	raw := rawPubsub(b, a, bp, 200)
	got := &adoptions{at: map[chunks.Hash]time.Time{}}
	bp.start(b, c.writers(), syncer.Config{OnEvent: got.event})
	a.start(b, c.writers(), syncer.Config{})
	h := a.commit(b, "bench", "warm-up", 0)
	testwait.Until(b, 30*time.Second, "B adopting the warm-up commit", func() (bool, string) {
		_, ok := got.when(h)
		return ok, ""
	})
	var lat, commitTime []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		h := a.commit(b, "bench", key("A", i), int64(i))
		t1 := time.Now()
		var at time.Time
		testwait.Until(b, 30*time.Second, fmt.Sprintf("B adopting commit %d", i), func() (bool, string) {
			var ok bool
			at, ok = got.when(h)
			return ok, ""
		})
		commitTime = append(commitTime, t1.Sub(t0))
		lat = append(lat, at.Sub(t1))
	}
	b.StopTimer()
	rawP50, rawP99 := percentile(raw, 50), percentile(raw, 99)
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	b.ReportMetric(ms(p50), "p50-ms")
	b.ReportMetric(ms(p99), "p99-ms")
	b.ReportMetric(ms(rawP50), "raw-pubsub-p50-ms")
	b.ReportMetric(ms(rawP99), "raw-pubsub-p99-ms")
	b.ReportMetric(ms(percentile(commitTime, 50)), "commit-p50-ms")
	b.Logf("A→B commit-to-adoption over %d commits: p50 %.2f ms, p99 %.2f ms; raw pubsub over %d messages: p50 %.2f ms, p99 %.2f ms; target p50 ≤ 2×raw+20 = %.2f ms; A's commit itself p50 %.2f ms",
		len(lat), ms(p50), ms(p99), len(raw), ms(rawP50), ms(rawP99), 2*ms(rawP50)+20, ms(percentile(commitTime, 50)))
}

// BenchmarkConverge3x100: three peers each make 100 commits at once; the
// time until all three hold the identical head, from the start and from
// the last commit.
func BenchmarkConverge3x100(b *testing.B) {
	c := newCluster(b, "A", "B", "C")
	for _, p := range c.peers {
		p.start(b, c.writers(), syncer.Config{})
	}
	const commits = 100
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dataset := fmt.Sprintf("conv-%d", i)
		before := make([]syncer.Stats, len(c.peers))
		for j, p := range c.peers {
			before[j] = p.s.Stats()
		}
		start := time.Now()
		var wg sync.WaitGroup
		for _, p := range c.peers {
			wg.Go(func() {
				for k := range commits {
					p.commit(b, dataset, key(p.name, k), int64(k))
				}
			})
		}
		wg.Wait()
		written := time.Now()
		converged(b, 5*time.Minute, dataset, c.peers...)
		done := time.Now()
		var merges int64
		for j, p := range c.peers {
			merges += p.s.Stats().Merges - before[j].Merges
		}
		b.ReportMetric(done.Sub(start).Seconds(), "total-s")
		b.ReportMetric(done.Sub(written).Seconds(), "after-last-commit-s")
		b.ReportMetric(float64(merges), "merges")
		b.Logf("3×%d concurrent commits: written in %v, converged %v after the last commit (%v in all), %d merge commits",
			commits, written.Sub(start).Round(time.Millisecond), done.Sub(written).Round(time.Millisecond), done.Sub(start).Round(time.Millisecond), merges)
	}
}

// BenchmarkLateJoiner: A and B hold a synced dataset of 50 commits; C
// starts (store, head store, syncer) and adopts the current head. Each
// iteration starts C on an empty store; its Kubo node keeps the blocks of
// earlier iterations, so the first iteration is the cold one.
func BenchmarkLateJoiner(b *testing.B) {
	c := newCluster(b, "A", "B", "C")
	a, bp, cp := c.peers[0], c.peers[1], c.peers[2]
	a.start(b, c.writers(), syncer.Config{})
	bp.start(b, c.writers(), syncer.Config{})
	for i := range 25 {
		a.commit(b, "data", key("A", i), int64(i))
		bp.commit(b, "data", key("B", i), int64(i))
	}
	head := converged(b, 5*time.Minute, "data", a, bp)
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cp.dir = filepath.Join(b.TempDir(), fmt.Sprintf("C-%d", i))
		start := time.Now()
		cp.start(b, c.writers(), syncer.Config{})
		testwait.Until(b, time.Minute, "C adopting the current head", func() (bool, string) {
			return cp.head("data") == head, cp.head("data").String()
		})
		took = append(took, time.Since(start))
		b.StopTimer()
		cp.stop(b)
		b.StartTimer()
	}
	first := took[0]
	p50 := percentile(took, 50)
	b.ReportMetric(ms(first), "first-ms")
	b.ReportMetric(ms(p50), "p50-ms")
	b.Logf("late joiner adopted the head in %v (first), p50 %v over %d starts; target < 2 s", first.Round(time.Millisecond), p50.Round(time.Millisecond), len(took))
}
