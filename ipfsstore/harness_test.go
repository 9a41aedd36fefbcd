package ipfsstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/boxo/datastore/dshelp"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/chunks/chunkstest"
	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// testFetchTimeout keeps Get of a chunk nobody has short in tests; the
// default (30 s) is for real networks.
const testFetchTimeout = 300 * time.Millisecond

func ctxT(t testing.TB) context.Context { return chunkstest.Ctx(t) }

// connect opens an RPC connection to a test daemon, closed with the test.
func connect(t testing.TB, d *kubotest.Node) *ipfsnode.Node {
	t.Helper()
	n, err := ipfsnode.Connect(ctxT(t), d.APIAddr)
	if err != nil {
		t.Fatalf("connect to %s: %v", d.APIAddr, err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// startEmbedded starts an in-process node on a fresh repo, stopped with the test.
func startEmbedded(t testing.TB, online bool) (*ipfsnode.Node, string) {
	t.Helper()
	repo := filepath.Join(t.TempDir(), "kubo")
	n, err := ipfsnode.StartEmbedded(ctxT(t), ipfsnode.EmbeddedConfig{Repo: repo, Online: online})
	if err != nil {
		t.Fatalf("start embedded Kubo: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("stop embedded Kubo: %v", err)
		}
	})
	return n, repo
}

func openStore(t testing.TB, n *ipfsnode.Node, dir string) *Store {
	t.Helper()
	s, err := Open(ctxT(t), n, Options{Dir: dir, FetchTimeout: testFetchTimeout})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// nodeStorage is one database (state directory) on one Kubo node.
type nodeStorage struct {
	node *ipfsnode.Node
	repo string // the node's repo, where its flatfs keeps block files
	dir  string
}

func (s nodeStorage) Open(t testing.TB) chunks.ChunkStore {
	st, err := Open(ctxT(t), s.node, Options{Dir: s.dir, FetchTimeout: testFetchTimeout})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return st
}

// Corrupt flips a byte of the block's file in the node's flatfs datastore.
func (s nodeStorage) Corrupt(t testing.TB, h chunks.Hash) {
	t.Helper()
	corruptBlockFile(t, s.repo, h)
}

func corruptBlockFile(t testing.TB, repo string, h chunks.Hash) {
	t.Helper()
	name := dshelp.MultihashToDsKey(HashToCID(h).Hash()).String()[1:] + ".data"
	var found string
	err := filepath.WalkDir(filepath.Join(repo, "blocks"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == name {
			found = p
		}
		return err
	})
	if err != nil || found == "" {
		t.Fatalf("block file %s of chunk %s not found in %s: %v", name, h, repo, err)
	}
	b, err := os.ReadFile(found)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(found, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// rpcHarness runs every storage on one real daemon, each with its own state
// directory, as separate databases on one node are.
type rpcHarness struct {
	daemon *kubotest.Node
	node   *ipfsnode.Node
}

func (h rpcHarness) NewStorage(t testing.TB) chunkstest.Storage {
	return nodeStorage{node: h.node, repo: h.daemon.Repo, dir: t.TempDir()}
}

type embeddedHarness struct{}

func (embeddedHarness) NewStorage(t testing.TB) chunkstest.Storage {
	n, repo := startEmbedded(t, false)
	return nodeStorage{node: n, repo: repo, dir: t.TempDir()}
}

func TestConformanceRPC(t *testing.T) {
	d := kubotest.Start(t)
	chunkstest.Run(t, rpcHarness{daemon: d, node: connect(t, d)})
}

func TestConformanceEmbedded(t *testing.T) {
	chunkstest.Run(t, embeddedHarness{})
}

func BenchmarkRPC(b *testing.B) {
	d := kubotest.Start(b)
	chunkstest.RunBenchmarks(b, rpcHarness{daemon: d, node: connect(b, d)})
}

func BenchmarkEmbedded(b *testing.B) {
	chunkstest.RunBenchmarks(b, embeddedHarness{})
}
