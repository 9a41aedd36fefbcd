package prolly

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// countStore counts the chunks read and written by a memory store,
// without the checks of checkStore, so benchmarks time prolly alone.
type countStore struct {
	mem        *chunks.MemoryStore
	gets, puts atomic.Int64
}

func (s *countStore) Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error) {
	s.gets.Add(1)
	return s.mem.Get(ctx, h)
}

func (s *countStore) Put(ctx context.Context, c chunks.Chunk) error {
	s.puts.Add(1)
	return s.mem.Put(ctx, c)
}

// bench1M builds the benchmark map: keys "key%08d", small integer values.
func bench1M(b *testing.B, st Store) Tree {
	bl := NewBuilder(ctx, st, MapShape, bytes.Compare)
	for i := range 1_000_000 {
		if err := bl.Add(Entry{Key: bigKey(i), Value: appendHead(nil, majorUint, uint64(i))}); err != nil {
			b.Fatal(err)
		}
	}
	tr, err := bl.Done()
	if err != nil {
		b.Fatal(err)
	}
	return tr
}

func BenchmarkBuildMap1M(b *testing.B) {
	keys := make([][]byte, 1_000_000)
	vals := make([][]byte, len(keys))
	for i := range keys {
		keys[i] = bigKey(i)
		vals[i] = appendHead(nil, majorUint, uint64(i))
	}
	var puts, bytesPut int64
	b.ResetTimer()
	for b.Loop() {
		st := &countStore{mem: chunks.NewMemoryStore()}
		bl := NewBuilder(ctx, st, MapShape, bytes.Compare)
		for i := range keys {
			if err := bl.Add(Entry{Key: keys[i], Value: vals[i]}); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := bl.Done(); err != nil {
			b.Fatal(err)
		}
		puts += st.puts.Load()
		bytesPut += st.mem.Stats().BytesPut
	}
	b.ReportMetric(float64(puts)/float64(b.N), "chunks/op")
	b.ReportMetric(float64(bytesPut)/float64(b.N)/(1<<20), "MiB/op")
}

func BenchmarkEditOneEntry1M(b *testing.B) {
	st := &countStore{mem: chunks.NewMemoryStore()}
	tr := bench1M(b, st)
	rng := rand.New(rand.NewPCG(1, 2))
	st.puts.Store(0)
	b.ResetTimer()
	for b.Loop() {
		k := rng.IntN(1_000_000)
		var err error
		tr, err = Apply(ctx, st, tr, bytes.Compare, []Edit{{Key: bigKey(k), Value: text(fmt.Sprint("edited ", k))}})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.puts.Load())/float64(b.N), "chunks/edit")
}

func BenchmarkDiff100Keys1M(b *testing.B) {
	st := &countStore{mem: chunks.NewMemoryStore()}
	tr := bench1M(b, st)
	rng := rand.New(rand.NewPCG(3, 4))
	picked := map[int]bool{}
	for len(picked) < 100 {
		picked[rng.IntN(1_000_000)] = true
	}
	var edits []Edit
	for k := range picked {
		edits = append(edits, Edit{Key: bigKey(k), Value: text("changed")})
	}
	edits = sortEdits(edits)
	tr2, err := Apply(ctx, st, tr, bytes.Compare, edits)
	if err != nil {
		b.Fatal(err)
	}
	st.gets.Store(0)
	b.ResetTimer()
	for b.Loop() {
		n := 0
		if err := Diff(ctx, st, tr, tr2, bytes.Compare, func(Change) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != 100 {
			b.Fatalf("%d changes", n)
		}
	}
	b.ReportMetric(float64(st.gets.Load())/float64(b.N), "nodes-read/op")
}

func BenchmarkIterate1M(b *testing.B) {
	st := &countStore{mem: chunks.NewMemoryStore()}
	tr := bench1M(b, st)
	b.ResetTimer()
	for b.Loop() {
		it := Iter(ctx, st, tr, bytes.Compare, nil)
		n := 0
		for _, ok := it.Next(); ok; _, ok = it.Next() {
			n++
		}
		if it.Err() != nil || n != 1_000_000 {
			b.Fatalf("%d entries, %v", n, it.Err())
		}
	}
}

func BenchmarkGet1M(b *testing.B) {
	st := &countStore{mem: chunks.NewMemoryStore()}
	tr := bench1M(b, st)
	rng := rand.New(rand.NewPCG(5, 6))
	b.ResetTimer()
	for b.Loop() {
		if _, found, err := Get(ctx, st, tr, bytes.Compare, bigKey(rng.IntN(1_000_000))); err != nil || !found {
			b.Fatal(found, err)
		}
	}
}

func BenchmarkBuildBlob64MiB(b *testing.B) {
	b.SetBytes(64 << 20)
	for b.Loop() {
		st := &countStore{mem: chunks.NewMemoryStore()}
		if _, err := BuildBlob(ctx, st, &prngReader{rng: rand.NewChaCha8([32]byte{1}), n: 64 << 20}); err != nil {
			b.Fatal(err)
		}
	}
}
