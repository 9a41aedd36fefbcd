// Package value defines the values applications store in noms-ipfs, their
// canonical encoding and their total order.
//
// # Values
//
// A Value is one of the primitives Bool, Int (int64), Float (float64),
// String (UTF-8), Bytes and Ref (a link to a chunk by hash); a Struct (an
// optional name and named fields); or the header of a collection, List,
// Map, Set or Blob, which records the entry count and the root chunk of
// the prolly tree holding the entries. Values are immutable: Struct.Set
// returns a new Struct, and Bytes holds its bytes in a string.
//
// # Encoding
//
// Encode turns a value into exactly one DAG-CBOR data item, and each value
// has exactly one encoding (docs/datamodel.md): shortest integer forms,
// floats always in 64 bits with -0.0 written as 0.0, maps sorted
// length-first, and every non-primitive wrapped in a one-key map naming its
// kind, so decoding needs no schema:
//
//	Int(-2)                      21
//	String("hi")                 62 6869
//	Struct "P" {x: 1}            {"struct": ["P", {"x": 1}]}
//	List of 3 with root r        {"list": [3, r as a tag-42 CID]}
//	empty Set                    {"set": [0]}
//
// Because the encoding is canonical, a value's hash (HashOf) is the hash of
// the chunk it is stored in, and equal values are always stored once.
// Decode accepts only canonical encodings, so Encode(Decode(b)) == b for
// any b it accepts. Refs encode as the CIDs IPFS stores the chunks under,
// so IPFS tools can follow them.
//
// # Order
//
// Any value can be a Map key or a Set member, so all values are totally
// ordered (Compare): Bool < numbers (Int and Float together, by exact value)
// < String < Bytes < Ref < Struct < List < Map < Set < Blob, the last five
// by hash. CompareEncoded is the same order computed on encodings, which is
// how prolly trees order keys without decoding them.
//
// # Invalid values
//
// Some Go values of these types have no encoding: a Float NaN or ±Inf, a
// String that is not UTF-8, a Ref to the zero hash, a collection header
// with a count but no root (or the reverse), structs nested beyond
// MaxDepth. Encode refuses them with ErrInvalidValue. HashOf gives them
// the zero hash and Compare still orders them (NaN before every number),
// so a mistake is refused when stored, never a crash.
package value
