package prolly

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// TestEditWritesFewChunks1M: one edit in a 1,000,000-entry map writes at
// most 8 chunks, whatever the edit.
func TestEditWritesFewChunks1M(t *testing.T) {
	st, tr := getBigMap(t)
	stats := walkTree(t, st, tr, bytes.Compare)
	t.Logf("1M map: %d levels, %d nodes", stats.depth, stats.nodes)
	rng := rand.New(rand.NewPCG(1, 1))
	worst, total := int64(0), int64(0)
	hist := map[int64]int{}
	const edits = 2000
	for i := range edits {
		k := rng.IntN(1_000_000)
		var e Edit
		switch i % 3 {
		case 0: // replace a value
			e = Edit{Key: bigKey(k), Value: text("a new value")}
		case 1: // insert a new key
			e = Edit{Key: text(fmt.Sprintf("key%08d.5", k)), Value: text("new")}
		case 2: // delete
			e = Edit{Key: bigKey(k), Delete: true}
		}
		if i == 0 {
			e = Edit{Key: text("zzz"), Value: text("at the end")}
		}
		_, before := st.counts()
		nt, err := Apply(ctx, st, tr, bytes.Compare, []Edit{e})
		if err != nil {
			t.Fatal(err)
		}
		_, after := st.counts()
		puts := after - before
		worst = max(worst, puts)
		total += puts
		hist[puts]++
		if puts > 8 {
			t.Errorf("edit %d (%s of %s) wrote %d chunks", i, []string{"replace", "insert", "delete"}[i%3], e.Key, puts)
		}
		if i%50 == 0 {
			// The edited tree is the tree the same contents build to.
			if _, found, err := Get(ctx, st, nt, bytes.Compare, e.Key); err != nil || found == e.Delete {
				t.Fatalf("after edit %d: Get = %v, %v", i, found, err)
			}
		}
	}
	t.Logf("single edits: %.2f chunks written on average, %d at most; chunks:edits %v", float64(total)/edits, worst, hist)
}

// TestDiffReadsFewNodes1M: Diff of two 1M-entry maps that differ in a few
// keys reads O(changes × depth) nodes.
func TestDiffReadsFewNodes1M(t *testing.T) {
	st, tr := getBigMap(t)
	rng := rand.New(rand.NewPCG(2, 2))
	for _, n := range []int{1, 10, 100} {
		var edits []Edit
		seen := map[int]bool{}
		for len(edits) < n {
			k := rng.IntN(1_000_000)
			if !seen[k] {
				seen[k] = true
				edits = append(edits, Edit{Key: bigKey(k), Value: text("changed")})
			}
		}
		edits = sortEdits(edits)
		nt, err := Apply(ctx, st, tr, bytes.Compare, edits)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := st.counts()
		changes := 0
		err = Diff(ctx, st, tr, nt, bytes.Compare, func(c Change) error {
			if c.Kind != Modified || !bytes.Equal(c.Key, edits[changes].Key) {
				t.Fatalf("change %d: %v %x", changes, c.Kind, c.Key)
			}
			changes++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		after, _ := st.counts()
		gets := after - before
		t.Logf("%d changes: %d nodes read", n, gets)
		if changes != n {
			t.Fatalf("Diff found %d changes, want %d", changes, n)
		}
		// Both trees, at most two nodes per level per change, plus the roots.
		if limit := int64(2 * 2 * 3 * n); gets > limit+2 {
			t.Errorf("Diff of %d changes read %d nodes, want at most %d", n, gets, limit)
		}
	}
}

func sortEdits(edits []Edit) []Edit {
	for i := 1; i < len(edits); i++ {
		for j := i; j > 0 && bytes.Compare(edits[j-1].Key, edits[j].Key) > 0; j-- {
			edits[j-1], edits[j] = edits[j], edits[j-1]
		}
	}
	return edits
}

// prngReader yields n deterministic pseudo-random bytes.
type prngReader struct {
	rng *rand.ChaCha8
	n   int64
}

func (r *prngReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	r.rng.Read(p)
	r.n -= int64(len(p))
	return len(p), nil
}

// TestBlobImportBoundedMemory imports a 64 MiB blob into a store that
// keeps nothing and checks that the heap never holds more than a small
// fraction of it. The heap is sampled after a forced collection (every
// 1024 chunks): HeapInuse otherwise includes garbage whose collection the
// GC's pacing merely postpones, which says nothing about what the import
// holds on to.
func TestBlobImportBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("imports 64 MiB")
	}
	const size = 64 << 20
	st := &countingSink{}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	st.sample = func() {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		st.peak = max(st.peak, ms.HeapInuse)
	}
	tr, err := BuildBlob(ctx, st, &prngReader{rng: rand.NewChaCha8([32]byte{1}), n: size})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Count != size {
		t.Fatalf("blob counts %d bytes, want %d", tr.Count, size)
	}
	grew := int64(st.peak) - int64(base)
	t.Logf("64 MiB blob: %d chunks, %d bytes written; heap in use grew by at most %d KiB", st.puts, st.bytes, grew/1024)
	if grew > 2<<20 {
		t.Errorf("heap grew by %d bytes importing %d: not streaming", grew, size)
	}
	if st.bytes < size {
		t.Errorf("only %d bytes written for a %d-byte blob", st.bytes, size)
	}
}

// countingSink is a Store that drops chunks, counting them and sampling
// the heap every 1024 puts.
type countingSink struct {
	puts, bytes int64
	peak        uint64
	sample      func()
}

func (s *countingSink) Get(_ ctxT, h chunks.Hash) (chunks.Chunk, error) {
	return chunks.Chunk{}, fmt.Errorf("sink holds nothing: %w", chunks.ErrNotFound)
}

func (s *countingSink) Put(_ ctxT, c chunks.Chunk) error {
	s.puts++
	s.bytes += int64(c.Size())
	if s.puts%1024 == 0 {
		s.sample()
	}
	return nil
}

// TestBlobSmallEdit: a 1-byte change in the middle of a 16 MiB blob writes
// a few chunks, and reading the result gives the edited bytes.
func TestBlobSmallEdit(t *testing.T) {
	size := int64(16 << 20)
	if testing.Short() {
		size = 2 << 20
	}
	st := newCheckStore(t)
	data, _ := io.ReadAll(&prngReader{rng: rand.NewChaCha8([32]byte{2}), n: size})
	tr := buildBlob(t, st, data)
	for _, at := range []int64{size / 2, 0, size - 1, size / 3} {
		_, before := st.counts()
		nt, err := SpliceBlob(ctx, st, tr, uint64(at), 1, []byte{data[at] + 1})
		if err != nil {
			t.Fatal(err)
		}
		_, after := st.counts()
		t.Logf("1-byte change at %d: %d chunks written", at, after-before)
		if after-before > 6 {
			t.Errorf("1-byte change at %d wrote %d chunks", at, after-before)
		}
		got := make([]byte, 100)
		from := max(0, at-50)
		n, _ := NewBlobReader(ctx, st, nt).ReadAt(got, from)
		want := bytes.Clone(data[from:min(from+100, size)])
		want[at-from]++
		if !bytes.Equal(got[:n], want) {
			t.Fatalf("edited bytes around %d read back wrong", at)
		}
	}
}

// TestSpliceRemovesWithoutReading: removing most of a list or blob reads
// only the nodes at the two ends of the removed range.
func TestSpliceRemovesWithoutReading(t *testing.T) {
	st := newCheckStore(t)
	var list []string
	for i := range 200000 {
		list = append(list, fmt.Sprint(i))
	}
	l := buildList(t, st, list)
	data, _ := io.ReadAll(&prngReader{rng: rand.NewChaCha8([32]byte{3}), n: 8 << 20})
	b := buildBlob(t, st, data)
	for _, tc := range []struct {
		name string
		do   func() (Tree, error)
		want Tree
	}{
		{"list", func() (Tree, error) { return Splice(ctx, st, l, 1000, 198000, [][]byte{text("x")}) }, buildList(t, st, append(list[:1000:1000], append([]string{"x"}, list[199000:]...)...))},
		{"blob", func() (Tree, error) { return SpliceBlob(ctx, st, b, 1000, 8<<20-2000, []byte("x")) }, buildBlob(t, st, append(data[:1000:1000], append([]byte("x"), data[8<<20-1000:]...)...))},
	} {
		before, _ := st.counts()
		got, err := tc.do()
		if err != nil {
			t.Fatal(err)
		}
		after, _ := st.counts()
		t.Logf("%s: removing almost everything read %d nodes", tc.name, after-before)
		if got != tc.want {
			t.Fatalf("%s: spliced %s, built %s", tc.name, got.Root, tc.want.Root)
		}
		if after-before > 12 {
			t.Errorf("%s: removing a range read %d nodes", tc.name, after-before)
		}
	}
}
