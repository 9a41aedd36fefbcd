package ipfsstore

import (
	"context"
	"errors"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// backend is what the store needs from a Kubo node. The two
// implementations differ in how writes reach the blockstore and how they
// are kept from the garbage collector until the root pin covers them.
type backend interface {
	// persist writes blks to the node and, when to differs from from, pins
	// to recursively under name while keeping from pinned, so that a crash
	// at any point leaves the persisted root pinned. An undefined CID means
	// the empty root.
	persist(ctx context.Context, blks []blocks.Block, from, to cid.Cid, name string) error
	// repin pins c recursively after checking its whole DAG is present.
	repin(ctx context.Context, c cid.Cid, name string) error
	// unpin removes the recursive pin of c, if there is one.
	unpin(ctx context.Context, c cid.Cid) error
	// pinned returns the recursive pins named name.
	pinned(ctx context.Context, name string) ([]cid.Cid, error)
	// has reports whether the node holds c locally; it never waits on the network.
	has(ctx context.Context, c cid.Cid) (bool, error)
	// getLocal returns c's bytes from the local blockstore, ErrNotFound-like
	// errors (ipld.IsNotFound) when absent.
	getLocal(ctx context.Context, c cid.Cid) ([]byte, error)
	// fetch returns c's bytes, asking the network when needed.
	fetch(ctx context.Context, c cid.Cid) ([]byte, error)
	// batch is how many chunks one write should carry.
	batchSize() int
}

func newBackend(n *ipfsnode.Node) backend {
	if n.Embedded() {
		return &embeddedBackend{n: n}
	}
	return &rpcBackend{n: n}
}

func isNotFound(err error) bool {
	return ipld.IsNotFound(err) || errors.Is(err, ipld.ErrNotFound{})
}
