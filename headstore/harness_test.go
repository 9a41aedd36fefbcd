package headstore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/kubo/core/coreiface/options"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// Bounds on the waits of the integration tests: loopback delivery takes
// milliseconds, so these only decide how long a broken build takes to fail.
const (
	waitTimeout = 15 * time.Second
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// daemon is a test Kubo daemon and an RPC connection to it.
type daemon struct {
	d *kubotest.Node
	n *ipfsnode.Node
}

// cluster starts count connected daemons, stopped when the test ends.
func cluster(t *testing.T, count int) []*daemon {
	t.Helper()
	var ds []*daemon
	for _, d := range kubotest.StartCluster(t, count) {
		ds = append(ds, &daemon{d: d, n: connect(t, d)})
	}
	return ds
}

func connect(t *testing.T, d *kubotest.Node) *ipfsnode.Node {
	t.Helper()
	n, err := ipfsnode.Connect(ctxT(t), d.APIAddr)
	if err != nil {
		t.Fatalf("connect to Kubo at %s: %v", d.APIAddr, err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// genKey creates an ed25519 key in n's keystore, as an operator would
// before listing it in other peers' Allowed.
func genKey(t *testing.T, n *ipfsnode.Node, name string) peer.ID {
	t.Helper()
	k, err := n.API().Key().Generate(ctxT(t), name, options.Key.Type(options.Ed25519Key))
	if err != nil {
		t.Fatalf("generate key %s: %v", name, err)
	}
	return k.ID()
}

// open starts a Store, closed when the test ends (before its daemon stops).
func open(t *testing.T, n *ipfsnode.Node, cfg Config) *Store {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := New(ctxT(t), n, cfg)
	if err != nil {
		t.Fatalf("headstore.New(%s): %v", cfg.Database, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close head store: %v", err)
		}
	})
	return s
}

// testLogger shows warnings in the test log; HEADSTORE_DEBUG=1 shows every
// drop and accept.
func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("HEADSTORE_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// waitFor waits (testwait.Until) for cond, for up to waitTimeout, and
// reports what state returns, if given, on failure.
func waitFor(t *testing.T, what string, cond func() bool, state ...func() any) {
	t.Helper()
	testwait.Until(t, waitTimeout, what, func() (bool, string) {
		if cond() {
			return true, ""
		}
		var have []string
		for _, st := range state {
			have = append(have, fmt.Sprintf("%+v", st()))
		}
		return false, strings.Join(have, "; ")
	})
}

// waitTopicPeer waits until the daemon behind n counts the daemon with ID
// other among the peers of topic, so that a message published by n reaches
// it (gossipsub sends its own messages to every known topic peer).
func waitTopicPeer(t *testing.T, n *ipfsnode.Node, topic string, other string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to see %s on topic %s", n, other, topic), func() bool {
		ps, err := n.API().PubSub().Peers(ctxT(t), options.PubSub.Topic(topic))
		return err == nil && slices.ContainsFunc(ps, func(p peer.ID) bool { return p.String() == other })
	})
}

// nextHead waits for the next head of writer on s.Heads that satisfies ok,
// skipping others.
func nextHead(t *testing.T, s *Store, writer peer.ID, what string, ok func(Head) bool) Head {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case h, open := <-s.Heads():
			if !open {
				t.Fatalf("Heads closed while waiting for %s", what)
			}
			if h.Writer == writer && ok(h) {
				return h
			}
		case <-timer.C:
			t.Fatalf("timed out after %v waiting for %s (stats %+v)", waitTimeout, what, s.Stats())
		}
	}
}

// waitDropped waits until s counted want drops under reason.
func waitDropped(t *testing.T, s *Store, reason string, want int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d %q drops", want, reason), func() bool { return s.Stats().Dropped[reason] >= want },
		func() any { return s.Stats() })
}
