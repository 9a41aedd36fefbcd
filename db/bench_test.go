package db

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// meteredStore counts the chunks read and written, printed beside times.
type meteredStore struct {
	chunks.ChunkStore
	reads, writes atomic.Int64
}

func (s *meteredStore) Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error) {
	s.reads.Add(1)
	return s.ChunkStore.Get(ctx, h)
}

func (s *meteredStore) Put(ctx context.Context, c chunks.Chunk) error {
	s.writes.Add(1)
	return s.ChunkStore.Put(ctx, c)
}

const bench1M = 1_000_000

func benchKey(i int) value.String { return value.String(fmt.Sprintf("key%08d", i)) }

// BenchmarkMap1M: a 1,000,000-entry map (string keys, small values) built,
// edited one entry at a time with a commit each, diffed against a version
// 100 keys apart, and iterated, on the memory store and on ipfsstore
// (embedded and RPC). Figures: ns/op plus chunks read and written per op.
func BenchmarkMap1M(b *testing.B) {
	for _, backend := range []string{"memory", "embedded", "rpc"} {
		b.Run(backend, func(b *testing.B) {
			ms := &meteredStore{ChunkStore: benchStore(b, backend)}
			benchMap(b, ms)
		})
	}
}

func benchStore(b *testing.B, backend string) chunks.ChunkStore {
	ctx := context.Background()
	var n *ipfsnode.Node
	var err error
	switch backend {
	case "memory":
		return chunks.NewMemoryStore()
	case "embedded":
		n, err = ipfsnode.StartEmbedded(ctx, ipfsnode.EmbeddedConfig{Repo: filepath.Join(b.TempDir(), "kubo")})
	case "rpc":
		n, err = ipfsnode.Connect(ctx, kubotest.Start(b).APIAddr)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Close() })
	s, err := ipfsstore.Open(ctx, n, ipfsstore.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func perOp(b *testing.B, ms *meteredStore, r0, w0 int64) {
	b.ReportMetric(float64(ms.reads.Load()-r0)/float64(b.N), "reads/op")
	b.ReportMetric(float64(ms.writes.Load()-w0)/float64(b.N), "writes/op")
}

func buildMap1M(b *testing.B, ms *meteredStore) value.Map {
	mb := value.NewMapBuilder(context.Background(), ms)
	for k := 0; k < bench1M; k++ {
		if err := mb.Add(benchKey(k), value.Int(int64(k))); err != nil {
			b.Fatal(err)
		}
	}
	m, err := mb.Map()
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func benchMap(b *testing.B, ms *meteredStore) {
	ctx := context.Background()
	d := New(ms)
	b.Run("Build", func(b *testing.B) {
		r0, w0 := ms.reads.Load(), ms.writes.Load()
		for i := 0; i < b.N; i++ {
			m := buildMap1M(b, ms)
			if _, err := d.Commit(ctx, "build", m, CommitOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		perOp(b, ms, r0, w0)
	})
	// The edits start from a committed map, built whether or not the Build
	// sub-benchmark ran.
	m := buildMap1M(b, ms)
	if _, err := d.Commit(ctx, "bench", m, CommitOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Run("EditCommit", func(b *testing.B) {
		r0, w0 := ms.reads.Load(), ms.writes.Load()
		for i := 0; i < b.N; i++ {
			var err error
			if m, err = m.Set(ctx, ms, benchKey(i*7919%bench1M), value.Int(-int64(i))); err != nil {
				b.Fatal(err)
			}
			if _, err := d.Commit(ctx, "bench", m, CommitOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		perOp(b, ms, r0, w0)
	})
	ed := m.Edit()
	for i := 0; i < 100; i++ {
		ed.Set(benchKey(i*9973%bench1M), value.String("changed"))
	}
	m2, err := ed.Map(ctx, ms)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Diff100", func(b *testing.B) {
		r0, w0 := ms.reads.Load(), ms.writes.Load()
		for i := 0; i < b.N; i++ {
			n := 0
			if err := value.DiffMaps(ctx, ms, m, m2, func(value.Change) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
			if n != 100 {
				b.Fatalf("diff found %d changes, want 100", n)
			}
		}
		perOp(b, ms, r0, w0)
	})
	b.Run("Iterate", func(b *testing.B) {
		r0, w0 := ms.reads.Load(), ms.writes.Load()
		for i := 0; i < b.N; i++ {
			n := uint64(0)
			for _, err := range m.All(ctx, ms, nil) {
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			if n != m.Len() {
				b.Fatalf("iterated %d of %d", n, m.Len())
			}
		}
		perOp(b, ms, r0, w0)
	})
}
