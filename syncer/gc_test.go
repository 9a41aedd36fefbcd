package syncer_test

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
	"github.com/noms-ipfs/noms-ipfs/internal/gctest"
	"github.com/noms-ipfs/noms-ipfs/syncer"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// Two peers write at once and merge each other's heads while Kubo's garbage
// collector runs in a tight loop on both daemons. They converge on one head
// with every key; each daemon still holds every chunk its peer's store
// wrote (merges included); every chunk under the final head is on one
// daemon or the other; and each peer reads the whole history.
func TestClusterGCDuringSyncMergesLosesNothing(t *testing.T) {
	c := newCluster(t, "A", "B")
	for _, p := range c.peers {
		p.start(t, c.writers(), syncer.Config{})
	}
	var loops []*gctest.Loop
	for _, p := range c.peers {
		loops = append(loops, gctest.Start(t, p.node))
	}
	const commits = 20
	var wg sync.WaitGroup
	for _, p := range c.peers {
		wg.Go(func() {
			for i := range commits {
				p.commit(t, "data", key(p.name, i), int64(i))
			}
		})
	}
	wg.Wait()
	final := converged(t, 90*time.Second, "data", c.peers...)
	for i, l := range loops {
		runs, removed := l.Stop(t)
		t.Logf("%s: %d garbage collections beside the sync removed %d blocks; %+v", c.peers[i].name, runs, removed, c.peers[i].s.Stats())
		if runs < 3 {
			t.Fatalf("%s: only %d garbage collections ran: the test proves little", c.peers[i].name, runs)
		}
	}
	for _, p := range c.peers {
		gctest.Once(t, p.node)
	}

	for _, p := range c.peers {
		check, err := p.store.CheckKept(ctx(t))
		if err != nil || len(check.Missing) != 0 {
			t.Fatalf("%s: %d of the %d chunks its store wrote are gone after GC (%v)", p.name, len(check.Missing), check.Named, err)
		}
		if s := p.s.Stats(); p.name == "A" && s.Merges+s.FastForwards == 0 {
			t.Fatalf("%s neither merged nor fast-forwarded: %+v", p.name, s)
		}
	}
	// Every chunk under the final head is on one of the daemons.
	ctxb := context.Background()
	seen := chunks.HashSet{final: struct{}{}}
	for level := []chunks.Hash{final}; len(level) > 0; {
		var next []chunks.Hash
		for _, h := range level {
			var data []byte
			for _, p := range c.peers {
				r, err := p.node.OfflineAPI().Block().Get(ctxb, path.FromCid(h.CID()))
				if err == nil {
					data = readAll(t, r)
					break
				}
			}
			if data == nil {
				t.Fatalf("chunk %s under the final head is on neither daemon", h)
			}
			_ = dagcbor.Links(data, func(l cid.Cid) error {
				if ch, err := chunks.HashFromCID(l); err == nil && !seen.Has(ch) {
					seen.Insert(ch)
					next = append(next, ch)
				}
				return nil
			})
		}
		level = next
	}
	t.Logf("%d chunks under the final head %s", len(seen), final)
	for _, p := range c.peers {
		got := p.values(t, "data")
		for _, q := range c.peers {
			for i := range commits {
				if got[key(q.name, i)] != int64(i) {
					t.Fatalf("%s lacks %s", p.name, key(q.name, i))
				}
			}
		}
		n := 0
		for cm, err := range p.d.History(ctxb, final) {
			if err != nil {
				t.Fatalf("%s: history after %d commits: %v", p.name, n, err)
			}
			if _, ok := cm.Value.(value.Map); !ok {
				t.Fatalf("%s: commit %s holds %T", p.name, cm.Hash, cm.Value)
			}
			n++
		}
		if n < 2*commits {
			t.Fatalf("%s: history of %d commits, want at least %d", p.name, n, 2*commits)
		}
	}
}

func readAll(t testing.TB, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
