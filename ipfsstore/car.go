package ipfsstore

import (
	"encoding/binary"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
)

// appendCARv1 appends a CARv1 stream of blks with the given root to buf.
// The format is simple enough that writing it here avoids a dependency:
// varint(len(header)) header, then varint(len(cid)+len(data)) cid data for
// each block; the header is the DAG-CBOR map {"roots": [root], "version": 1}.
func appendCARv1(buf []byte, root cid.Cid, blks []blocks.Block) []byte {
	rb := root.Bytes()
	var hdr []byte
	hdr = append(hdr, 0xa2)                          // map(2), keys in length-first order
	hdr = append(hdr, 0x65, 'r', 'o', 'o', 't', 's') // "roots"
	hdr = append(hdr, 0x81, 0xd8, 0x2a)              // array(1), tag(42)
	hdr = appendCBORBytesHeader(hdr, len(rb)+1)
	hdr = append(hdr, 0x00) // multibase identity prefix of binary CIDs in DAG-CBOR
	hdr = append(hdr, rb...)
	hdr = append(hdr, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01) // "version": 1
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

func appendCBORBytesHeader(b []byte, n int) []byte {
	switch {
	case n < 24:
		return append(b, 0x40|byte(n))
	case n < 1<<8:
		return append(b, 0x58, byte(n))
	default:
		return append(b, 0x59, byte(n>>8), byte(n))
	}
}
