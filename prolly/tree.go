package prolly

import (
	"context"
	"fmt"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// Store is what prolly needs from a chunk store: read a chunk by hash and
// write one. chunks.ChunkStore satisfies it. Chunks read are trusted to
// match their hash (stores verify what crosses a trust boundary); their
// contents are not: every node is checked as it is decoded.
type Store interface {
	Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error)
	Put(ctx context.Context, c chunks.Chunk) error
}

var _ Store = chunks.ChunkStore(nil)

// Compare orders two encoded keys: negative if a sorts before b, zero if
// they are the same key, positive otherwise. It must be a total order
// consistent over time: a tree built with one Compare can only be read and
// edited with the same one.
type Compare func(a, b []byte) int

// Shape is the kind of collection a tree holds; it decides how leaves are
// laid out and whether the tree is ordered by key or indexed by position.
type Shape uint8

const (
	// MapShape trees hold key/value entries ordered by key.
	MapShape Shape = iota + 1
	// SetShape trees hold keys ordered by key.
	SetShape
	// ListShape trees hold items in insertion order, indexed by position.
	ListShape
	// BlobShape trees hold bytes, indexed by offset.
	BlobShape
)

func (s Shape) String() string {
	switch s {
	case MapShape:
		return "map"
	case SetShape:
		return "set"
	case ListShape:
		return "list"
	case BlobShape:
		return "blob"
	}
	return fmt.Sprintf("shape(%d)", uint8(s))
}

// ordered reports whether the shape is ordered by key (internal nodes carry
// each child's last key) rather than indexed by position.
func (s Shape) ordered() bool { return s == MapShape || s == SetShape }

func (s Shape) valid() bool { return s >= MapShape && s <= BlobShape }

// Tree is a handle on an immutable tree: its shape, root node and size.
// The zero Root is the empty tree. Count is the number of entries, or of
// bytes for a Blob. Trees are values: operations return new ones and never
// change what an existing Tree describes.
type Tree struct {
	Shape Shape
	Root  chunks.Hash
	Count uint64
}

// Empty reports whether the tree has no entries.
func (t Tree) Empty() bool { return t.Root.IsEmpty() }

// Len returns the number of entries (bytes for a Blob).
func (t Tree) Len() uint64 { return t.Count }

// Entry is one element of a tree. A Map entry has Key and Value, a Set
// entry only Key, a List entry only Value. Each present part is exactly one
// strict DAG-CBOR data item. Entries returned by reads share memory with
// chunks the store holds: do not modify them.
type Entry struct {
	Key, Value []byte
}

// Edit is one change given to Apply: set Key to Value (insert or replace),
// or with Delete remove Key (a no-op if absent). A Set edit's Value is
// ignored.
type Edit struct {
	Key, Value []byte
	Delete     bool
}

// ChangeKind says how an entry differs between two trees.
type ChangeKind uint8

const (
	// Added: the key is only in the newer tree.
	Added ChangeKind = iota + 1
	// Removed: the key is only in the older tree.
	Removed
	// Modified: the key is in both, with different values (Maps only).
	Modified
)

func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Removed:
		return "removed"
	case Modified:
		return "modified"
	}
	return fmt.Sprintf("change(%d)", uint8(k))
}

// Change is one difference reported by Diff. Old is the value in the older
// tree (Removed, Modified), New the value in the newer one (Added,
// Modified). Set changes have only Key.
type Change struct {
	Kind     ChangeKind
	Key      []byte
	Old, New []byte
}

func checkTree(t Tree, need func(Shape) bool, op string) error {
	if !t.Shape.valid() || (need != nil && !need(t.Shape)) {
		return fmt.Errorf("cannot %s a %s tree: %w", op, t.Shape, ErrShape)
	}
	if t.Root.IsEmpty() && t.Count != 0 {
		return fmt.Errorf("cannot %s: empty root with count %d: %w", op, t.Count, ErrCorrupt)
	}
	return nil
}

func isOrdered(s Shape) bool { return s.ordered() }
func isList(s Shape) bool    { return s == ListShape }
func isBlob(s Shape) bool    { return s == BlobShape }
func isEntries(s Shape) bool { return s != BlobShape }
