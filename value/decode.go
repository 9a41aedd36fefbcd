package value

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// Decode returns the value b encodes. b must be exactly one canonical
// encoding, as Encode produces it, with nothing after it; anything else is
// refused with an error wrapping ErrInvalidEncoding that names the first
// fault and its offset. Being this strict is what makes Encode(Decode(b))
// == b, so a value read from a chunk hashes back to the chunk's hash.
// Decode never panics, whatever b holds.
func Decode(b []byte) (Value, error) {
	d := decoder{data: b}
	v, err := d.value(0)
	if err != nil {
		return nil, fmt.Errorf("decoding value: %w", err)
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("decoding value: %w", d.fail(d.off, "%d trailing bytes after the value", len(b)-d.off))
	}
	return v, nil
}

// decoder is a cursor over the input.
type decoder struct {
	data []byte
	off  int
}

// fail builds an ErrInvalidEncoding error for a fault at byte offset off.
func (d *decoder) fail(off int, format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalidEncoding, fmt.Sprintf(format, args...), off)
}

func (d *decoder) remaining() int { return len(d.data) - d.off }

// value decodes one value that sits inside depth maps and arrays.
func (d *decoder) value(depth int) (Value, error) {
	start := d.off
	if start >= len(d.data) {
		return nil, d.fail(start, "unexpected end of input")
	}
	switch ib := d.data[start]; ib & 0xe0 {
	case majorUint:
		arg, err := d.head()
		if err != nil {
			return nil, err
		}
		if arg > math.MaxInt64 {
			return nil, d.fail(start, "integer %d above the Int range", arg)
		}
		return Int(arg), nil
	case majorNegInt:
		arg, err := d.head()
		if err != nil {
			return nil, err
		}
		if arg > math.MaxInt64 {
			return nil, d.fail(start, "integer -1-%d below the Int range", arg)
		}
		return Int(^int64(arg)), nil
	case majorBytes:
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return Bytes(s), nil
	case majorText:
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		if !utf8.Valid(s) {
			return nil, d.fail(start, "text string is not valid UTF-8")
		}
		return String(s), nil
	case majorArray:
		return nil, d.fail(start, "array in value position (values other than primitives are one-key maps)")
	case majorMap:
		return d.wrapped(depth)
	case 6 << 5: // tag
		h, err := d.link()
		if err != nil {
			return nil, err
		}
		return Ref{target: h}, nil
	default:
		return d.simple()
	}
}

// head reads the initial byte and argument of an item of major type 0-6
// and moves past them. Only the shortest form of the argument is accepted:
// that, with sorted maps, is what makes the encoding canonical.
func (d *decoder) head() (uint64, error) {
	start := d.off
	info := d.data[start] & 0x1f
	if info < 24 {
		d.off++
		return uint64(info), nil
	}
	var n int
	var least uint64 // the smallest argument that needs this width
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
		return 0, d.fail(start, "indefinite length")
	default:
		return 0, d.fail(start, "reserved additional information %d", info)
	}
	if len(d.data)-start-1 < n {
		return 0, d.fail(start, "truncated item head")
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
		return 0, d.fail(start, "non-minimal item head")
	}
	d.off = start + 1 + n
	return v, nil
}

// str reads a byte or text string's content; the length is checked in
// uint64 before slicing, so a huge claimed length is an error, not a panic.
func (d *decoder) str() ([]byte, error) {
	start := d.off
	n, err := d.head()
	if err != nil {
		return nil, err
	}
	if n > uint64(d.remaining()) {
		return nil, d.fail(start, "string of %d bytes exceeds the %d remaining", n, d.remaining())
	}
	s := d.data[d.off : d.off+int(n)]
	d.off += int(n)
	return s, nil
}

// text reads a text string used as a name or key (no UTF-8 check: callers
// compare it with ASCII or check it themselves).
func (d *decoder) text(what string) ([]byte, error) {
	if d.off >= len(d.data) {
		return nil, d.fail(d.off, "unexpected end of input, want %s", what)
	}
	if d.data[d.off]&0xe0 != majorText {
		return nil, d.fail(d.off, "%s is not a text string", what)
	}
	return d.str()
}

// wrapped decodes {key: ...}, the encoding of every kind that is not a
// CBOR primitive; the map sits at the given depth.
func (d *decoder) wrapped(depth int) (Value, error) {
	start := d.off
	if depth >= MaxDepth {
		return nil, d.fail(start, "nested deeper than MaxDepth (%d)", MaxDepth)
	}
	if d.data[start] != 0xa1 {
		return nil, d.fail(start, "map in value position without exactly one key (want a one-key type wrapper)")
	}
	d.off++
	key, err := d.text("type wrapper key")
	if err != nil {
		return nil, err
	}
	// string(key) in a switch does not allocate.
	switch string(key) {
	case "struct":
		return d.structBody(depth)
	case "list":
		n, root, err := d.header(depth)
		return List{count: n, root: root}, err
	case "map":
		n, root, err := d.header(depth)
		return Map{count: n, root: root}, err
	case "set":
		n, root, err := d.header(depth)
		return Set{count: n, root: root}, err
	case "blob":
		n, root, err := d.header(depth)
		return Blob{length: n, root: root}, err
	default:
		return nil, d.fail(start+1, "unknown type wrapper key %q", shortText(key))
	}
}

// structBody decodes [name, {field: value, ...}] after the "struct" key.
func (d *decoder) structBody(depth int) (Value, error) {
	if depth+2 >= MaxDepth {
		return nil, d.fail(d.off, "struct nested deeper than MaxDepth (%d)", MaxDepth)
	}
	if d.off >= len(d.data) || d.data[d.off] != majorArray|2 {
		return nil, d.fail(d.off, "struct body is not a 2-element array [name, fields]")
	}
	d.off++
	nameOff := d.off
	name, err := d.text("struct name")
	if err != nil {
		return nil, err
	}
	if len(name) > 0 && !validName(string(name)) {
		return nil, d.fail(nameOff, "struct name %q is not an identifier", shortText(name))
	}
	mapOff := d.off
	if d.off >= len(d.data) || d.data[d.off]&0xe0 != majorMap {
		return nil, d.fail(mapOff, "struct fields are not a map")
	}
	n, err := d.head()
	if err != nil {
		return nil, err
	}
	// Each field takes at least two bytes; checking first keeps a huge
	// claimed count from allocating.
	if n > uint64(d.remaining()/2) {
		return nil, d.fail(mapOff, "map of %d fields cannot fit in the %d remaining bytes", n, d.remaining())
	}
	s := Struct{name: string(name)}
	if n > 0 {
		s.fields = make([]Field, 0, int(n))
	}
	var prev []byte
	for i := uint64(0); i < n; i++ {
		keyOff := d.off
		key, err := d.text("field name")
		if err != nil {
			return nil, err
		}
		if !validName(string(key)) {
			return nil, d.fail(keyOff, "field name %q is not an identifier", shortText(key))
		}
		if i > 0 && !nameLess(string(prev), string(key)) {
			return nil, d.fail(keyOff, "field %q is duplicate or out of order after %q", shortText(key), shortText(prev))
		}
		prev = key
		v, err := d.value(depth + 3)
		if err != nil {
			return nil, err
		}
		s.fields = append(s.fields, Field{Name: string(key), Value: v})
	}
	return s, nil
}

// header decodes a collection's [count, link] or [0].
func (d *decoder) header(depth int) (uint64, chunks.Hash, error) {
	start := d.off
	if depth+1 >= MaxDepth {
		return 0, chunks.Hash{}, d.fail(start, "collection header nested deeper than MaxDepth (%d)", MaxDepth)
	}
	if start >= len(d.data) || (d.data[start] != majorArray|1 && d.data[start] != majorArray|2) {
		return 0, chunks.Hash{}, d.fail(start, "collection header is not [count, link] or [0]")
	}
	withLink := d.data[start] == majorArray|2
	d.off++
	countOff := d.off
	if d.off >= len(d.data) || d.data[d.off]&0xe0 != majorUint {
		return 0, chunks.Hash{}, d.fail(countOff, "collection count is not an unsigned integer")
	}
	n, err := d.head()
	if err != nil {
		return 0, chunks.Hash{}, err
	}
	if !withLink {
		if n != 0 {
			return 0, chunks.Hash{}, d.fail(countOff, "count %d without a root link", n)
		}
		return 0, chunks.Hash{}, nil
	}
	if n == 0 {
		return 0, chunks.Hash{}, d.fail(countOff, "empty collection with a root link (the empty collection omits it)")
	}
	h, err := d.link()
	return n, h, err
}

// link decodes a tag-42 link, which must be exactly a link to a chunk:
// the CID form of appendLink.
func (d *decoder) link() (chunks.Hash, error) {
	start := d.off
	if d.remaining() < 2 || d.data[start] != linkPrefix[0] || d.data[start+1] != linkPrefix[1] {
		return chunks.Hash{}, d.fail(start, "tag other than 42 (or a non-minimal tag head)")
	}
	if d.remaining() < linkLen || !bytes.Equal(d.data[start:start+len(linkPrefix)], linkPrefix[:]) {
		return chunks.Hash{}, d.fail(start, "link is not to a chunk (want CIDv1, dag-cbor, sha2-512 truncated to %d bytes)", chunks.HashLen)
	}
	var h chunks.Hash
	copy(h[:], d.data[start+len(linkPrefix):])
	if h.IsEmpty() {
		return chunks.Hash{}, d.fail(start, "link to the zero hash (no chunk)")
	}
	d.off += linkLen
	return h, nil
}

// simple decodes major type 7: booleans and finite float64s other than
// -0.0 are values; everything else there is refused.
func (d *decoder) simple() (Value, error) {
	start := d.off
	switch ib := d.data[start]; ib {
	case cborFalse:
		d.off++
		return Bool(false), nil
	case cborTrue:
		d.off++
		return Bool(true), nil
	case cborNull:
		return nil, d.fail(start, "null is not a value (it is reserved for absence)")
	case cborFloat64:
		if d.remaining() < 9 {
			return nil, d.fail(start, "truncated float64")
		}
		bits := binary.BigEndian.Uint64(d.data[start+1:])
		f := math.Float64frombits(bits)
		switch {
		case math.IsNaN(f):
			return nil, d.fail(start, "NaN is not a value")
		case math.IsInf(f, 0):
			return nil, d.fail(start, "infinity is not a value")
		case bits == 1<<63:
			return nil, d.fail(start, "-0.0 (the encoding of zero is +0.0)")
		}
		d.off += 9
		return Float(f), nil
	case 0xf9, 0xfa:
		return nil, d.fail(start, "16- or 32-bit float (Floats are encoded in 64 bits)")
	default:
		return nil, d.fail(start, "CBOR simple value or break 0x%02x is not a value", ib)
	}
}

// shortText trims a name for an error message.
func shortText(b []byte) string {
	const limit = 32
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}
