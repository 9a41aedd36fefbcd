package ipfsstore

import (
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// prefix is the CID form of every chunk: CIDv1, DAG-CBOR, and a sha2-512
// multihash truncated to the 20 bytes of the chunk hash. Hash and CID map
// both ways with no lookup table.
var prefix = cid.Prefix{Version: 1, Codec: cid.DagCBOR, MhType: mh.SHA2_512, MhLength: chunks.HashLen}

// mhHeader is the multihash header (code 0x13, length 20) before the digest.
var mhHeader = []byte{mh.SHA2_512, chunks.HashLen}

// HashToCID returns the CID under which the chunk with hash h is stored.
func HashToCID(h chunks.Hash) cid.Cid {
	buf := make([]byte, 0, len(mhHeader)+chunks.HashLen)
	buf = append(append(buf, mhHeader...), h[:]...)
	return cid.NewCidV1(cid.DagCBOR, mh.Multihash(buf))
}

// CIDToHash returns the chunk hash inside c. CIDs of any other form (another
// version, codec, hash function or digest length) are refused with an error
// wrapping ErrForeignCID.
func CIDToHash(c cid.Cid) (chunks.Hash, error) {
	if !c.Defined() {
		return chunks.Hash{}, fmt.Errorf("%w: undefined CID", ErrForeignCID)
	}
	p := c.Prefix()
	if p.Version != 1 || p.Codec != cid.DagCBOR || p.MhType != mh.SHA2_512 || p.MhLength != chunks.HashLen {
		return chunks.Hash{}, fmt.Errorf("%w: %s is CIDv%d, codec %#x, multihash %#x of %d bytes; want CIDv1, dag-cbor, sha2-512 of %d bytes",
			ErrForeignCID, c, p.Version, p.Codec, p.MhType, p.MhLength, chunks.HashLen)
	}
	dec, err := mh.Decode(c.Hash())
	if err != nil {
		return chunks.Hash{}, fmt.Errorf("%w: %s: %v", ErrForeignCID, c, err)
	}
	return chunks.HashFromBytes(dec.Digest)
}

// ParseCID parses text as a CID and returns its chunk hash.
func ParseCID(s string) (chunks.Hash, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return chunks.Hash{}, fmt.Errorf("%w: %q: %v", ErrForeignCID, s, err)
	}
	return CIDToHash(c)
}
