package chunks_test

import (
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/chunks/chunkstest"
)

type memoryHarness struct{}

type memoryStorage struct{ s *chunks.MemoryStorage }

func (memoryHarness) NewStorage(testing.TB) chunkstest.Storage {
	return memoryStorage{chunks.NewMemoryStorage()}
}

func (m memoryStorage) Open(testing.TB) chunks.ChunkStore   { return m.s.NewStore() }
func (m memoryStorage) Corrupt(_ testing.TB, h chunks.Hash) { m.s.Corrupt(h) }

func TestMemoryStoreConformance(t *testing.T) { chunkstest.Run(t, memoryHarness{}) }

func BenchmarkMemoryStore(b *testing.B) { chunkstest.RunBenchmarks(b, memoryHarness{}) }
