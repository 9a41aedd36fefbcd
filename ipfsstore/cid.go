package ipfsstore

import (
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// HashToCID returns the CID under which the chunk with hash h is stored:
// chunks.Hash.CID, CIDv1 dag-cbor with the hash as a sha2-512/20 digest.
func HashToCID(h chunks.Hash) cid.Cid { return h.CID() }

// CIDToHash returns the chunk hash inside c; CIDs of any other form are
// refused with an error wrapping ErrForeignCID.
func CIDToHash(c cid.Cid) (chunks.Hash, error) { return chunks.HashFromCID(c) }

// ParseCID parses text as a CID and returns its chunk hash.
func ParseCID(s string) (chunks.Hash, error) {
	c, err := cid.Decode(s)
	if err != nil {
		return chunks.Hash{}, fmt.Errorf("%w: %q: %v", ErrForeignCID, s, err)
	}
	return CIDToHash(c)
}
