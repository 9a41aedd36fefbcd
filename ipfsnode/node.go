package ipfsnode

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipfs/kubo/client/rpc"
	"github.com/ipfs/kubo/core"
	iface "github.com/ipfs/kubo/core/coreiface"
	"github.com/ipfs/kubo/core/coreiface/options"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Node is a connection to one Kubo node, remote (RPC) or embedded.
type Node struct {
	api     iface.CoreAPI
	offline iface.CoreAPI // the same API, never waiting on the network

	rpc  *rpc.HttpApi   // set for a daemon reached over RPC
	core *core.IpfsNode // set for an embedded node
	addr string         // RPC address or repo path, for messages

	close func() error
}

// API returns the node's CoreAPI.
func (n *Node) API() iface.CoreAPI { return n.api }

// OfflineAPI returns the node's CoreAPI set to answer from local data only:
// a missing block is an error at once, not a wait on bitswap.
func (n *Node) OfflineAPI() iface.CoreAPI { return n.offline }

// RPC returns the RPC client, or nil for an embedded node. It is for calls
// that CoreAPI lacks, such as dag/import.
func (n *Node) RPC() *rpc.HttpApi { return n.rpc }

// Core returns the embedded node, or nil for a node reached over RPC.
func (n *Node) Core() *core.IpfsNode { return n.core }

// Embedded reports whether the node runs in this process.
func (n *Node) Embedded() bool { return n.core != nil }

// String names the node for logs: its RPC address or repo path.
func (n *Node) String() string {
	if n.Embedded() {
		return "embedded Kubo at " + n.addr
	}
	return "Kubo RPC at " + n.addr
}

// PeerID returns the node's libp2p identity.
func (n *Node) PeerID(ctx context.Context) (peer.ID, error) {
	if n.core != nil {
		return n.core.Identity, nil
	}
	k, err := n.api.Key().Self(ctx)
	if err != nil {
		return "", fmt.Errorf("cannot read peer ID of %s: %w", n, err)
	}
	return k.ID(), nil
}

// Close stops an embedded node or closes idle RPC connections.
func (n *Node) Close() error {
	if n.close == nil {
		return nil
	}
	c := n.close
	n.close = nil
	return c()
}

// EnvAPI is the environment variable Kubo's own client reads for the RPC
// address (a multiaddr such as /ip4/127.0.0.1/tcp/5001, or a URL).
const EnvAPI = "IPFS_API"

// DefaultAPIAddr finds the RPC address the way Kubo's client does: $IPFS_API,
// else the api file in $IPFS_PATH (default ~/.ipfs), written by a running
// daemon. ok is false when neither exists.
func DefaultAPIAddr() (addr string, ok bool) {
	if a := strings.TrimSpace(os.Getenv(EnvAPI)); a != "" {
		return a, true
	}
	dir := os.Getenv("IPFS_PATH")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(home, ".ipfs")
	}
	b, err := os.ReadFile(filepath.Join(dir, "api"))
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// Connect reaches a running Kubo daemon over RPC at addr (multiaddr or
// http URL); an empty addr means DefaultAPIAddr. It checks the daemon
// answers before returning.
func Connect(ctx context.Context, addr string) (*Node, error) {
	if addr == "" {
		var ok bool
		if addr, ok = DefaultAPIAddr(); !ok {
			return nil, ErrNoDaemon
		}
	}
	url, err := apiURL(addr)
	if err != nil {
		return nil, fmt.Errorf("cannot use Kubo API address %q: %w", addr, err)
	}
	// The stock client turns keep-alive off, costing 35-70% on every
	// per-request path; a pooled transport keeps connections open.
	tr := &http.Transport{
		Proxy:               nil, // loopback daemons: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
	}
	api, err := rpc.NewURLApiWithClient(url, &http.Client{Transport: tr})
	if err != nil {
		return nil, fmt.Errorf("cannot create Kubo RPC client for %s: %w", url, err)
	}
	off, err := api.WithOptions(options.Api.Offline(true))
	if err != nil {
		return nil, fmt.Errorf("cannot create offline Kubo RPC client: %w", err)
	}
	n := &Node{api: api, offline: off, rpc: api, addr: url, close: func() error {
		tr.CloseIdleConnections()
		return nil
	}}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := n.PeerID(pctx); err != nil {
		_ = n.Close()
		return nil, fmt.Errorf("Kubo daemon at %s does not answer: %w", url, err)
	}
	return n, nil
}

// apiURL turns a multiaddr or URL into the http://host:port form.
func apiURL(addr string) (string, error) {
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		return strings.TrimRight(addr, "/"), nil
	}
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return "", err
	}
	network, host, err := manet.DialArgs(m)
	if err != nil {
		return "", err
	}
	if network == "unix" {
		return "", fmt.Errorf("unix socket API addresses are not supported")
	}
	return "http://" + host, nil
}
