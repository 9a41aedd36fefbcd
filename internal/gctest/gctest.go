// Package gctest runs Kubo's garbage collector from tests, once or in a
// tight loop beside the work under test, on a daemon (over RPC, as `ipfs
// repo gc` does) or on an embedded node. A GC that fails is a test failure:
// nothing the project pins may make Kubo's GC abort.
package gctest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/kubo/core/corerepo"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// Run runs one garbage collection on n and returns how many blocks it
// removed.
func Run(ctx context.Context, n *ipfsnode.Node) (int, error) {
	if n.Embedded() {
		removed := 0
		out := corerepo.GarbageCollectAsync(n.Core(), ctx)
		err := corerepo.CollectResult(ctx, out, func(cid.Cid) { removed++ })
		if err != nil {
			return removed, fmt.Errorf("cannot collect garbage: %w", err)
		}
		return removed, nil
	}
	resp, err := n.RPC().Request("repo/gc").Option("stream-errors", true).Send(ctx)
	if err != nil {
		return 0, fmt.Errorf("cannot collect garbage: %w", err)
	}
	defer resp.Close()
	if resp.Error != nil {
		return 0, fmt.Errorf("cannot collect garbage: %w", resp.Error)
	}
	removed := 0
	dec := json.NewDecoder(resp.Output)
	for {
		var item struct {
			Key   map[string]string
			Error string
		}
		if err := dec.Decode(&item); err != nil {
			if errors.Is(err, io.EOF) {
				return removed, nil
			}
			return removed, fmt.Errorf("cannot collect garbage: %w", err)
		}
		if item.Error != "" {
			return removed, fmt.Errorf("cannot collect garbage: %s", item.Error)
		}
		removed++
	}
}

// Once runs one garbage collection and fails t if it fails.
func Once(t testing.TB, n *ipfsnode.Node) int {
	t.Helper()
	removed, err := Run(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return removed
}

// Loop is a garbage collection run again and again until Stop.
type Loop struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	runs    int
	removed int
	err     error
}

// Start begins collecting garbage on n in a tight loop. The loop stops at
// Stop, or when the test ends.
func Start(t testing.TB, n *ipfsnode.Node) *Loop {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		for ctx.Err() == nil {
			removed, err := Run(ctx, n)
			l.mu.Lock()
			if err != nil && ctx.Err() == nil && l.err == nil {
				l.err = err
			}
			if err == nil {
				l.runs++
				l.removed += removed
			}
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { l.cancel(); <-l.done })
	return l
}

// Runs returns how many collections have completed so far.
func (l *Loop) Runs() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.runs
}

// Stop ends the loop, waits for the collection in flight, and fails t if
// any collection failed. It returns how many completed and the blocks
// they removed.
func (l *Loop) Stop(t testing.TB) (runs, removed int) {
	t.Helper()
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		t.Fatalf("a garbage collection beside the work failed: %v", l.err)
	}
	return l.runs, l.removed
}

// Refs walks the DAG under c as Kubo itself sees it, from the node's own
// blocks only (`ipfs refs -r --unique --offline` over RPC, the offline DAG
// service of an embedded node), and returns how many distinct blocks lie
// below c. A block that is missing is an error.
func Refs(ctx context.Context, n *ipfsnode.Node, c cid.Cid) (int, error) {
	if n.Embedded() {
		seen := cid.NewSet()
		dag := n.OfflineAPI().Dag()
		err := merkledag.Walk(ctx, merkledag.GetLinksDirect(dag), c, seen.Visit, merkledag.Concurrent())
		if err != nil {
			return 0, fmt.Errorf("cannot walk the DAG under %s: %w", c, err)
		}
		return seen.Len() - 1, nil
	}
	resp, err := n.RPC().Request("refs", c.String()).
		Option("recursive", true).
		Option("unique", true).
		Option("offline", true).
		Send(ctx)
	if err != nil {
		return 0, fmt.Errorf("cannot list refs of %s: %w", c, err)
	}
	defer resp.Close()
	if resp.Error != nil {
		return 0, fmt.Errorf("cannot list refs of %s: %w", c, resp.Error)
	}
	count := 0
	dec := json.NewDecoder(resp.Output)
	for {
		var item struct{ Ref, Err string }
		if err := dec.Decode(&item); err != nil {
			if errors.Is(err, io.EOF) {
				return count, nil
			}
			return count, fmt.Errorf("cannot list refs of %s: %w", c, err)
		}
		if item.Err != "" {
			return count, fmt.Errorf("cannot list refs of %s: %s", c, item.Err)
		}
		count++
	}
}
