package value

import "github.com/noms-ipfs/noms-ipfs/chunks"

// The collection types below are headers: the number of entries and the
// root chunk of the prolly tree that holds them. Package prolly builds and
// reads the trees; a header is what a Struct field or a Ref'd chunk stores
// to name a collection, and its encoding is all that the collection
// contributes to its parent's hash.
//
// The empty collection has count 0 and the zero root (no chunk); any other
// header has a count above 0 and a root. Encode refuses headers that mix
// the two, so each collection has one encoding.

// List is the header of an ordered sequence of values.
type List struct {
	count uint64
	root  chunks.Hash
}

// Map is the header of a map from values to values, ordered by key.
type Map struct {
	count uint64
	root  chunks.Hash
}

// Set is the header of an ordered set of values.
type Set struct {
	count uint64
	root  chunks.Hash
}

// Blob is the header of a byte sequence stored as a tree of chunks.
type Blob struct {
	length uint64
	root   chunks.Hash
}

// NewListHeader returns the header of the list of count values whose tree
// has root (zero for the empty list).
func NewListHeader(count uint64, root chunks.Hash) List { return List{count: count, root: root} }

// NewMapHeader returns the header of the map of count entries whose tree
// has root (zero for the empty map).
func NewMapHeader(count uint64, root chunks.Hash) Map { return Map{count: count, root: root} }

// NewSetHeader returns the header of the set of count members whose tree
// has root (zero for the empty set).
func NewSetHeader(count uint64, root chunks.Hash) Set { return Set{count: count, root: root} }

// NewBlobHeader returns the header of the blob of length bytes whose tree
// has root (zero for the empty blob).
func NewBlobHeader(length uint64, root chunks.Hash) Blob { return Blob{length: length, root: root} }

// Count returns the number of values in the list.
func (l List) Count() uint64 { return l.count }

// Root returns the hash of the list's root node, zero if it is empty.
func (l List) Root() chunks.Hash { return l.root }

// Count returns the number of entries in the map.
func (m Map) Count() uint64 { return m.count }

// Root returns the hash of the map's root node, zero if it is empty.
func (m Map) Root() chunks.Hash { return m.root }

// Count returns the number of members of the set.
func (s Set) Count() uint64 { return s.count }

// Root returns the hash of the set's root node, zero if it is empty.
func (s Set) Root() chunks.Hash { return s.root }

// Len returns the number of bytes in the blob.
func (b Blob) Len() uint64 { return b.length }

// Root returns the hash of the blob's root node, zero if it is empty.
func (b Blob) Root() chunks.Hash { return b.root }

// Kind implements Value.
func (List) Kind() Kind { return ListKind }

// Kind implements Value.
func (Map) Kind() Kind { return MapKind }

// Kind implements Value.
func (Set) Kind() Kind { return SetKind }

// Kind implements Value.
func (Blob) Kind() Kind { return BlobKind }

func (List) isValue() {}
func (Map) isValue()  {}
func (Set) isValue()  {}
func (Blob) isValue() {}
