package ipfsstore

import (
	"context"
	"errors"

	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// backend is what the store needs from a Kubo node. The two
// implementations differ in how writes reach the blockstore and how they
// reach MFS (see gcroot.go).
type backend interface {
	// write writes blks to the node.
	write(ctx context.Context, blks []blocks.Block) error
	// protect writes nd and links it as the MFS entry dir/name, creating
	// dir as needed; an existing entry of that name is left as it is (it
	// holds the same node: names are root hashes).
	protect(ctx context.Context, dir, name string, nd *merkledag.ProtoNode) error
	// unprotect removes the MFS entry dir/name, if there is one.
	unprotect(ctx context.Context, dir, name string) error
	// protected lists the entries of the MFS directory dir (none when it
	// does not exist).
	protected(ctx context.Context, dir string) ([]string, error)
	// pinned returns the recursive pins named name: earlier versions kept
	// the root with one, which Open removes.
	pinned(ctx context.Context, name string) ([]cid.Cid, error)
	// unpin removes the recursive pin of c, if there is one.
	unpin(ctx context.Context, c cid.Cid) error
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
