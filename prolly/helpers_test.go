package prolly

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

// testConfig has small nodes so that a few thousand entries make a tree
// five or six levels deep; lone entries are 1 KiB.
var testConfig = newConfig(256, 2048, 1024, 64, 256, 1024)

// useConfig switches the chunking parameters for one test. Tests that use
// it must not run in parallel.
func useConfig(t testing.TB, c *config) {
	old := cfg
	cfg = c
	t.Cleanup(func() { cfg = old })
}

// checkStore is a memory store that checks every node written (strict
// DAG-CBOR, at most chunks.MaxChunkSize) and counts Gets and Puts.
type checkStore struct {
	t    testing.TB
	mem  *chunks.MemoryStore
	gets atomic.Int64
	puts atomic.Int64
}

func newCheckStore(t testing.TB) *checkStore {
	return &checkStore{t: t, mem: chunks.NewMemoryStore()}
}

func (s *checkStore) Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error) {
	s.gets.Add(1)
	return s.mem.Get(ctx, h)
}

func (s *checkStore) Put(ctx context.Context, c chunks.Chunk) error {
	s.puts.Add(1)
	if err := dagcbor.Validate(c.Data()); err != nil {
		s.t.Errorf("node %s is not strict DAG-CBOR: %v", c.Hash(), err)
	}
	if c.Size() > chunks.MaxChunkSize {
		s.t.Errorf("node %s has %d bytes, over %d", c.Hash(), c.Size(), chunks.MaxChunkSize)
	}
	if err := c.Verify(); err != nil {
		s.t.Errorf("node %s: %v", c.Hash(), err)
	}
	return s.mem.Put(ctx, c)
}

// counts returns the Gets and Puts so far.
func (s *checkStore) counts() (gets, puts int64) { return s.gets.Load(), s.puts.Load() }

// text encodes s as a CBOR text string; bin as a CBOR byte string.
func text(s string) []byte { return append(appendHead(nil, 3, uint64(len(s))), s...) }
func bin(b []byte) []byte  { return append(appendHead(nil, majorBytes, uint64(len(b))), b...) }

// untext decodes a CBOR text or byte string (test keys and values).
func untext(b []byte) string {
	d := cborReader{data: b}
	_, n, err := d.rawHead()
	if err != nil || uint64(len(b)-d.off) != n {
		panic(fmt.Sprintf("not a CBOR string: %x", b))
	}
	return string(b[d.off:])
}

// cmpText orders encoded test keys as the strings they hold.
func cmpText(a, b []byte) int { return strings.Compare(untext(a), untext(b)) }

var ctx = context.Background()

// treeStats describes a tree checked by walkTree.
type treeStats struct {
	depth  int // levels, leaves included
	nodes  int
	leaves int
}

// walkTree reads the whole tree and checks every structural invariant:
// levels, counts and last keys against parents, keys strictly increasing,
// internal nodes with at least two children (but a level's last node),
// a root with two or more children, lone entries alone in their leaf, and
// node sizes.
func walkTree(t testing.TB, st Store, tr Tree, cmp Compare) treeStats {
	t.Helper()
	var stats treeStats
	if tr.Root.IsEmpty() {
		if tr.Count != 0 {
			t.Fatalf("empty root with count %d", tr.Count)
		}
		return stats
	}
	var prevKey []byte
	var walk func(h chunks.Hash, level int, last bool) uint64
	walk = func(h chunks.Hash, level int, last bool) uint64 {
		c, err := st.Get(ctx, h)
		if err != nil {
			t.Fatalf("read %s: %v", h, err)
		}
		if c.Size() > chunks.MaxChunkSize {
			t.Fatalf("node %s has %d bytes", h, c.Size())
		}
		n, err := decodeNode(c.Data(), tr.Shape)
		if err != nil {
			t.Fatalf("decode %s: %v", h, err)
		}
		if level >= 0 && n.level != level {
			t.Fatalf("node %s at level %d, want %d", h, n.level, level)
		}
		if stats.depth == 0 {
			stats.depth = n.level + 1
			if n.level > 0 && len(n.items) < 2 {
				t.Fatalf("internal root with %d child: not canonical", len(n.items))
			}
		}
		stats.nodes++
		if n.level == 0 {
			stats.leaves++
			if tr.Shape == BlobShape {
				return uint64(len(n.blob))
			}
			for i, it := range n.items {
				if tr.Shape.ordered() {
					if prevKey != nil && cmp(prevKey, it.key) >= 0 {
						t.Fatalf("keys out of order in leaf %s", h)
					}
					prevKey = it.key
				}
				if len(it.key)+len(it.val) >= cfg.loneEntry && len(n.items) != 1 {
					t.Fatalf("lone entry %d shares leaf %s with %d others", i, h, len(n.items)-1)
				}
			}
			return uint64(len(n.items))
		}
		if len(n.items) < 2 && !last {
			t.Fatalf("internal node %s with one child is not the last of its level", h)
		}
		var sum uint64
		for i, it := range n.items {
			got := walk(it.link, n.level-1, last && i == len(n.items)-1)
			if got != it.count {
				t.Fatalf("child %d of %s counts %d, holds %d", i, h, it.count, got)
			}
			if tr.Shape.ordered() && !bytes.Equal(prevKey, it.key) {
				t.Fatalf("child %d of %s: last key mismatch", i, h)
			}
			sum += got
		}
		return sum
	}
	if got := walk(tr.Root, -1, true); got != tr.Count {
		t.Fatalf("tree holds %d entries, counts %d", got, tr.Count)
	}
	return stats
}

// buildMap bulk-builds a Map from a model.
func buildMap(t testing.TB, st Store, model map[string]string) Tree {
	t.Helper()
	entries := make([]Entry, 0, len(model))
	for k, v := range model {
		entries = append(entries, Entry{Key: text(k), Value: text(v)})
	}
	tr, err := BuildFromUnsorted(ctx, st, MapShape, cmpText, entries)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func buildList(t testing.TB, st Store, model []string) Tree {
	t.Helper()
	b := NewBuilder(ctx, st, ListShape, nil)
	for _, v := range model {
		if err := b.Add(Entry{Value: text(v)}); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := b.Done()
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func buildBlob(t testing.TB, st Store, data []byte) Tree {
	t.Helper()
	tr, err := BuildBlob(ctx, st, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// randValue returns a value string; with lone > 0, one in `lone` is big
// enough to be a lone entry under testConfig.
func randValue(rng *rand.Rand, lone int) string {
	if lone > 0 && rng.IntN(lone) == 0 {
		return strings.Repeat(string(rune('a'+rng.IntN(26))), 900+rng.IntN(2500))
	}
	return fmt.Sprintf("v%d", rng.IntN(1000000))
}

// bigMap is a 1,000,000-entry Map with keys "key%08d" and small values,
// built once for the tests that need one.
var bigMap struct {
	once sync.Once
	st   *checkStore
	tr   Tree
	err  error
}

func getBigMap(t testing.TB) (*checkStore, Tree) {
	if testing.Short() {
		t.Skip("builds a 1M-entry map")
	}
	bigMap.once.Do(func() {
		bigMap.st = newCheckStore(t)
		b := NewBuilder(ctx, bigMap.st, MapShape, bytes.Compare)
		for i := range 1_000_000 {
			if err := b.Add(Entry{Key: bigKey(i), Value: appendHead(nil, majorUint, uint64(i))}); err != nil {
				bigMap.err = err
				return
			}
		}
		bigMap.tr, bigMap.err = b.Done()
	})
	if bigMap.err != nil {
		t.Fatal(bigMap.err)
	}
	// The store's checker reports to the test that is using it.
	bigMap.st.t = t
	return bigMap.st, bigMap.tr
}

func bigKey(i int) []byte { return text(fmt.Sprintf("key%08d", i)) }

// ctxT is the context type, for test stores' method signatures.
type ctxT = context.Context
