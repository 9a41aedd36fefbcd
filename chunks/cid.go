package chunks

import (
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// Chunks link to each other by CID, as DAG-CBOR tag 42 links, so that IPFS
// can follow them. A chunk's CID is CIDv1, codec dag-cbor, with a sha2-512
// multihash truncated to 20 bytes whose digest is the chunk hash itself:
// Hash and CID map both ways with no lookup table.

// mhHeader is the multihash header (code 0x13, length 20) before the digest.
var mhHeader = []byte{mh.SHA2_512, HashLen}

// CID returns the CID of the chunk with hash h.
func (h Hash) CID() cid.Cid {
	buf := make([]byte, 0, len(mhHeader)+HashLen)
	buf = append(append(buf, mhHeader...), h[:]...)
	return cid.NewCidV1(cid.DagCBOR, mh.Multihash(buf))
}

// HashFromCID returns the chunk hash inside c. CIDs of any other form
// (another version, codec, hash function or digest length) are refused with
// an error wrapping ErrForeignCID.
func HashFromCID(c cid.Cid) (Hash, error) {
	if !c.Defined() {
		return Hash{}, fmt.Errorf("%w: undefined CID", ErrForeignCID)
	}
	p := c.Prefix()
	if p.Version != 1 || p.Codec != cid.DagCBOR || p.MhType != mh.SHA2_512 || p.MhLength != HashLen {
		return Hash{}, fmt.Errorf("%w: %s is CIDv%d, codec %#x, multihash %#x of %d bytes; want CIDv1, dag-cbor, sha2-512 of %d bytes",
			ErrForeignCID, c, p.Version, p.Codec, p.MhType, p.MhLength, HashLen)
	}
	dec, err := mh.Decode(c.Hash())
	if err != nil {
		return Hash{}, fmt.Errorf("%w: %s: %v", ErrForeignCID, c, err)
	}
	return HashFromBytes(dec.Digest)
}
