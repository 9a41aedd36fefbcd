package ipfsstore

import "errors"

// ErrForeignCID is returned when a CID is not of the form chunks are stored
// under (CIDv1, dag-cbor, sha2-512 truncated to 20 bytes).
var ErrForeignCID = errors.New("CID is not a noms-ipfs chunk CID")

// ErrWrongNode is returned by Open when the persisted root is not in the
// Kubo node: the state directory belongs to another node, or the node lost data.
var ErrWrongNode = errors.New("root chunk is not in this Kubo node")
