package chunks

import (
	"bytes"
	"crypto/sha512"
	"fmt"
)

// HashLen is the length of a chunk hash in bytes: SHA-512 truncated to 160
// bits, as in Noms. It is also the shortest digest boxo accepts in a CID.
const HashLen = 20

// HashStringLen is the length of a hash's text form: 160 bits in base32.
const HashStringLen = 32

// alphabet is Noms' base32 alphabet. It sorts in ASCII order, so hash strings
// sort the same way as the hashes they encode.
const alphabet = "0123456789abcdefghijklmnopqrstuv"

// Hash identifies a chunk by its content: the first 20 bytes of SHA-512 of
// the chunk's bytes. The zero Hash means "no chunk" (for example an empty root).
type Hash [HashLen]byte

// Of returns the hash of data.
func Of(data []byte) Hash {
	sum := sha512.Sum512(data)
	var h Hash
	copy(h[:], sum[:HashLen])
	return h
}

// HashFromBytes returns the hash whose 20 bytes are b.
func HashFromBytes(b []byte) (Hash, error) {
	var h Hash
	if len(b) != HashLen {
		return h, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidHash, len(b), HashLen)
	}
	copy(h[:], b)
	return h, nil
}

// IsEmpty reports whether h is the zero hash.
func (h Hash) IsEmpty() bool { return h == Hash{} }

// Compare orders hashes bytewise; it returns -1, 0 or +1.
func (h Hash) Compare(o Hash) int { return bytes.Compare(h[:], o[:]) }

// Less reports whether h sorts before o.
func (h Hash) Less(o Hash) bool { return h.Compare(o) < 0 }

// String returns the 32-character base32 form of h (alphabet 0-9a-v).
func (h Hash) String() string {
	var out [HashStringLen]byte
	// 160 bits = 32 groups of 5 bits, most significant first.
	var acc uint64
	bits := 0
	j := 0
	for _, b := range h {
		acc = acc<<8 | uint64(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out[j] = alphabet[(acc>>uint(bits))&31]
			j++
		}
	}
	return string(out[:])
}

// MarshalText implements encoding.TextMarshaler with the base32 form.
func (h Hash) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the base32 form.
func (h *Hash) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*h = p
	return nil
}

var decodeTable = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = int8(i)
	}
	return t
}()

// Parse reads the base32 form written by String. A leading '#' (Noms' CLI
// syntax) is accepted. Errors wrap ErrInvalidHash and say what is wrong.
func Parse(s string) (Hash, error) {
	var h Hash
	in := s
	if len(in) > 0 && in[0] == '#' {
		in = in[1:]
	}
	if len(in) != HashStringLen {
		return h, fmt.Errorf("%w: %q has %d characters, want %d", ErrInvalidHash, s, len(in), HashStringLen)
	}
	var acc uint64
	bits := 0
	j := 0
	for i := 0; i < len(in); i++ {
		v := decodeTable[in[i]]
		if v < 0 {
			return Hash{}, fmt.Errorf("%w: %q has %q at position %d (want 0-9 or a-v)", ErrInvalidHash, s, in[i], i)
		}
		acc = acc<<5 | uint64(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			h[j] = byte(acc >> uint(bits))
			j++
		}
	}
	return h, nil
}

// MustParse is Parse for constants in tests and examples; it panics on error.
func MustParse(s string) Hash {
	h, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return h
}

// HashSet is a set of hashes.
type HashSet map[Hash]struct{}

// NewHashSet returns a set holding hs.
func NewHashSet(hs ...Hash) HashSet {
	s := make(HashSet, len(hs))
	for _, h := range hs {
		s[h] = struct{}{}
	}
	return s
}

// Has reports whether h is in s.
func (s HashSet) Has(h Hash) bool { _, ok := s[h]; return ok }

// Insert adds h to s.
func (s HashSet) Insert(h Hash) { s[h] = struct{}{} }
