package value

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"strings"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// rank is a value's place in the order of kinds; Int and Float share one
// because numbers sort together.
type rank uint8

const (
	// rankInvalid holds what has no encoding: nil and foreign types. They
	// sort first so that Compare never panics on an application's mistake.
	rankInvalid rank = iota
	rankBool
	rankNumber
	rankString
	rankBytes
	rankRef
	rankStruct
	rankList
	rankMap
	rankSet
	rankBlob
	// rankMalformed is only for CompareEncoded on bytes that are not an
	// encoding: it sorts them after every value, bytewise.
	rankMalformed
)

// rankOf returns v's rank; nil and foreign types get rankInvalid.
func rankOf(v Value) rank {
	switch v.(type) {
	case Bool:
		return rankBool
	case Int, Float:
		return rankNumber
	case String:
		return rankString
	case Bytes:
		return rankBytes
	case Ref:
		return rankRef
	case Struct:
		return rankStruct
	case List:
		return rankList
	case Map:
		return rankMap
	case Set:
		return rankSet
	case Blob:
		return rankBlob
	default:
		return rankInvalid
	}
}

// Compare orders any two values; it returns -1, 0 or +1. The order is
// total and Compare(a, b) == 0 exactly when a and b have the same
// encoding:
//
//	Bool (false < true)
//	< numbers: Int and Float together, by exact numeric value; an Int
//	  before a Float of equal value
//	< String (bytewise) < Bytes (bytewise) < Ref (by target hash)
//	< Struct < List < Map < Set < Blob, each kind by HashOf
//
// Structs and collections sort by hash, as in Noms, because they have no
// natural order and their hash is cheap to compare in a prolly tree.
// CompareEncoded is the same order on encodings.
//
// Values that cannot be stored still compare without panicking: nil and
// foreign types sort first and equal to one another, a Float NaN sorts
// before every other number and equal to NaN, and Structs that cannot be
// encoded compare by HashOf's zero hash.
func Compare(a, b Value) int {
	// The common cases first: same-kind primitives compare without any
	// type-to-rank mapping.
	switch a := a.(type) {
	case Bool:
		if b, ok := b.(Bool); ok {
			return compareBools(bool(a), bool(b))
		}
	case Int:
		switch b := b.(type) {
		case Int:
			return cmp.Compare(a, b)
		case Float:
			return compareIntFloat(int64(a), float64(b))
		}
	case Float:
		switch b := b.(type) {
		case Float:
			return compareFloats(float64(a), float64(b))
		case Int:
			return -compareIntFloat(int64(b), float64(a))
		}
	case String:
		if b, ok := b.(String); ok {
			return strings.Compare(string(a), string(b))
		}
	case Bytes:
		if b, ok := b.(Bytes); ok {
			return strings.Compare(string(a), string(b))
		}
	case Ref:
		if b, ok := b.(Ref); ok {
			return a.target.Compare(b.target)
		}
	}
	ra, rb := rankOf(a), rankOf(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	if ra == rankInvalid {
		return 0
	}
	// Same rank, so both are Structs or both the same collection kind.
	if Equal(a, b) {
		return 0
	}
	return HashOf(a).Compare(HashOf(b))
}

// Equal reports whether a and b are the same value, that is, have the same
// encoding: Compare(a, b) == 0. Int(1) and Float(1) are different values;
// Float(-0.0) and Float(0) are the same. Equal(nil, nil) is true (both
// absent).
func Equal(a, b Value) bool {
	switch a := a.(type) {
	case Bool:
		b, ok := b.(Bool)
		return ok && a == b
	case Int:
		b, ok := b.(Int)
		return ok && a == b
	case Float:
		b, ok := b.(Float)
		return ok && a == b
	case String:
		b, ok := b.(String)
		return ok && a == b
	case Bytes:
		b, ok := b.(Bytes)
		return ok && a == b
	case Ref:
		b, ok := b.(Ref)
		return ok && a == b
	case Struct:
		// Field by field rather than by hash: same name and fields in the
		// same (canonical) order with equal values is the same encoding.
		b, ok := b.(Struct)
		if !ok || a.name != b.name || len(a.fields) != len(b.fields) {
			return false
		}
		for i := range a.fields {
			if a.fields[i].Name != b.fields[i].Name || !Equal(a.fields[i].Value, b.fields[i].Value) {
				return false
			}
		}
		return true
	case List:
		b, ok := b.(List)
		return ok && a == b
	case Map:
		b, ok := b.(Map)
		return ok && a == b
	case Set:
		b, ok := b.(Set)
		return ok && a == b
	case Blob:
		b, ok := b.(Blob)
		return ok && a == b
	case nil:
		return b == nil
	default:
		return false
	}
}

func compareBools(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	default:
		return 1
	}
}

// compareFloats orders floats; -0.0 and 0.0 are equal, as their encodings
// are. NaN (which cannot be stored) sorts first, as cmp.Compare has it.
func compareFloats(a, b float64) int {
	return cmp.Compare(a, b)
}

// compareIntFloat orders an Int and a Float by their exact values, with the
// Int first when they are equal. Converting i to float64 would round it
// (2^53+1 would equal 2^53), so the float is split instead: outside
// [-2^63, 2^63) it is beyond every int64; inside, its integer part is an
// int64 exactly and its fraction breaks ties.
func compareIntFloat(i int64, f float64) int {
	switch {
	case math.IsNaN(f):
		return 1 // NaN sorts before every number
	case f < -0x1p63:
		return 1
	case f >= 0x1p63:
		return -1
	}
	t := math.Trunc(f)
	if ti := int64(t); i != ti {
		return cmp.Compare(i, ti)
	}
	if f < t { // negative fraction: f is below the integer i
		return 1
	}
	return -1 // f is above i, or equal to it and the Int goes first
}

// CompareEncoded orders two encodings exactly as Compare orders the values
// they encode, without decoding them: it is what prolly trees use to order
// Map keys and Set members. Bools, numbers, Strings, Bytes and Refs
// compare in place without allocating; Structs and collections by the hash
// of their bytes.
//
// a and b should be canonical encodings (from Encode, or accepted by
// Decode). On other bytes the result is unspecified, but CompareEncoded
// never panics: bytes it cannot classify sort after every value.
func CompareEncoded(a, b []byte) int {
	ra, fa, xa, pa := peek(a)
	rb, fb, xb, pb := peek(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch ra {
	case rankBool:
		return cmp.Compare(xa, xb)
	case rankNumber:
		switch {
		case !fa && !fb:
			return cmp.Compare(int64(xa), int64(xb))
		case fa && fb:
			return cmp.Compare(math.Float64frombits(xa), math.Float64frombits(xb))
		case fb:
			return compareIntFloat(int64(xa), math.Float64frombits(xb))
		default:
			return -compareIntFloat(int64(xb), math.Float64frombits(xa))
		}
	case rankString, rankBytes, rankRef:
		return bytes.Compare(pa, pb)
	case rankMalformed:
		return bytes.Compare(a, b)
	default: // Struct and collections: by hash
		return compareHashes(a, b)
	}
}

// compareHashes orders encodings by their hashes. It is kept out of line
// so that the two SHA-512 states it puts on the stack do not enlarge
// CompareEncoded's frame for the cheap comparisons.
//
//go:noinline
func compareHashes(a, b []byte) int {
	if bytes.Equal(a, b) {
		return 0
	}
	ha, hb := chunks.Of(a), chunks.Of(b)
	return ha.Compare(hb)
}

// peek classifies an encoding by its first bytes, returning what
// CompareEncoded needs: the rank; for numbers whether it is a Float and its
// bits (an Int's int64 or a Float's float64); for Bools 0 or 1; for
// Strings and Bytes the content and for Refs the target hash. It checks
// just enough for the comparison to be safe and meaningful (lengths match,
// numbers in range, floats finite); anything else is rankMalformed. The
// results come back in registers: a struct result went through memory and
// doubled the cost of comparing two Ints.
func peek(b []byte) (r rank, isFloat bool, bits uint64, payload []byte) {
	if len(b) == 0 {
		return rankMalformed, false, 0, nil
	}
	ib := b[0]
	switch ib & 0xe0 {
	case majorUint, majorNegInt:
		arg, n, ok := peekHead(b)
		if !ok || n != len(b) || arg > math.MaxInt64 {
			break
		}
		if ib&0xe0 == majorNegInt {
			arg = uint64(^int64(arg))
		}
		return rankNumber, false, arg, nil
	case majorBytes, majorText:
		arg, n, ok := peekHead(b)
		if !ok || arg != uint64(len(b)-n) {
			break
		}
		if ib&0xe0 == majorBytes {
			return rankBytes, false, 0, b[n:]
		}
		return rankString, false, 0, b[n:]
	case majorMap:
		switch {
		case bytes.HasPrefix(b, wrapStruct):
			return rankStruct, false, 0, nil
		case bytes.HasPrefix(b, wrapList):
			return rankList, false, 0, nil
		case bytes.HasPrefix(b, wrapMap):
			return rankMap, false, 0, nil
		case bytes.HasPrefix(b, wrapSet):
			return rankSet, false, 0, nil
		case bytes.HasPrefix(b, wrapBlob):
			return rankBlob, false, 0, nil
		}
	default:
		switch {
		case ib == cborFalse && len(b) == 1:
			return rankBool, false, 0, nil
		case ib == cborTrue && len(b) == 1:
			return rankBool, false, 1, nil
		case ib == cborFloat64 && len(b) == 9:
			bits := binary.BigEndian.Uint64(b[1:])
			f := math.Float64frombits(bits)
			if !math.IsNaN(f) && !math.IsInf(f, 0) && bits != 1<<63 {
				return rankNumber, true, bits, nil
			}
		case ib == linkPrefix[0] && len(b) == linkLen && bytes.Equal(b[:len(linkPrefix)], linkPrefix[:]):
			return rankRef, false, 0, b[len(linkPrefix):]
		}
	}
	return rankMalformed, false, 0, nil
}

// peekHead reads the argument of b's initial item head and the head's
// length, without the minimality check Decode applies.
func peekHead(b []byte) (arg uint64, n int, ok bool) {
	info := b[0] & 0x1f
	switch {
	case info < 24:
		return uint64(info), 1, true
	case info == 24 && len(b) >= 2:
		return uint64(b[1]), 2, true
	case info == 25 && len(b) >= 3:
		return uint64(binary.BigEndian.Uint16(b[1:])), 3, true
	case info == 26 && len(b) >= 5:
		return uint64(binary.BigEndian.Uint32(b[1:])), 5, true
	case info == 27 && len(b) >= 9:
		return binary.BigEndian.Uint64(b[1:]), 9, true
	}
	return 0, 0, false
}
