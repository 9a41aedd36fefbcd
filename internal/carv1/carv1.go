// Package carv1 writes CARv1 streams, the format Kubo's dag/import reads.
// The format is simple enough that writing it here avoids a dependency:
// varint(len(header)) header, then varint(len(cid)+len(data)) cid data for
// each block; the header is the DAG-CBOR map {"roots": [root],
// "version": 1}.
package carv1

import (
	"encoding/binary"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
)

// Append appends a CARv1 stream of blks with the given root to buf.
func Append(buf []byte, root cid.Cid, blks []blocks.Block) []byte {
	hdr := cborx.AppendHead(nil, cborx.Map, 2) // keys in DAG-CBOR's length-first order
	hdr = cborx.AppendText(hdr, "roots")
	hdr = cborx.AppendHead(hdr, cborx.Array, 1)
	hdr = cborx.AppendLink(hdr, root)
	hdr = cborx.AppendText(hdr, "version")
	hdr = cborx.AppendHead(hdr, cborx.Uint, 1)
	buf = binary.AppendUvarint(buf, uint64(len(hdr)))
	buf = append(buf, hdr...)
	for _, b := range blks {
		cb := b.Cid().Bytes()
		buf = binary.AppendUvarint(buf, uint64(len(cb)+len(b.RawData())))
		buf = append(buf, cb...)
		buf = append(buf, b.RawData()...)
	}
	return buf
}
