package ipfsnode_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// An embedded node serving its API: another client reaches the same node
// through the api file, a non-loopback address is refused, and closing the
// node stops the server and removes the api file.
func TestServeAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	repo := filepath.Join(t.TempDir(), "kubo")
	n, err := ipfsnode.StartEmbedded(ctx, ipfsnode.EmbeddedConfig{Repo: repo})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := n.ServeAPI("/ip4/0.0.0.0/tcp/0"); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("ServeAPI on 0.0.0.0: %v; want a refusal naming loopback", err)
	}
	addr, err := n.ServeAPI("")
	if err != nil {
		t.Fatal(err)
	}
	fileAddr, ok := ipfsnode.RepoAPIAddr(repo)
	if !ok || fileAddr != addr {
		t.Fatalf("api file holds %q (%v), want %q", fileAddr, ok, addr)
	}
	c, err := ipfsnode.Connect(ctx, fileAddr)
	if err != nil {
		t.Fatalf("connect to the served API: %v", err)
	}
	defer c.Close()
	want, err := n.PeerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.PeerID(ctx); err != nil || got != want {
		t.Fatalf("peer ID over the served API: %s (%v), want the embedded node's %s", got, err, want)
	}

	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(repo, "api")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("api file after Close: %v; want it gone", err)
	}
	if _, err := ipfsnode.Connect(ctx, fileAddr); err == nil {
		t.Errorf("the API still answers after the node closed")
	}
	if _, err := (&ipfsnode.Node{}).ServeAPI(""); err == nil {
		t.Errorf("ServeAPI on a node that is not embedded succeeded")
	}
}
