package value

import "github.com/noms-ipfs/noms-ipfs/chunks"

// Bool is a boolean value.
type Bool bool

// Int is a signed 64-bit integer value.
type Int int64

// Float is a 64-bit floating-point value. NaN and ±Inf have no encoding
// (Encode refuses them), and -0.0 is the same value as 0.0.
type Float float64

// String is a text value; it must be valid UTF-8 to be encoded.
type String string

// Bytes is a byte-string value. The bytes are held in a Go string so that a
// Bytes, like every other value, cannot change after it is made.
type Bytes string

// NewBytes returns the Bytes value holding a copy of b.
func NewBytes(b []byte) Bytes { return Bytes(b) }

// Bytes returns a copy of the bytes.
func (b Bytes) Bytes() []byte { return []byte(b) }

// Len returns the number of bytes.
func (b Bytes) Len() int { return len(b) }

// Ref is a link to the chunk with a given hash; it encodes as the chunk's
// CID. A Ref to the zero hash (no chunk) cannot be encoded.
type Ref struct{ target chunks.Hash }

// NewRef returns a Ref to the chunk whose hash is target.
func NewRef(target chunks.Hash) Ref { return Ref{target: target} }

// Target returns the hash of the chunk r links to.
func (r Ref) Target() chunks.Hash { return r.target }

// Kind implements Value.
func (Bool) Kind() Kind { return BoolKind }

// Kind implements Value.
func (Int) Kind() Kind { return IntKind }

// Kind implements Value.
func (Float) Kind() Kind { return FloatKind }

// Kind implements Value.
func (String) Kind() Kind { return StringKind }

// Kind implements Value.
func (Bytes) Kind() Kind { return BytesKind }

// Kind implements Value.
func (Ref) Kind() Kind { return RefKind }

func (Bool) isValue()   {}
func (Int) isValue()    {}
func (Float) isValue()  {}
func (String) isValue() {}
func (Bytes) isValue()  {}
func (Ref) isValue()    {}
