package ipfsstore

import (
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

// topDown orders blks so that every block reachable from root within blks
// comes after a block that links to it (breadth first from root), then the
// rest. Written in this order, each block is reachable from the database's
// MFS entry the moment it lands, so a garbage collection between two write
// batches cannot remove blocks whose parents are still to come.
func topDown(root cid.Cid, blks []blocks.Block) []blocks.Block {
	if len(blks) < 2 || !root.Defined() {
		return blks
	}
	byCID := make(map[cid.Cid]blocks.Block, len(blks))
	for _, b := range blks {
		byCID[b.Cid()] = b
	}
	out := make([]blocks.Block, 0, len(blks))
	take := func(c cid.Cid) {
		if b, ok := byCID[c]; ok {
			delete(byCID, c)
			out = append(out, b)
		}
	}
	take(root)
	for i := 0; i < len(out); i++ {
		// Put validated every block; a link error cannot happen here and
		// would only leave its block for the unordered tail.
		_ = dagcbor.Links(out[i].RawData(), func(l cid.Cid) error {
			take(l)
			return nil
		})
	}
	for _, b := range blks {
		if _, ok := byCID[b.Cid()]; ok {
			out = append(out, b)
		}
	}
	return out
}
