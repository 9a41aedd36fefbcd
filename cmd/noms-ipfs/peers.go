package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// Defaults of peerKeeper.
const (
	// peerCheckEvery is how often each --peer node is checked: a peer that
	// comes back (restarted, a partition healed) is found again within
	// about this long.
	peerCheckEvery = 5 * time.Second
	// peerPingTimeout is how long a connected --peer node has to answer a
	// ping before its connections are taken for dead. A LAN or WAN round
	// trip is far shorter; only a connection into the void takes longer.
	peerPingTimeout = 5 * time.Second
	// peerDialTimeout bounds one dial of a --peer node.
	peerDialTimeout = 10 * time.Second
)

// peerLinks is what peerKeeper needs of a node: an interface so that its
// decisions can be tested apart from the network.
type peerLinks interface {
	// Connected reports whether the node holds a connection to id.
	Connected(ctx context.Context, id peer.ID) (bool, error)
	// Ping returns nil once id answered a ping.
	Ping(ctx context.Context, id peer.ID) error
	// Disconnect closes every connection to id.
	Disconnect(ctx context.Context, id peer.ID) error
	// Connect dials ai unless already connected.
	Connect(ctx context.Context, ai peer.AddrInfo) error
}

// peerKeeper keeps a node connected to the --peer nodes.
type peerKeeper struct {
	links       peerLinks
	log         *slog.Logger
	every       time.Duration
	pingTimeout time.Duration
	dialTimeout time.Duration
}

func newPeerKeeper(links peerLinks, log *slog.Logger) *peerKeeper {
	return &peerKeeper{links: links, log: log, every: peerCheckEvery, pingTimeout: peerPingTimeout, dialTimeout: peerDialTimeout}
}

// keepConnected keeps the node connected to peers until ctx ends: every
// k.every it dials those it is not connected to, and pings those it is. A
// connection whose peer does not answer in time is closed and the peer
// dialed afresh: a peer that left the network without closing its
// connections (partitioned, moved to another address) leaves them open on
// this side, and libp2p would keep them, and send pubsub messages into
// them, until its keep-alive gives up tens of seconds later; Kubo's Peering
// only redials once they are closed, and backs off while the peer cannot
// be reached. A failed dial is logged once, until the peer is back.
func (k *peerKeeper) keepConnected(ctx context.Context, peers []peer.AddrInfo) {
	var wg sync.WaitGroup
	for _, ai := range peers {
		wg.Go(func() { k.keepPeer(ctx, ai) })
	}
	wg.Wait()
}

func (k *peerKeeper) keepPeer(ctx context.Context, ai peer.AddrInfo) {
	t := time.NewTicker(k.every)
	defer t.Stop()
	reachable := true
	for {
		err := k.checkPeer(ctx, ai)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && reachable:
			k.log.Warn("cannot connect to peer; trying again", "peer", ai.ID, "every", k.every, "err", err)
		case err == nil && !reachable:
			k.log.Info("connected to peer again", "peer", ai.ID)
		}
		reachable = err == nil
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkPeer leaves the node with a live connection to ai if it can: it
// pings ai if connected, closes the connections of a peer that did not
// answer in time, and dials ai if not (or no longer) connected. It returns
// why the node is not connected, nil if it is.
func (k *peerKeeper) checkPeer(ctx context.Context, ai peer.AddrInfo) error {
	// Every call is bounded: a daemon that hangs must not stop the checks.
	bounded := func(d time.Duration, f func(ctx context.Context) error) error {
		ctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		return f(ctx)
	}
	var connected bool
	err := bounded(k.dialTimeout, func(ctx context.Context) (err error) {
		connected, err = k.links.Connected(ctx, ai.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("cannot list the node's connections: %w", err)
	}
	if connected {
		pctx, cancel := context.WithTimeout(ctx, k.pingTimeout)
		err := k.links.Ping(pctx, ai.ID)
		unanswered := err != nil && errors.Is(pctx.Err(), context.DeadlineExceeded)
		cancel()
		if !unanswered || ctx.Err() != nil {
			// An answer, even an error (a peer without the ping protocol,
			// a stream reset), comes from a live connection: keep it.
			if err != nil {
				k.log.Debug("ping of peer failed", "peer", ai.ID, "err", err)
			}
			return nil
		}
		k.log.Warn("peer did not answer a ping; closing its connections to dial it again", "peer", ai.ID, "timeout", k.pingTimeout)
		if err := bounded(k.dialTimeout, func(ctx context.Context) error { return k.links.Disconnect(ctx, ai.ID) }); err != nil {
			// Gone meanwhile, most likely: the dial below decides.
			k.log.Debug("cannot close connections to peer", "peer", ai.ID, "err", err)
		}
	}
	return bounded(k.dialTimeout, func(ctx context.Context) error { return k.links.Connect(ctx, ai) })
}

// nodeLinks are the peer links of an ipfsnode.Node: over RPC or embedded.
type nodeLinks struct{ n *ipfsnode.Node }

func (l nodeLinks) Connected(ctx context.Context, id peer.ID) (bool, error) {
	if l.n.Embedded() {
		return len(l.n.Core().PeerHost.Network().ConnsToPeer(id)) > 0, nil
	}
	conns, err := l.n.API().Swarm().Peers(ctx)
	if err != nil {
		return false, err
	}
	for _, c := range conns {
		if c.ID() == id {
			return true, nil
		}
	}
	return false, nil
}

func (l nodeLinks) Ping(ctx context.Context, id peer.ID) error {
	if l.n.Embedded() {
		select {
		case r := <-ping.Ping(ctx, l.n.Core().PeerHost, id):
			return r.Error
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	res, err := l.n.RPC().Request("ping", id.String()).Option("count", 1).Send(ctx)
	if err != nil {
		return err
	}
	// Not Close: it would read the rest of the answer, which Kubo ends a
	// second after the pong.
	defer func() { _ = res.Cancel() }()
	if res.Error != nil {
		return res.Error
	}
	return readPong(ctx, res.Output)
}

// readPong reads Kubo's ping answer (a stream of JSON results) up to the
// first pong.
func readPong(ctx context.Context, r io.Reader) error {
	dec := json.NewDecoder(r)
	for {
		var pr struct {
			Success bool
			Text    string
		}
		if err := dec.Decode(&pr); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return errors.New("ping: no answer")
			}
			return fmt.Errorf("ping: %w", err)
		}
		switch {
		case pr.Success && pr.Text == "":
			return nil
		case !pr.Success:
			return fmt.Errorf("ping: %s", pr.Text)
		}
	}
}

func (l nodeLinks) Disconnect(ctx context.Context, id peer.ID) error {
	if l.n.Embedded() {
		return l.n.Core().PeerHost.Network().ClosePeer(id)
	}
	return l.n.RPC().Request("swarm/disconnect", "/p2p/"+id.String()).Exec(ctx, nil)
}

func (l nodeLinks) Connect(ctx context.Context, ai peer.AddrInfo) error {
	return l.n.API().Swarm().Connect(ctx, ai)
}
