package ipfsstore

import (
	"errors"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// ErrForeignCID is chunks.ErrForeignCID: a CID not of the form chunks are
// stored under.
var ErrForeignCID = chunks.ErrForeignCID

// ErrWrongNode is returned by Open when the persisted root is not in the
// Kubo node: the state directory belongs to another node, or the node lost data.
var ErrWrongNode = errors.New("root chunk is not in this Kubo node")
