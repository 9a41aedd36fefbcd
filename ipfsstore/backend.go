package ipfsstore

import (
	"context"
	"errors"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// backend is what the store needs from a Kubo node; the RPC client and an
// embedded node reach the same operations by different roads.
type backend interface {
	// write writes blks to the node, taking no lock: callers name them in
	// a pinned keep root first (see keep.go).
	write(ctx context.Context, blks []blocks.Block) error
	// pinBlocks writes each block and pins it recursively without walking
	// its links, in order, each under Kubo's pin lock: a GC sees a block
	// and its pin together or neither. name labels the pins where the
	// backend can (the embedded node; Kubo's RPC block/put cannot).
	pinBlocks(ctx context.Context, name string, blks []blocks.Block) error
	// unpin removes the recursive pins of cs; CIDs not pinned are skipped.
	unpin(ctx context.Context, cs []cid.Cid) error
	// pinned reports whether c is pinned recursively.
	pinned(ctx context.Context, c cid.Cid) (bool, error)
	// recursivePins lists every recursive pin of the node, with its name
	// where it has one.
	recursivePins(ctx context.Context) ([]namedPin, error)
	// removeMFS removes the MFS path p, if there is one, and its parent
	// when that is left empty: earlier versions kept roots in MFS.
	removeMFS(ctx context.Context, p string) error
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

type namedPin struct {
	cid  cid.Cid
	name string
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
