package prolly

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

// Node chunks are the DAG-CBOR array [level, entries] (docs/datamodel.md):
//
//	leaf (level 0)  Map [k1, v1, k2, v2, ...]   Set [k1, ...]
//	                List [v1, ...]              Blob: a byte string
//	internal        ordered (Map, Set): [lastKey, link, count, ...]
//	                indexed (List, Blob): [link, count, ...]
//
// Entries are embedded as the caller encoded them; prolly only needs to
// find where each CBOR item ends.

// CBOR major types.
const (
	majorUint  = 0
	majorBytes = 2
	majorArray = 4
	majorTag   = 6
)

// linkPrefix is a tag-42 link to a chunk: tag 42, a 25-byte byte string
// holding the identity multibase prefix 0x00 and the chunk's CIDv1
// (version 1, codec dag-cbor 0x71, multihash sha2-512 0x13 truncated to 20
// bytes 0x14), followed by the 20 hash bytes. Every chunk of noms-ipfs has
// this CID form (see ipfsstore.HashToCID).
var linkPrefix = []byte{0xd8, 0x2a, 0x58, 0x19, 0x00, 0x01, 0x71, 0x13, 0x14}

// linkSize is the encoded size of a link.
const linkSize = 9 + chunks.HashLen

func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= math.MaxUint8:
		return append(b, m|24, byte(n))
	case n <= math.MaxUint16:
		return append(b, m|25, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}

func appendLink(b []byte, h chunks.Hash) []byte {
	return append(append(b, linkPrefix...), h[:]...)
}

// encodeNode returns the chunk bytes of a node at level whose entries
// array holds nItems CBOR items already encoded in body (or, for a blob
// leaf, whose byte string is body). The result does not alias body.
func encodeNode(level int, blobLeaf bool, nItems int, body []byte) []byte {
	out := make([]byte, 0, len(body)+16)
	out = append(out, majorArray<<5|2)
	out = appendHead(out, majorUint, uint64(level))
	if blobLeaf {
		out = appendHead(out, majorBytes, uint64(len(body)))
	} else {
		out = appendHead(out, majorArray, uint64(nItems))
	}
	return append(out, body...)
}

// item is one element of a decoded node. Leaves: key and val of a Map
// entry, key of a Set entry, val of a List item. Internal nodes: the
// child's link and count, and for ordered shapes its last key (in key).
// Slices alias the chunk's bytes.
type item struct {
	key, val []byte
	link     chunks.Hash
	count    uint64
}

// node is a decoded node chunk.
type node struct {
	level int
	items []item // all but blob leaves
	blob  []byte // blob leaves
	total uint64 // entries (bytes for blobs) under the node
}

// size returns the number of entries, children or bytes directly in n.
func (n *node) size() int {
	if n.level == 0 && n.blob != nil {
		return len(n.blob)
	}
	return len(n.items)
}

// decodeNode parses a node chunk of the given shape. It never panics and
// refuses anything that is not strict DAG-CBOR or not laid out as a node of
// that shape, so entries taken from it can be embedded in new nodes as is.
func decodeNode(data []byte, shape Shape) (*node, error) {
	if err := dagcbor.Validate(data); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	d := cborReader{data: data}
	if n, err := d.head(majorArray); err != nil || n != 2 {
		return nil, d.fail("node is not an array of 2 items")
	}
	lvl, err := d.head(majorUint)
	if err != nil || lvl > MaxLevel {
		return nil, d.fail("node level is not an integer in [0, %d]", MaxLevel)
	}
	n := &node{level: int(lvl)}
	if n.level == 0 && shape == BlobShape {
		size, err := d.head(majorBytes)
		if err != nil || size == 0 {
			return nil, d.fail("blob leaf is not a non-empty byte string")
		}
		n.blob = d.data[d.off:]
		n.total = size
		return n, nil
	}
	cnt, err := d.head(majorArray)
	if err != nil || cnt == 0 {
		return nil, d.fail("node entries are not a non-empty array")
	}
	per := 1
	switch {
	case n.level == 0 && shape == MapShape:
		per = 2
	case n.level > 0 && shape.ordered():
		per = 3
	case n.level > 0:
		per = 2
	}
	if cnt%uint64(per) != 0 {
		return nil, d.fail("%d node entries are not a multiple of %d", cnt, per)
	}
	// Validate bounded the count by the chunk size.
	n.items = make([]item, cnt/uint64(per))
	for i := range n.items {
		it := &n.items[i]
		if n.level == 0 {
			var v []byte
			if v, err = d.skip(); err != nil {
				return nil, err
			}
			switch shape {
			case MapShape:
				it.key = v
				if it.val, err = d.skip(); err != nil {
					return nil, err
				}
			case SetShape:
				it.key = v
			default:
				it.val = v
			}
			n.total++
			continue
		}
		if shape.ordered() {
			if it.key, err = d.skip(); err != nil {
				return nil, err
			}
		}
		if it.link, err = d.link(); err != nil {
			return nil, err
		}
		c, err := d.head(majorUint)
		if err != nil || c == 0 {
			return nil, d.fail("child count is not a positive integer")
		}
		it.count = c
		if n.total+c < n.total {
			return nil, d.fail("child counts overflow")
		}
		n.total += c
	}
	if d.off != len(d.data) {
		return nil, d.fail("trailing data")
	}
	return n, nil
}

// cborReader walks CBOR that dagcbor.Validate has accepted; it still
// checks every bound so that it cannot panic whatever it is given.
type cborReader struct {
	data []byte
	off  int
}

func (d *cborReader) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrCorrupt, fmt.Sprintf(format, args...), d.off)
}

// rawHead reads one item head, returning the major type and argument.
func (d *cborReader) rawHead() (major byte, arg uint64, err error) {
	if d.off >= len(d.data) {
		return 0, 0, d.fail("unexpected end of node")
	}
	ib := d.data[d.off]
	major, info := ib>>5, ib&31
	d.off++
	switch {
	case info < 24:
		return major, uint64(info), nil
	case info <= 27:
		n := 1 << (info - 24)
		if len(d.data)-d.off < n {
			return 0, 0, d.fail("truncated item head")
		}
		for _, b := range d.data[d.off : d.off+n] {
			arg = arg<<8 | uint64(b)
		}
		d.off += n
		return major, arg, nil
	}
	return 0, 0, d.fail("indefinite or reserved item head")
}

// head reads a head that must be of the given major type.
func (d *cborReader) head(want byte) (uint64, error) {
	start := d.off
	major, arg, err := d.rawHead()
	if err != nil {
		return 0, err
	}
	if major != want {
		d.off = start
		return 0, d.fail("item of major type %d, want %d", major, want)
	}
	if want == majorBytes {
		if arg > uint64(len(d.data)-d.off) {
			return 0, d.fail("truncated byte string")
		}
	}
	return arg, nil
}

// skip moves past one complete data item and returns its bytes.
func (d *cborReader) skip() ([]byte, error) {
	start := d.off
	for pending := uint64(1); pending > 0; pending-- {
		major, arg, err := d.rawHead()
		if err != nil {
			return nil, err
		}
		rest := uint64(len(d.data) - d.off)
		switch major {
		case 2, 3: // byte and text strings
			if arg > rest {
				return nil, d.fail("truncated string")
			}
			d.off += int(arg)
		case 4, 5: // arrays and maps: each element needs at least a byte
			if major == 5 {
				if arg > rest/2 {
					return nil, d.fail("truncated map")
				}
				arg *= 2
			}
			if arg > rest {
				return nil, d.fail("truncated array")
			}
			pending += arg
		case 6:
			pending++
		case 7:
			// Heads already consumed the float bits or simple value.
		}
	}
	return d.data[start:d.off], nil
}

// link reads a tag-42 link in noms-ipfs' CID form.
func (d *cborReader) link() (chunks.Hash, error) {
	var h chunks.Hash
	if len(d.data)-d.off < linkSize || !bytes.Equal(d.data[d.off:d.off+len(linkPrefix)], linkPrefix) {
		return h, d.fail("child is not a link to a dag-cbor sha2-512/160 chunk")
	}
	copy(h[:], d.data[d.off+len(linkPrefix):])
	d.off += linkSize
	return h, nil
}

// checkItem returns an error wrapping ErrInvalidEntry unless b is exactly
// one strict DAG-CBOR data item that can be nested two levels deep (in a
// node's entries array) and still be valid.
func checkItem(b []byte, what string) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: %s is missing", ErrInvalidEntry, what)
	}
	if err := dagcbor.Validate(b); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidEntry, what, err)
	}
	// Validate caps nesting at dagcbor.MaxDepth; the node adds two levels.
	if depth(b) > dagcbor.MaxDepth-2 {
		return fmt.Errorf("%w: %s nests deeper than %d levels", ErrInvalidEntry, what, dagcbor.MaxDepth-2)
	}
	return nil
}

// depth returns how deeply the (valid) item b nests lists and maps. Only
// called after Validate, and cheap for the scalars most entries are.
func depth(b []byte) int {
	if len(b) == 0 || (b[0]>>5 != 4 && b[0]>>5 != 5 && b[0]>>5 != 6) {
		return 0
	}
	d := cborReader{data: b}
	var stack []uint64 // items still to read at each open level
	deepest := 0
	pending := uint64(1)
	for pending > 0 || len(stack) > 0 {
		if pending == 0 {
			pending = stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			continue
		}
		pending--
		major, arg, err := d.rawHead()
		if err != nil {
			return math.MaxInt
		}
		switch major {
		case 2, 3:
			d.off += int(arg)
		case 4, 5:
			if major == 5 {
				arg *= 2
			}
			stack = append(stack, pending)
			pending = arg
			deepest = max(deepest, len(stack))
		case 6:
			pending++
		}
	}
	return deepest
}
