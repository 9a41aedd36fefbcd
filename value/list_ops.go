package value

import (
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/noms-ipfs/noms-ipfs/prolly"
)

// ---- List ----

// NewList builds a list of vs in one bulk pass.
func NewList(ctx context.Context, st Store, vs ...Value) (List, error) {
	b := prolly.NewBuilder(ctx, st, prolly.ListShape, nil)
	for _, v := range vs {
		e, err := encodeOne("list item", v)
		if err != nil {
			return List{}, err
		}
		if err := b.Add(prolly.Entry{Value: e}); err != nil {
			return List{}, fmt.Errorf("cannot build list: %w", err)
		}
	}
	t, err := b.Done()
	if err != nil {
		return List{}, fmt.Errorf("cannot build list: %w", err)
	}
	return listOf(t), nil
}

// Len returns the number of items.
func (l List) Len() uint64 { return l.count }

// Get returns the item at index i.
func (l List) Get(ctx context.Context, st Store, i uint64) (Value, error) {
	if i >= l.count {
		return nil, fmt.Errorf("%w: index %d of a list of %d", ErrOutOfRange, i, l.count)
	}
	e, err := prolly.At(ctx, st, l.tree(), i)
	if err != nil {
		return nil, err
	}
	return decodeOne("list item", e.Value)
}

// Splice returns the list with remove items at index at replaced by insert.
func (l List) Splice(ctx context.Context, st Store, at, remove uint64, insert ...Value) (List, error) {
	if at > l.count || remove > l.count-at {
		return List{}, fmt.Errorf("%w: splice of %d at %d in a list of %d", ErrOutOfRange, remove, at, l.count)
	}
	items := make([][]byte, len(insert))
	for i, v := range insert {
		var err error
		if items[i], err = encodeOne("list item", v); err != nil {
			return List{}, err
		}
	}
	t, err := prolly.Splice(ctx, st, l.tree(), at, remove, items)
	if err != nil {
		return List{}, fmt.Errorf("cannot edit list: %w", err)
	}
	return listOf(t), nil
}

// Append returns the list with vs added at the end.
func (l List) Append(ctx context.Context, st Store, vs ...Value) (List, error) {
	return l.Splice(ctx, st, l.count, 0, vs...)
}

// Insert returns the list with vs inserted before index at.
func (l List) Insert(ctx context.Context, st Store, at uint64, vs ...Value) (List, error) {
	return l.Splice(ctx, st, at, 0, vs...)
}

// Remove returns the list without the n items starting at index at.
func (l List) Remove(ctx context.Context, st Store, at, n uint64) (List, error) {
	return l.Splice(ctx, st, at, n)
}

// All yields the items from index from on, in order.
func (l List) All(ctx context.Context, st Store, from uint64) iter.Seq2[Value, error] {
	return func(yield func(Value, error) bool) {
		yieldDecoded(prolly.IterAt(ctx, st, l.tree(), from), "list item",
			func(e prolly.Entry) []byte { return e.Value }, yield)
	}
}

// yieldDecoded yields the decoded part pick(e) of each entry of it, then
// its error if any, until yield asks to stop.
func yieldDecoded(it *prolly.Iterator, what string, pick func(prolly.Entry) []byte, yield func(Value, error) bool) {
	for {
		e, ok := it.Next()
		if !ok {
			break
		}
		v, err := decodeOne(what, pick(e))
		if err != nil {
			yield(nil, err)
			return
		}
		if !yield(v, nil) {
			return
		}
	}
	if err := it.Err(); err != nil {
		yield(nil, err)
	}
}

// ---- Blob ----

// NewBlob stores the bytes of r as a blob, streaming: memory stays bounded
// whatever the size.
func NewBlob(ctx context.Context, st Store, r io.Reader) (Blob, error) {
	t, err := prolly.BuildBlob(ctx, st, r)
	if err != nil {
		return Blob{}, fmt.Errorf("cannot store blob: %w", err)
	}
	return blobOf(t), nil
}

// Reader returns a reader of the blob's bytes, which can also seek and
// read at offsets.
func (b Blob) Reader(ctx context.Context, st Store) *prolly.BlobReader {
	return prolly.NewBlobReader(ctx, st, b.tree())
}

// Splice returns the blob with remove bytes at offset at replaced by insert;
// only the chunks around the change are rewritten.
func (b Blob) Splice(ctx context.Context, st Store, at, remove uint64, insert []byte) (Blob, error) {
	if at > b.length || remove > b.length-at {
		return Blob{}, fmt.Errorf("%w: splice of %d bytes at %d in a blob of %d", ErrOutOfRange, remove, at, b.length)
	}
	t, err := prolly.SpliceBlob(ctx, st, b.tree(), at, remove, insert)
	if err != nil {
		return Blob{}, fmt.Errorf("cannot edit blob: %w", err)
	}
	return blobOf(t), nil
}
