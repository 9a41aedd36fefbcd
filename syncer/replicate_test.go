package syncer

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/boxo/path"
	"github.com/ipfs/kubo/core/coreiface/options"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
)

// A pin move the syncer gave up on (superseded by a newer head, or timed
// out) can still be carried out by Kubo, which does not undo a request
// whose client went away; the pinner then no longer knows the writer's
// pin. Its next move must still leave the writer exactly one replica pin,
// not the orphan as well, which would keep that old version from GC for
// good.
func TestReplicaPinMoveDropsPinOfAbandonedMove(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kubo := kubotest.Start(t)
	node, err := ipfsnode.Connect(ctx, kubo.APIAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	store, err := ipfsstore.Open(ctx, node, ipfsstore.Options{Dir: filepath.Join(t.TempDir(), "store")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	const database = "db"
	writer, err := peer.Decode("12D3KooWEhbCUgDiNnKnXxrBcBv4BqSoPmKM9vyz8TTARpp1jRNW")
	if err != nil {
		t.Fatal(err)
	}
	name := ReplicaPinPrefix + database + "/" + writer.String()
	root := func(i int) chunks.Hash { // a DAG-CBOR leaf
		c := chunks.NewChunk(cborx.AppendText(nil, fmt.Sprintf("root %d", i)))
		if err := store.WriteKept(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c.Hash()
	}
	replicaPins := func() []string {
		found, err := newKuboPinner(node, store, database).list(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range found[writer] {
			out = append(out, c.String())
		}
		return out
	}

	p := newKuboPinner(node, store, database)
	if _, err := p.pin(ctx, writer, root(1)); err != nil {
		t.Fatal(err)
	}
	// The abandoned move to root 2: its pin, which Kubo added after the
	// pinner gave up waiting, so the old pin was never removed.
	abandoned := replicaBlock(name, root(2))
	if err := store.WriteKept(ctx, abandoned); err != nil {
		t.Fatal(err)
	}
	if err := node.API().Pin().Add(ctx, path.FromCid(abandoned.Hash().CID()), options.Pin.Recursive(true), options.Pin.Name(name)); err != nil {
		t.Fatal(err)
	}
	if got := replicaPins(); len(got) != 2 {
		t.Fatalf("replica pins of the writer after the abandoned move: %v, want the old one and the orphan", got)
	}

	r3 := root(3)
	if _, err := p.pin(ctx, writer, r3); err != nil {
		t.Fatal(err)
	}
	want := replicaBlock(name, r3).Hash().CID().String()
	if got := replicaPins(); len(got) != 1 || got[0] != want {
		t.Fatalf("replica pins of the writer after the next move: %v, want only %s (the abandoned move pinned %s)", got, want, abandoned.Hash().CID())
	}
}
