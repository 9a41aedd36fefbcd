package main

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// fakeLinks is a node's view of one peer, scripted by the test.
type fakeLinks struct {
	mu           sync.Mutex
	connected    bool
	connectedErr error
	ping         func(ctx context.Context) error // nil: answers at once
	connectErrs  []error                         // results of the next dials; then success
	calls        []string
}

func (f *fakeLinks) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeLinks) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeLinks) Connected(context.Context, peer.ID) (bool, error) {
	f.record("connected?")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected, f.connectedErr
}

func (f *fakeLinks) Ping(ctx context.Context, _ peer.ID) error {
	f.record("ping")
	if f.ping == nil {
		return nil
	}
	return f.ping(ctx)
}

func (f *fakeLinks) Disconnect(context.Context, peer.ID) error {
	f.record("disconnect")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connected = false
	return nil
}

func (f *fakeLinks) Connect(context.Context, peer.AddrInfo) error {
	f.record("connect")
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.connectErrs) > 0 {
		err := f.connectErrs[0]
		f.connectErrs = f.connectErrs[1:]
		if err != nil {
			return err
		}
	}
	f.connected = true
	return nil
}

func testKeeper(links peerLinks, out *syncBuffer) *peerKeeper {
	return &peerKeeper{
		links:       links,
		log:         slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})),
		every:       10 * time.Millisecond,
		pingTimeout: 50 * time.Millisecond,
		dialTimeout: time.Second,
	}
}

// One check: a peer not connected is dialed; a connected one is pinged and
// kept if it answers, even with an error; one that does not answer in time
// is disconnected and dialed again.
func TestCheckPeer(t *testing.T) {
	unanswered := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	refused := func(context.Context) error { return errors.New("protocols not supported") }
	errDial := errors.New("no route to host")
	errDaemon := errors.New("daemon gone")
	for _, tc := range []struct {
		name      string
		links     *fakeLinks
		wantCalls []string
		wantErr   error
	}{
		{"not connected", &fakeLinks{}, []string{"connected?", "connect"}, nil},
		{"not connected, unreachable", &fakeLinks{connectErrs: []error{errDial}}, []string{"connected?", "connect"}, errDial},
		{"answers", &fakeLinks{connected: true}, []string{"connected?", "ping"}, nil},
		{"answers with an error", &fakeLinks{connected: true, ping: refused}, []string{"connected?", "ping"}, nil},
		{"does not answer", &fakeLinks{connected: true, ping: unanswered}, []string{"connected?", "ping", "disconnect", "connect"}, nil},
		{"does not answer, unreachable", &fakeLinks{connected: true, ping: unanswered, connectErrs: []error{errDial}}, []string{"connected?", "ping", "disconnect", "connect"}, errDial},
		{"node fails", &fakeLinks{connectedErr: errDaemon}, []string{"connected?"}, errDaemon},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			err := testKeeper(tc.links, &out).checkPeer(context.Background(), peer.AddrInfo{ID: "peer"})
			if got := tc.links.Calls(); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("calls %v, want %v", got, tc.wantCalls)
			}
			if (tc.wantErr == nil && err != nil) || !errors.Is(err, tc.wantErr) {
				t.Errorf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// A peer that cannot be reached is retried every interval, logged once
// when it is lost and once when it is back, not at every attempt.
func TestKeepConnectedLogsChangesOnly(t *testing.T) {
	errDial := errors.New("no route to host")
	links := &fakeLinks{connectErrs: []error{errDial, errDial, errDial, errDial}}
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		testKeeper(links, &out).keepConnected(ctx, []peer.AddrInfo{{ID: "peer"}})
	}()
	testwait.Until(t, 10*time.Second, "pings after the peer came back", func() (bool, string) {
		calls := links.Calls()
		return slices.Contains(calls, "ping"), strings.Join(calls, " ")
	})
	cancel()
	<-done
	if n := strings.Count(out.String(), "cannot connect to peer"); n != 1 {
		t.Errorf("%d warnings of the unreachable peer, want 1:\n%s", n, out.String())
	}
	if n := strings.Count(out.String(), "connected to peer again"); n != 1 {
		t.Errorf("%d notices of the peer's return, want 1:\n%s", n, out.String())
	}
	if n := strings.Count(strings.Join(links.Calls(), " "), "connect"); n < 5 {
		t.Errorf("%d dials, want one per failure and one that succeeded: %v", n, links.Calls())
	}
}

// Against real daemons: a dropped connection is dialed again, and a
// connection to a peer that stops answering (its daemon frozen with
// SIGSTOP, its kernel still holding the connection open, as a partitioned
// peer's does) is closed instead of being kept until libp2p's keep-alive
// gives up; once the peer answers again it is connected again.
func TestKeepConnectedReplacesUnansweringConnection(t *testing.T) {
	nodes := kubotest.StartCluster(t, 2)
	a, b := nodes[0], nodes[1]
	// Registered after the daemons' cleanups, so it runs before them.
	t.Cleanup(func() { _ = syscall.Kill(b.PID(), syscall.SIGCONT) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	na, err := ipfsnode.Connect(ctx, a.APIAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer na.Close()
	bInfo, err := peer.AddrInfoFromString(b.P2PAddr())
	if err != nil {
		t.Fatal(err)
	}
	links := nodeLinks{na}
	connected := func() bool {
		ok, err := links.Connected(ctx, bInfo.ID)
		if err != nil {
			t.Fatalf("cannot list a's connections: %v", err)
		}
		return ok
	}

	// The links over RPC: a ping of a connected peer gets its pong.
	if !connected() {
		t.Fatal("a is not connected to b after StartCluster")
	}
	if err := links.Ping(ctx, bInfo.ID); err != nil {
		t.Fatalf("ping of a live peer over RPC: %v", err)
	}
	if err := links.Disconnect(ctx, bInfo.ID); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	if connected() {
		t.Fatal("a is still connected to b after disconnecting")
	}

	var out syncBuffer
	k := testKeeper(links, &out)
	k.every, k.pingTimeout, k.dialTimeout = 100*time.Millisecond, time.Second, 2*time.Second
	kctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.keepConnected(kctx, []peer.AddrInfo{*bInfo})
	}()
	defer func() { stop(); <-done }()
	testwait.Until(t, 30*time.Second, "a dialing b again", func() (bool, string) { return connected(), out.String() })

	if err := syscall.Kill(b.PID(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 30*time.Second, "a closing its connection to the frozen b", func() (bool, string) {
		return strings.Contains(out.String(), "peer did not answer a ping"), out.String()
	})
	// The redial reaches a kernel that accepts the connection for a
	// daemon that never completes the handshake: it fails, and a stays
	// without a connection to b.
	testwait.Until(t, 30*time.Second, "a's redial of the frozen b failing", func() (bool, string) {
		return strings.Contains(out.String(), "cannot connect to peer"), out.String()
	})
	if connected() {
		t.Errorf("a still connected to the frozen b:\n%s", out.String())
	}
	if err := syscall.Kill(b.PID(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 30*time.Second, "a connected to the thawed b again", func() (bool, string) {
		return connected() && links.Ping(ctx, bInfo.ID) == nil && strings.Contains(out.String(), "connected to peer again"), out.String()
	})
}
