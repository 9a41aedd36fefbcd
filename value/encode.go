package value

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"unicode/utf8"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// MaxDepth bounds how deeply an encoding nests: no CBOR map or array in it
// may lie inside MaxDepth or more others. (A Struct takes three levels, a
// collection header two.) It is half of the limit of the chunk validator
// (dagcbor.MaxDepth, 512) so that any encodable value can still be embedded
// in a prolly node or another chunk and pass validation. Decode enforces the
// same bound, which also keeps hostile input from exhausting the stack.
const MaxDepth = 256

// CBOR major types (RFC 8949 section 3.1), shifted into the initial byte.
const (
	majorUint   = 0 << 5
	majorNegInt = 1 << 5
	majorBytes  = 2 << 5
	majorText   = 3 << 5
	majorArray  = 4 << 5
	majorMap    = 5 << 5
)

// Initial bytes of the items the encoding uses directly.
const (
	cborFalse   = 0xf4
	cborTrue    = 0xf5
	cborNull    = 0xf6
	cborFloat64 = 0xfb
)

// The type wrappers: a one-entry map (0xa1) and its key. Encoded keys are
// kept whole so that encoding appends them and decoding and CompareEncoded
// recognise them by prefix.
var (
	wrapStruct = []byte{0xa1, 0x66, 's', 't', 'r', 'u', 'c', 't'}
	wrapList   = []byte{0xa1, 0x64, 'l', 'i', 's', 't'}
	wrapMap    = []byte{0xa1, 0x63, 'm', 'a', 'p'}
	wrapSet    = []byte{0xa1, 0x63, 's', 'e', 't'}
	wrapBlob   = []byte{0xa1, 0x64, 'b', 'l', 'o', 'b'}
)

// linkPrefix starts every link: tag 42 (d8 2a), a 25-byte byte string
// (58 19) holding the identity multibase prefix 00 and the CID, which is
// CIDv1 (01), codec dag-cbor (71), multihash sha2-512 (13) truncated to 20
// bytes (14); the chunk hash follows as the digest. This is the CID package
// ipfsstore stores chunks under (HashToCID); it is spelled out here rather
// than imported because value sits below the storage layer.
var linkPrefix = [...]byte{0xd8, 0x2a, 0x58, 0x19, 0x00, 0x01, 0x71, 0x13, 0x14}

// linkLen is the length of an encoded link.
const linkLen = len(linkPrefix) + chunks.HashLen

// Encode returns the canonical encoding of v: one DAG-CBOR data item.
// Values with no encoding are refused with an error wrapping
// ErrInvalidValue: nil, a Float NaN or ±Inf, a String that is not UTF-8, a
// Ref to the zero hash, a collection header with a count but no root or a
// root but no count, and nesting beyond MaxDepth.
func Encode(v Value) ([]byte, error) {
	return AppendEncode(nil, v)
}

// AppendEncode appends the encoding of v to dst and returns the extended
// slice. On error it returns dst with its original length, and the error.
func AppendEncode(dst []byte, v Value) ([]byte, error) {
	n := len(dst)
	out, err := appendValue(dst, v, 0)
	if err != nil {
		return dst[:n], fmt.Errorf("encoding value: %w", err)
	}
	return out, nil
}

// appendValue appends the encoding of v, which sits inside depth maps and
// arrays.
func appendValue(dst []byte, v Value, depth int) ([]byte, error) {
	switch v := v.(type) {
	case Bool:
		if v {
			return append(dst, cborTrue), nil
		}
		return append(dst, cborFalse), nil
	case Int:
		if v < 0 {
			// CBOR stores a negative n as -1-n, which is ^n in two's complement.
			return appendHead(dst, majorNegInt, uint64(^v)), nil
		}
		return appendHead(dst, majorUint, uint64(v)), nil
	case Float:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, fmt.Errorf("%w: Float %v has no encoding", ErrInvalidValue, f)
		}
		if f == 0 {
			f = 0 // -0.0 == 0.0, so this turns -0.0 into +0.0: one encoding per value
		}
		dst = append(dst, cborFloat64)
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(f)), nil
	case String:
		if !utf8.ValidString(string(v)) {
			return dst, fmt.Errorf("%w: String is not valid UTF-8", ErrInvalidValue)
		}
		dst = appendHead(dst, majorText, uint64(len(v)))
		return append(dst, v...), nil
	case Bytes:
		dst = appendHead(dst, majorBytes, uint64(len(v)))
		return append(dst, v...), nil
	case Ref:
		if v.target.IsEmpty() {
			return dst, fmt.Errorf("%w: Ref to the zero hash (no chunk)", ErrInvalidValue)
		}
		return appendLink(dst, v.target), nil
	case Struct:
		return appendStruct(dst, v, depth)
	case List:
		return appendHeader(dst, wrapList, v.count, v.root, depth)
	case Map:
		return appendHeader(dst, wrapMap, v.count, v.root, depth)
	case Set:
		return appendHeader(dst, wrapSet, v.count, v.root, depth)
	case Blob:
		return appendHeader(dst, wrapBlob, v.length, v.root, depth)
	case nil:
		return dst, fmt.Errorf("%w: nil (absent) has no encoding", ErrInvalidValue)
	default:
		// Only reachable through a type that embeds one of ours.
		return dst, fmt.Errorf("%w: %T is not a value type of this package", ErrInvalidValue, v)
	}
}

// appendStruct appends {"struct": [name, {field: value, ...}]}; the wrapper
// map, the array and the field map take depths depth to depth+2.
func appendStruct(dst []byte, s Struct, depth int) ([]byte, error) {
	if depth+2 >= MaxDepth {
		return dst, fmt.Errorf("%w: struct %q nested deeper than MaxDepth (%d)", ErrInvalidValue, s.name, MaxDepth)
	}
	dst = append(dst, wrapStruct...)
	dst = append(dst, majorArray|2)
	dst = appendHead(dst, majorText, uint64(len(s.name)))
	dst = append(dst, s.name...)
	dst = appendHead(dst, majorMap, uint64(len(s.fields)))
	for _, f := range s.fields {
		dst = appendHead(dst, majorText, uint64(len(f.Name)))
		dst = append(dst, f.Name...)
		var err error
		if dst, err = appendValue(dst, f.Value, depth+3); err != nil {
			return dst, fmt.Errorf("field %s: %w", f.Name, err)
		}
	}
	return dst, nil
}

// appendHeader appends a collection header {key: [count, link]}, or
// {key: [0]} for the empty collection.
func appendHeader(dst, wrap []byte, count uint64, root chunks.Hash, depth int) ([]byte, error) {
	name := string(wrap[2:])
	if depth+1 >= MaxDepth {
		return dst, fmt.Errorf("%w: %s header nested deeper than MaxDepth (%d)", ErrInvalidValue, name, MaxDepth)
	}
	switch {
	case count == 0 && !root.IsEmpty():
		return dst, fmt.Errorf("%w: empty %s with root %s (the empty collection has no root)", ErrInvalidValue, name, root)
	case count != 0 && root.IsEmpty():
		return dst, fmt.Errorf("%w: %s of %d with no root", ErrInvalidValue, name, count)
	}
	dst = append(dst, wrap...)
	if count == 0 {
		return append(dst, majorArray|1, majorUint|0), nil
	}
	dst = append(dst, majorArray|2)
	dst = appendHead(dst, majorUint, count)
	return appendLink(dst, root), nil
}

// appendHead appends a CBOR initial byte and argument in the shortest form,
// which DAG-CBOR requires.
func appendHead(dst []byte, major byte, arg uint64) []byte {
	switch {
	case arg < 24:
		return append(dst, major|byte(arg))
	case arg <= math.MaxUint8:
		return append(dst, major|24, byte(arg))
	case arg <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, major|25), uint16(arg))
	case arg <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, major|26), uint32(arg))
	default:
		return binary.BigEndian.AppendUint64(append(dst, major|27), arg)
	}
}

// appendLink appends the tag-42 link to the chunk with hash h.
func appendLink(dst []byte, h chunks.Hash) []byte {
	return append(append(dst, linkPrefix[:]...), h[:]...)
}

// encodeBufs recycles encoding buffers for HashOf, which needs the bytes
// only long enough to hash them.
var encodeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// HashOf returns the hash of v's encoding: the hash of the chunk v would be
// stored in, and the order of Structs and collections. A value that cannot
// be encoded (a NaN inside, an invalid name) has the zero hash.
func HashOf(v Value) chunks.Hash {
	bp := encodeBufs.Get().(*[]byte)
	b, err := AppendEncode((*bp)[:0], v)
	if err != nil {
		encodeBufs.Put(bp)
		return chunks.Hash{}
	}
	h := chunks.Of(b)
	if cap(b) <= 64<<10 { // don't let one huge value pin memory in the pool
		*bp = b
		encodeBufs.Put(bp)
	}
	return h
}

// Links returns the hashes of the chunks v links to: Ref targets and the
// roots of non-empty collections, recursively through Struct fields, in the
// order they appear in v's encoding (the order dagcbor.Links reports),
// duplicates included. It returns nil if there are none.
func Links(v Value) []chunks.Hash {
	return appendLinks(nil, v)
}

func appendLinks(dst []chunks.Hash, v Value) []chunks.Hash {
	var root chunks.Hash
	switch v := v.(type) {
	case Ref:
		root = v.target
	case Struct:
		for _, f := range v.fields {
			dst = appendLinks(dst, f.Value)
		}
		return dst
	case List:
		root = v.root
	case Map:
		root = v.root
	case Set:
		root = v.root
	case Blob:
		root = v.root
	}
	if root.IsEmpty() {
		return dst
	}
	return append(dst, root)
}
