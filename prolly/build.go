package prolly

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Builder builds a Map, Set or List tree from its entries in order,
// writing each node as soon as it is complete: memory stays proportional
// to the tree's depth, not its size.
type Builder struct {
	ch      *chunker
	cmp     Compare
	prevKey []byte
	hasPrev bool
	err     error // sticky: the first error ends the build
}

// NewBuilder returns a Builder writing a tree of the given shape to st.
// Map and Set entries must come in strictly increasing order by cmp; List
// items come in list order and cmp is unused.
func NewBuilder(ctx context.Context, st Store, shape Shape, cmp Compare) *Builder {
	b := &Builder{ch: newChunker(ctx, st, directWriter{st}, shape), cmp: cmp}
	switch {
	case !shape.valid() || shape == BlobShape:
		b.err = fmt.Errorf("cannot build a %s tree entry by entry (use BuildBlob for blobs): %w", shape, ErrShape)
	case shape.ordered() && cmp == nil:
		b.err = fmt.Errorf("cannot build a %s without a Compare: %w", shape, ErrShape)
	}
	return b
}

// Add appends e. Its bytes are copied.
func (b *Builder) Add(e Entry) error {
	if b.err != nil {
		return b.err
	}
	if err := checkEntry(b.ch.shape, e.Key, e.Value); err != nil {
		return err // the build can go on without this entry
	}
	if b.ch.shape.ordered() {
		if b.hasPrev && b.cmp(b.prevKey, e.Key) >= 0 {
			return fmt.Errorf("cannot add entry: %w: key %x does not follow %x", ErrOrder, e.Key, b.prevKey)
		}
		b.prevKey = append(b.prevKey[:0], e.Key...)
		b.hasPrev = true
	}
	if err := b.ch.addEntry(e.Key, e.Value); err != nil {
		b.err = fmt.Errorf("cannot add entry: %w", err)
		return b.err
	}
	return nil
}

// Done writes the last nodes and returns the tree. The Builder cannot be
// used afterwards.
func (b *Builder) Done() (Tree, error) {
	if b.err != nil {
		return Tree{}, b.err
	}
	b.err = errors.New("prolly: Builder used after Done")
	root, n, err := b.ch.done()
	if err != nil {
		return Tree{}, fmt.Errorf("cannot finish %s tree: %w", b.ch.shape, err)
	}
	return Tree{Shape: b.ch.shape, Root: root, Count: n}, nil
}

// checkEntry checks the parts of an entry the shape uses.
func checkEntry(shape Shape, key, val []byte) error {
	switch shape {
	case MapShape:
		if err := checkItem(key, "map key"); err != nil {
			return err
		}
		return checkItem(val, "map value")
	case SetShape:
		return checkItem(key, "set key")
	}
	return checkItem(val, "list item")
}

// BuildFromUnsorted builds a Map or Set from entries in any order: they
// are sorted by cmp (of equal keys the last one wins) and built. For a
// List the entries are built in the order given. entries is reordered.
func BuildFromUnsorted(ctx context.Context, st Store, shape Shape, cmp Compare, entries []Entry) (Tree, error) {
	if shape.ordered() && cmp != nil {
		slices.SortStableFunc(entries, func(a, b Entry) int { return cmp(a.Key, b.Key) })
		// Keep the last of each run of equal keys.
		out := entries[:0]
		for i, e := range entries {
			if i+1 < len(entries) && cmp(e.Key, entries[i+1].Key) == 0 {
				continue
			}
			out = append(out, e)
		}
		entries = out
	}
	b := NewBuilder(ctx, st, shape, cmp)
	for _, e := range entries {
		if err := b.Add(e); err != nil {
			return Tree{}, err
		}
	}
	return b.Done()
}

// blobReadSize is how much BuildBlob reads at a time.
const blobReadSize = 64 << 10

// BuildBlob builds a Blob from everything r yields until io.EOF. It
// streams: memory stays bounded by a read buffer and one node per level,
// whatever the size.
func BuildBlob(ctx context.Context, st Store, r io.Reader) (Tree, error) {
	ch := newChunker(ctx, st, directWriter{st}, BlobShape)
	buf := make([]byte, blobReadSize)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if err := ch.addBytes(buf[:n]); err != nil {
				return Tree{}, fmt.Errorf("cannot build blob: %w", err)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return Tree{}, fmt.Errorf("cannot build blob: read failed after %d bytes: %w", ch.total, err)
		}
		if err := ctx.Err(); err != nil {
			return Tree{}, fmt.Errorf("cannot build blob: %w", err)
		}
	}
	root, n, err := ch.done()
	if err != nil {
		return Tree{}, fmt.Errorf("cannot finish blob: %w", err)
	}
	return Tree{Shape: BlobShape, Root: root, Count: n}, nil
}
