package chunkstest

import (
	"fmt"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// RunBenchmarks runs the suite's benchmarks as sub-benchmarks. Each reports
// chunks/s beside ns/op so stores compare directly.
func RunBenchmarks(b *testing.B, h Harness) {
	b.Run("PutCommit4KiB", func(b *testing.B) { benchPutCommit(b, h) })
	b.Run("GetSequential4KiB", func(b *testing.B) { benchGet(b, h, 1) })
	b.Run("GetConcurrent16x4KiB", func(b *testing.B) { benchGet(b, h, 16) })
	b.Run("HasManyAbsent10k", func(b *testing.B) { benchHasManyAbsent(b, h) })
}

// chunksPerCommit is how many chunks each benchmark commit carries: large
// enough that batching, not the commit itself, dominates.
const chunksPerCommit = 2000

func benchPutCommit(b *testing.B, h Harness) {
	s := open(b, h.NewStorage(b))
	ctx := Ctx(b)
	cs := make([]chunks.Chunk, b.N)
	for i := range cs {
		cs[i] = Chunk(b, 4096)
	}
	b.SetBytes(4096)
	b.ResetTimer()
	for i, c := range cs {
		if err := s.Put(ctx, c); err != nil {
			b.Fatal(err)
		}
		if (i+1)%chunksPerCommit == 0 || i == len(cs)-1 {
			if err := s.Commit(ctx, c.Hash(), mustRoot(b, s)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
}

func benchGet(b *testing.B, h Harness, workers int) {
	st := h.NewStorage(b)
	w := open(b, st)
	ctx := Ctx(b)
	n := min(b.N, 20000)
	hs := make([]chunks.Hash, n)
	for i := range hs {
		c := Chunk(b, 4096)
		if err := w.Put(ctx, c); err != nil {
			b.Fatal(err)
		}
		hs[i] = c.Hash()
	}
	mustCommit(b, w, hs[0], chunks.Hash{})
	r := open(b, st) // a fresh store, so reads reach the backing storage
	b.SetBytes(4096)
	b.ResetTimer()
	var g errgroup.Group
	per := (b.N + workers - 1) / workers
	for k := 0; k < workers; k++ {
		g.Go(func() error {
			for i := k * per; i < min((k+1)*per, b.N); i++ {
				if _, err := r.Get(ctx, hs[i%n]); err != nil {
					return fmt.Errorf("get %d: %w", i, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
}

func benchHasManyAbsent(b *testing.B, h Harness) {
	s := open(b, h.NewStorage(b))
	ctx := Ctx(b)
	hs := make([]chunks.Hash, 10000)
	for i := range hs {
		hs[i] = chunks.Of([]byte(fmt.Sprint("absent", i)))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		absent, err := s.HasMany(ctx, hs)
		if err != nil {
			b.Fatal(err)
		}
		if len(absent) != len(hs) {
			b.Fatalf("HasMany found %d of %d absent hashes", len(hs)-len(absent), len(hs))
		}
	}
}
