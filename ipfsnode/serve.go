package ipfsnode

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	oldcmds "github.com/ipfs/kubo/commands"
	"github.com/ipfs/kubo/core"
	"github.com/ipfs/kubo/core/corehttp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// DefaultServeAddr is where ServeAPI listens by default: loopback, a free port.
const DefaultServeAddr = "/ip4/127.0.0.1/tcp/0"

// ServeAPI serves the Kubo RPC API of an embedded node on addr (a loopback
// multiaddr; empty means DefaultServeAddr) and writes the address to the
// repo's api file, as `ipfs daemon` does. Other processes then use this
// node while it runs instead of failing on the repo's lock: the ipfs CLI
// with IPFS_PATH set to the repo, and other noms-ipfs commands on the same
// home (see RepoAPIAddr). The server stops, and the api file goes, when the
// node closes. It returns the address it listens on.
func (n *Node) ServeAPI(addr string) (string, error) {
	if !n.Embedded() {
		return "", errors.New("cannot serve the RPC API: not an embedded node")
	}
	if addr == "" {
		addr = DefaultServeAddr
	}
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return "", fmt.Errorf("cannot serve the RPC API on %q: %w", addr, err)
	}
	// The API gives full control of the node: never off this machine.
	if !manet.IsIPLoopback(m) {
		return "", fmt.Errorf("cannot serve the RPC API on %s: only loopback addresses are allowed", addr)
	}
	lis, err := manet.Listen(m)
	if err != nil {
		return "", fmt.Errorf("cannot serve the RPC API on %s: %w", addr, err)
	}
	node := n.core
	cctx := oldcmds.Context{
		ConfigRoot:    n.addr,
		ReqLog:        &oldcmds.ReqLog{},
		ConstructNode: func() (*core.IpfsNode, error) { return node, nil },
	}
	ready := make(chan struct{})
	go func() {
		err := corehttp.ServeWithReady(node, manet.NetListener(lis), ready,
			corehttp.CheckVersionOption(),
			corehttp.CommandsOption(cctx),
			corehttp.VersionOption(),
		)
		if err != nil && node.Context().Err() == nil {
			slog.Warn("embedded Kubo RPC API stopped", "addr", lis.Multiaddr(), "err", err)
		}
	}()
	select {
	case <-ready:
	case <-node.Context().Done():
		return "", errors.New("cannot serve the RPC API: the node is closing")
	}
	if err := node.Repo.SetAPIAddr(lis.Multiaddr()); err != nil {
		return "", fmt.Errorf("cannot write the api file of %s: %w", n.addr, err)
	}
	return lis.Multiaddr().String(), nil
}

// RepoAPIAddr returns the RPC address in the api file of the Kubo repo at
// repo, written by a daemon or by ServeAPI; ok is false without one.
func RepoAPIAddr(repo string) (addr string, ok bool) {
	b, err := os.ReadFile(filepath.Join(repo, "api"))
	if err != nil {
		return "", false
	}
	addr = strings.TrimSpace(string(b))
	return addr, addr != ""
}
