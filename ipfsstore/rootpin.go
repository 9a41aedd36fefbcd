package ipfsstore

import (
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// rootPinBlock returns the block a database pins to keep its root and all
// below it: the DAG-CBOR map {"db": id, "root": <link>}. Pinning this
// rather than the root itself gives every database a CID of its own: Kubo
// keeps one pin per CID, so two databases on one node that reach the same
// root would otherwise share a pin, and the first to move on would unpin
// the other's data.
func rootPinBlock(id string, root chunks.Hash) blocks.Block {
	rc := HashToCID(root).Bytes()
	b := make([]byte, 0, 16+len(id)+len(rc))
	b = append(b, 0xa2)           // map(2); keys in DAG-CBOR's length-first order
	b = append(b, 0x62, 'd', 'b') // "db"
	b = appendCBORText(b, id)
	b = append(b, 0x64, 'r', 'o', 'o', 't') // "root"
	b = append(b, 0xd8, 0x2a)               // tag 42: a link
	b = appendCBORBytesHeader(b, len(rc)+1)
	b = append(append(b, 0x00), rc...)
	blk, _ := blocks.NewBlockWithCid(b, HashToCID(chunks.Of(b)))
	return blk
}

// rootPinCID is the CID of rootPinBlock, or cid.Undef for the empty root,
// which needs no pin.
func rootPinCID(id string, root chunks.Hash) cid.Cid {
	if root.IsEmpty() {
		return cid.Undef
	}
	return rootPinBlock(id, root).Cid()
}

func appendCBORText(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 24:
		b = append(b, 0x60|byte(n))
	case n < 1<<8:
		b = append(b, 0x78, byte(n))
	default:
		b = append(b, 0x79, byte(n>>8), byte(n))
	}
	return append(b, s...)
}
