package prolly

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// BlobReader reads a Blob tree: io.Reader, io.Seeker and io.ReaderAt.
// Read and Seek share a position and are not safe for concurrent use;
// ReadAt is, as io.ReaderAt requires.
type BlobReader struct {
	ctx  context.Context
	st   Store
	t    Tree
	pos  int64
	path []blobFrame // Read's cached path to the last leaf read
	err  error
}

// blobFrame is a node on the path to a leaf and the offset it starts at.
type blobFrame struct {
	n     *node
	start uint64
}

// NewBlobReader returns a reader of the Blob t positioned at its start.
func NewBlobReader(ctx context.Context, st Store, t Tree) *BlobReader {
	return &BlobReader{ctx: ctx, st: st, t: t, err: checkTree(t, isBlob, "read")}
}

// Size returns the length of the blob.
func (r *BlobReader) Size() int64 { return int64(r.t.Count) }

// Read implements io.Reader.
func (r *BlobReader) Read(p []byte) (int, error) {
	n, err := r.readAt(&r.path, p, r.pos)
	r.pos += int64(n)
	if n > 0 && err == io.EOF {
		err = nil // reported by the next call
	}
	return n, err
}

// ReadAt implements io.ReaderAt.
func (r *BlobReader) ReadAt(p []byte, off int64) (int, error) {
	var path []blobFrame
	return r.readAt(&path, p, off)
}

// Seek implements io.Seeker. Seeking past the end is allowed; reads there
// return io.EOF.
func (r *BlobReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = r.pos + offset
	case io.SeekEnd:
		abs = int64(r.t.Count) + offset
	default:
		return r.pos, fmt.Errorf("cannot seek blob: invalid whence %d", whence)
	}
	if abs < 0 {
		return r.pos, fmt.Errorf("cannot seek blob to negative offset %d", abs)
	}
	r.pos = abs
	return abs, nil
}

func (r *BlobReader) readAt(path *[]blobFrame, p []byte, off int64) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if off < 0 {
		return 0, errors.New("cannot read blob at a negative offset")
	}
	n := 0
	for n < len(p) {
		o := uint64(off) + uint64(n)
		if o >= r.t.Count {
			return n, io.EOF
		}
		leaf, start, err := r.leafAt(path, o)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], leaf.blob[o-start:])
	}
	return n, nil
}

// leafAt returns the leaf holding offset o (< Count) and its start,
// descending from the deepest node of *path that covers o (so sequential
// reads mostly reuse the path) and leaving the new path in *path.
func (r *BlobReader) leafAt(path *[]blobFrame, o uint64) (*node, uint64, error) {
	p := *path
	d := len(p) - 1
	for d >= 0 && !(p[d].start <= o && o-p[d].start < p[d].n.total) {
		d--
	}
	if d < 0 {
		root, err := loadNode(r.ctx, r.st, r.t.Root, BlobShape, -1)
		if err != nil {
			return nil, 0, err
		}
		if err := checkRef(root, ref{link: r.t.Root, count: r.t.Count}, BlobShape); err != nil {
			return nil, 0, err
		}
		p, d = append(p[:0], blobFrame{root, 0}), 0
	}
	p = p[:d+1]
	for {
		f := p[len(p)-1]
		if f.n.level == 0 {
			*path = p
			return f.n, f.start, nil
		}
		s := f.start
		var child *item
		for i := range f.n.items {
			if o-s < f.n.items[i].count {
				child = &f.n.items[i]
				break
			}
			s += f.n.items[i].count
		}
		if child == nil { // the node's total covers o, so its children do
			return nil, 0, fmt.Errorf("cannot read blob: %w", ErrCorrupt)
		}
		n, err := loadNode(r.ctx, r.st, child.link, BlobShape, f.n.level-1)
		if err != nil {
			return nil, 0, err
		}
		if err := checkRef(n, ref{link: child.link, count: child.count}, BlobShape); err != nil {
			return nil, 0, err
		}
		p = append(p, blobFrame{n, s})
	}
}

var _ io.ReadSeeker = (*BlobReader)(nil)
var _ io.ReaderAt = (*BlobReader)(nil)
