package merge

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
)

// BenchmarkMerge1M100 merges two versions of a 1,000,000-entry map (string
// keys, int values) that each changed 100 keys (modified, deleted, added;
// three the same on both sides), on the memory store. "values" is the
// three-way merge alone (Values); "commits" is the whole merge of two
// dataset heads (Commits: merge-base walk, merge, merge commit). Figures:
// time per merge, chunks read (reads/op) and written (writes/op). The
// target is under 100 ms.
func BenchmarkMerge1M100(b *testing.B) {
	ctx := context.Background()
	cs := &countingStore{ChunkStore: chunks.NewMemoryStore()}
	const n = 1_000_000
	base := bigMap(b, cs, n)
	va, vb := editSides(b, cs, base, n, 100, rand.New(rand.NewPCG(100, 1)))

	b.Run("values", func(b *testing.B) {
		cs.gets.Store(0)
		cs.puts.Store(0)
		for b.Loop() {
			if _, err := Values(ctx, cs, base, va, vb, Fail); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(cs.gets.Load())/float64(b.N), "reads/op")
		b.ReportMetric(float64(cs.puts.Load())/float64(b.N), "writes/op")
	})
	b.Run("commits", func(b *testing.B) {
		d := db.New(cs)
		bc := commit(b, d, base)
		ca := commit(b, d, va, bc.Hash)
		cb := commit(b, d, vb, bc.Hash)
		cs.gets.Store(0)
		cs.puts.Store(0)
		for b.Loop() {
			r, err := Commits(ctx, d, ca.Hash, cb.Hash, Fail)
			if err != nil || r.Outcome != Merged {
				b.Fatal(r.Outcome, err)
			}
		}
		b.ReportMetric(float64(cs.gets.Load())/float64(b.N), "reads/op")
		b.ReportMetric(float64(cs.puts.Load())/float64(b.N), "writes/op")
	})
}
