package dagcbor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	cid "github.com/ipfs/go-cid"
)

// MaxDepth is the deepest nesting of lists and maps that Validate and Links
// accept. The walk recurses once per level, so the limit keeps a hostile
// chunk of a few hundred bytes from exhausting the stack; real documents
// stay far below it.
const MaxDepth = 512

// CBOR major types (RFC 8949 section 3.1).
const (
	majorUint   = 0
	majorNegInt = 1
	majorBytes  = 2
	majorText   = 3
	majorList   = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)

// tagCID is the only tag DAG-CBOR allows: a link to another block.
const tagCID = 42

// argName names what the head argument means for each major type, for error
// messages.
var argName = [8]string{
	majorUint:   "unsigned integer",
	majorNegInt: "negative integer",
	majorBytes:  "byte string length",
	majorText:   "text string length",
	majorList:   "list length",
	majorMap:    "map length",
	majorTag:    "tag number",
	majorSimple: "simple value",
}

// kindName names each major type, for error messages.
var kindName = [8]string{
	majorUint:   "unsigned integer",
	majorNegInt: "negative integer",
	majorBytes:  "byte string",
	majorText:   "text string",
	majorList:   "list",
	majorMap:    "map",
	majorTag:    "tag",
	majorSimple: "simple value or float",
}

// Validate returns nil if and only if data is exactly one strict DAG-CBOR
// data item with nothing after it. Otherwise the error wraps ErrInvalid and
// names the first fault and its byte offset.
func Validate(data []byte) error {
	return walk(data, nil)
}

// Links validates data exactly as Validate does and calls fn with every
// tag-42 CID in document order (map entries in their canonical encoded
// order). An error returned by fn stops the walk and is returned unchanged.
//
// The check and the walk are a single pass, so when data turns out to be
// invalid fn may already have seen the links before the fault: trust what
// fn collected only when Links returns nil. A nil fn only validates.
func Links(data []byte, fn func(c cid.Cid) error) error {
	return walk(data, fn)
}

func walk(data []byte, fn func(cid.Cid) error) error {
	d := decoder{data: data, fn: fn}
	if err := d.value(0); err != nil {
		return err
	}
	if d.off != len(d.data) {
		return invalid(d.off, "%d trailing bytes after the data item", len(d.data)-d.off)
	}
	return nil
}

// decoder is a cursor over the input; it only reads, never copies.
type decoder struct {
	data []byte
	off  int
	fn   func(cid.Cid) error
}

// invalid builds an ErrInvalid error for a fault at byte offset off.
func invalid(off int, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalid, fmt.Sprintf(format, args...), off)
}

// remaining is the number of unread input bytes.
func (d *decoder) remaining() int {
	return len(d.data) - d.off
}

// value checks one data item starting at d.off and moves past it. depth is
// the number of lists and maps enclosing the item.
func (d *decoder) value(depth int) error {
	start := d.off
	if start >= len(d.data) {
		return invalid(start, "unexpected end of input")
	}
	major := d.data[start] >> 5
	if major == majorSimple {
		return d.simple()
	}
	arg, err := d.head()
	if err != nil {
		return err
	}
	switch major {
	case majorUint:
		// Every uint64 is representable: go-ipld-prime keeps large ones as
		// Uint nodes and re-encodes them unchanged.
		return nil
	case majorNegInt:
		// The value is -1-arg. Below -2^63 it fits no int64, and
		// go-ipld-prime refuses it, so a chunk holding it could not be
		// read back through IPFS.
		if arg > math.MaxInt64 {
			return invalid(start, "negative integer below -2^63 (argument %d)", arg)
		}
		return nil
	case majorBytes:
		_, err := d.take(arg, start, major)
		return err
	case majorText:
		s, err := d.take(arg, start, major)
		if err != nil {
			return err
		}
		if !utf8.Valid(s) {
			return invalid(start, "text string is not valid UTF-8")
		}
		return nil
	case majorList:
		if depth >= MaxDepth {
			return invalid(start, "nesting deeper than MaxDepth (%d)", MaxDepth)
		}
		// Each element takes at least one byte; refusing early gives a
		// clear error for absurd counts instead of a late end-of-input.
		if arg > uint64(d.remaining()) {
			return invalid(start, "list of %d elements cannot fit in the %d remaining bytes", arg, d.remaining())
		}
		for i := uint64(0); i < arg; i++ {
			if err := d.value(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case majorMap:
		if depth >= MaxDepth {
			return invalid(start, "nesting deeper than MaxDepth (%d)", MaxDepth)
		}
		// Each entry takes at least two bytes: a key and a value.
		if arg > uint64(d.remaining()/2) {
			return invalid(start, "map of %d entries cannot fit in the %d remaining bytes", arg, d.remaining())
		}
		var prev []byte
		for i := uint64(0); i < arg; i++ {
			keyOff := d.off
			key, err := d.key()
			if err != nil {
				return err
			}
			if i > 0 {
				switch c := compareKeys(prev, key); {
				case c == 0:
					return invalid(keyOff, "duplicate map key %q", shortKey(key))
				case c > 0:
					return invalid(keyOff, "map key %q not in length-first order after %q", shortKey(key), shortKey(prev))
				}
			}
			prev = key
			if err := d.value(depth + 1); err != nil {
				return err
			}
		}
		return nil
	default: // majorTag
		if arg != tagCID {
			return invalid(start, "unsupported tag %d (only 42 is allowed)", arg)
		}
		return d.link()
	}
}

// head reads the initial byte and argument of an item of major type 0-6 at
// d.off and moves past them. It enforces the shortest-form rule, which is
// what makes the encoding canonical, and refuses indefinite lengths.
func (d *decoder) head() (uint64, error) {
	start := d.off
	major := d.data[start] >> 5
	info := d.data[start] & 0x1f
	if info < 24 {
		d.off++
		return uint64(info), nil
	}
	var n int
	var least uint64 // smallest value that needs this width
	switch info {
	case 24:
		n, least = 1, 24
	case 25:
		n, least = 2, 1<<8
	case 26:
		n, least = 4, 1<<16
	case 27:
		n, least = 8, 1<<32
	case 31:
		if major >= majorBytes && major <= majorMap {
			return 0, invalid(start, "indefinite-length %s", kindName[major])
		}
		return 0, invalid(start, "malformed %s (additional information 31)", kindName[major])
	default:
		return 0, invalid(start, "reserved additional information %d", info)
	}
	if len(d.data)-start-1 < n {
		return 0, invalid(start, "truncated %s", argName[major])
	}
	b := d.data[start+1 : start+1+n]
	var v uint64
	switch n {
	case 1:
		v = uint64(b[0])
	case 2:
		v = uint64(binary.BigEndian.Uint16(b))
	case 4:
		v = uint64(binary.BigEndian.Uint32(b))
	default:
		v = binary.BigEndian.Uint64(b)
	}
	if v < least {
		return 0, invalid(start, "non-minimal %s encoding", argName[major])
	}
	d.off = start + 1 + n
	return v, nil
}

// take returns the next n bytes of string content and moves past them. The
// bound is checked in uint64 before any slicing, so a header claiming 2^63
// bytes is an error rather than an overflow or a panic.
func (d *decoder) take(n uint64, itemOff int, major byte) ([]byte, error) {
	if n > uint64(d.remaining()) {
		return nil, invalid(itemOff, "%s length %d exceeds the %d remaining bytes", kindName[major], n, d.remaining())
	}
	b := d.data[d.off : d.off+int(n)]
	d.off += int(n)
	return b, nil
}

// key reads a map key, which DAG-CBOR requires to be a text string.
func (d *decoder) key() ([]byte, error) {
	start := d.off
	if start >= len(d.data) {
		return nil, invalid(start, "unexpected end of input")
	}
	if major := d.data[start] >> 5; major != majorText {
		return nil, invalid(start, "map key is not a text string (%s)", kindName[major])
	}
	n, err := d.head()
	if err != nil {
		return nil, err
	}
	k, err := d.take(n, start, majorText)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(k) {
		return nil, invalid(start, "map key is not valid UTF-8")
	}
	return k, nil
}

// shortKey trims a key for an error message; keys can be as long as the
// chunk.
func shortKey(k []byte) string {
	const limit = 32
	if len(k) > limit {
		return string(k[:limit]) + "..."
	}
	return string(k)
}

// compareKeys orders map keys as DAG-CBOR requires: by the bytes of their
// whole encoding, which for text strings means shorter keys first, then
// bytewise.
func compareKeys(a, b []byte) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return bytes.Compare(a, b)
}

// link checks the content of a tag 42, already consumed, and hands the CID
// to d.fn.
func (d *decoder) link() error {
	start := d.off
	if start >= len(d.data) {
		return invalid(start, "unexpected end of input after tag 42")
	}
	if major := d.data[start] >> 5; major != majorBytes {
		return invalid(start, "tag 42 content is not a byte string (%s)", kindName[major])
	}
	n, err := d.head()
	if err != nil {
		return err
	}
	b, err := d.take(n, start, majorBytes)
	if err != nil {
		return err
	}
	// The 0x00 is the identity multibase prefix; the spec keeps it for
	// historical reasons and forbids omitting it.
	if len(b) == 0 || b[0] != 0x00 {
		return invalid(start, "tag 42 content lacks the 0x00 multibase prefix")
	}
	// Cast insists the CID uses every remaining byte.
	c, err := cid.Cast(b[1:])
	if err != nil {
		return fmt.Errorf("%w: invalid CID in tag 42 at offset %d: %w", ErrInvalid, start, err)
	}
	if d.fn != nil {
		return d.fn(c)
	}
	return nil
}

// simple checks a major type 7 item at d.off and moves past it. Only
// false, true, null and finite 64-bit floats belong to the IPLD data model
// in canonical form.
func (d *decoder) simple() error {
	start := d.off
	switch ib := d.data[start]; ib {
	case 0xf4, 0xf5, 0xf6: // false, true, null
		d.off++
		return nil
	case 0xf7:
		return invalid(start, "undefined is not supported")
	case 0xf8:
		return invalid(start, "simple value is not supported")
	case 0xf9:
		return invalid(start, "16-bit float (only 64-bit floats are allowed)")
	case 0xfa:
		return invalid(start, "32-bit float (only 64-bit floats are allowed)")
	case 0xfb:
		if len(d.data)-start < 9 {
			return invalid(start, "truncated 64-bit float")
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(d.data[start+1:]))
		if math.IsNaN(f) {
			return invalid(start, "NaN is not allowed")
		}
		if math.IsInf(f, 0) {
			return invalid(start, "infinity is not allowed")
		}
		d.off += 9
		return nil
	case 0xfc, 0xfd, 0xfe:
		return invalid(start, "reserved additional information %d", ib&0x1f)
	case 0xff:
		return invalid(start, "unexpected break code")
	default: // 0xe0-0xf3
		return invalid(start, "simple value %d is not supported", ib&0x1f)
	}
}
