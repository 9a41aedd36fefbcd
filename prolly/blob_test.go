package prolly

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// checkBlob reads the blob every way a BlobReader allows.
func checkBlob(t *testing.T, st Store, tr Tree, model []byte, rng *rand.Rand) {
	t.Helper()
	if tr.Count != uint64(len(model)) {
		t.Fatalf("blob of %d bytes counts %d", len(model), tr.Count)
	}
	r := NewBlobReader(ctx, st, tr)
	// Sequential reads in odd sizes.
	var got bytes.Buffer
	buf := make([]byte, 777)
	for {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), model) {
		t.Fatalf("Read returned %d bytes, differing from the model's %d", got.Len(), len(model))
	}
	for range 30 {
		off := rng.IntN(len(model) + 1)
		n := rng.IntN(20000)
		p := make([]byte, n)
		k, err := r.ReadAt(p, int64(off))
		want := model[off:min(off+n, len(model))]
		if k != len(want) || !bytes.Equal(p[:k], want) {
			t.Fatalf("ReadAt(%d, %d) = %d bytes, want %d", off, n, k, len(want))
		}
		if (k < n) != (err == io.EOF) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d, %d) = %d, %v", off, n, k, err)
		}
		// Seek then Read.
		whence := rng.IntN(3)
		var arg int64
		switch whence {
		case io.SeekStart:
			arg = int64(off)
		case io.SeekCurrent:
			cur, _ := r.Seek(0, io.SeekCurrent)
			arg = int64(off) - cur
		case io.SeekEnd:
			arg = int64(off) - int64(len(model))
		}
		pos, err := r.Seek(arg, whence)
		if err != nil || pos != int64(off) {
			t.Fatalf("Seek(%d, %d) = %d, %v; want %d", arg, whence, pos, err, off)
		}
		k, err = io.ReadFull(r, p)
		if k != len(want) || !bytes.Equal(p[:k], want) {
			t.Fatalf("Read after Seek(%d) = %d bytes, %v; want %d", off, k, err, len(want))
		}
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("Seek to -1 succeeded")
	}
	if _, err := r.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("ReadAt(-1) succeeded")
	}
	if pos, err := r.Seek(10, io.SeekEnd); err != nil || pos != int64(len(model))+10 {
		t.Fatalf("Seek past end = %d, %v", pos, err)
	}
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read past end = %d, %v", n, err)
	}
}

func TestBlobEmpty(t *testing.T) {
	st := newCheckStore(t)
	tr := buildBlob(t, st, nil)
	if !tr.Empty() || tr.Shape != BlobShape {
		t.Fatalf("empty blob is %+v", tr)
	}
	if n, err := NewBlobReader(ctx, st, tr).Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("Read of empty blob = %d, %v", n, err)
	}
	tr, err := SpliceBlob(ctx, st, tr, 0, 0, []byte("hello"))
	if err != nil || tr.Count != 5 {
		t.Fatalf("insert into empty blob: %+v, %v", tr, err)
	}
	if want := buildBlob(t, st, []byte("hello")); want != tr {
		t.Fatalf("spliced %s, built %s", tr.Root, want.Root)
	}
	if _, err := SpliceBlob(ctx, st, tr, 3, 3, nil); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("removing past the end: %v", err)
	}
	if tr, err = SpliceBlob(ctx, st, tr, 0, 5, nil); err != nil || !tr.Empty() {
		t.Fatalf("removing everything: %+v, %v", tr, err)
	}
}

// TestBlobChunkSizes checks that blob leaves respect the FastCDC bounds.
func TestBlobChunkSizes(t *testing.T) {
	st := newCheckStore(t)
	rng := rand.New(rand.NewPCG(1, 1))
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	copy(data[1<<20:], make([]byte, 64<<10)) // a run of zeros: max-size leaves
	tr := buildBlob(t, st, data)
	it := &leafWalker{st: st, shape: BlobShape}
	var sizes []int
	if err := it.walk(tr.Root, func(n *node) { sizes = append(sizes, len(n.blob)) }); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i, s := range sizes {
		total += s
		if s > BlobMaxChunk || (s < BlobMinChunk && i != len(sizes)-1) {
			t.Fatalf("leaf %d has %d bytes", i, s)
		}
	}
	mean := total / len(sizes)
	t.Logf("%d leaves, mean %d bytes", len(sizes), mean)
	if mean < 3500 || mean > 5000 {
		t.Errorf("mean leaf %d bytes, want about %d", mean, BlobTargetChunk)
	}
}

// leafWalker calls fn on every leaf, in order.
type leafWalker struct {
	st    Store
	shape Shape
}

func (w *leafWalker) walk(h [20]byte, fn func(*node)) error {
	n, err := loadNode(ctx, w.st, h, w.shape, -1)
	if err != nil {
		return err
	}
	if n.level == 0 {
		fn(n)
		return nil
	}
	for _, c := range n.items {
		if err := w.walk(c.link, fn); err != nil {
			return err
		}
	}
	return nil
}
