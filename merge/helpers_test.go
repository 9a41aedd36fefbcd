package merge

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/value"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// countingStore counts Gets and Puts, to show merges read only around the
// changes.
type countingStore struct {
	chunks.ChunkStore
	gets, puts atomic.Int64
}

func newCounting() *countingStore { return &countingStore{ChunkStore: chunks.NewMemoryStore()} }

func (s *countingStore) Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error) {
	s.gets.Add(1)
	return s.ChunkStore.Get(ctx, h)
}

func (s *countingStore) GetMany(ctx context.Context, hs []chunks.Hash, found func(chunks.Chunk) error) error {
	s.gets.Add(int64(len(hs)))
	return s.ChunkStore.GetMany(ctx, hs, found)
}

func (s *countingStore) Put(ctx context.Context, c chunks.Chunk) error {
	s.puts.Add(1)
	return s.ChunkStore.Put(ctx, c)
}

func str(x string) value.String { return value.String(x) }
func num(x int64) value.Int     { return value.Int(x) }

// kv builds map entries from alternating keys and values.
func kv(t testing.TB, pairs ...value.Value) []value.MapEntry {
	t.Helper()
	if len(pairs)%2 != 0 {
		t.Fatal("kv needs pairs")
	}
	var es []value.MapEntry
	for j := 0; j < len(pairs); j += 2 {
		es = append(es, value.MapEntry{Key: pairs[j], Value: pairs[j+1]})
	}
	return es
}

func mustMap(t testing.TB, st value.Store, pairs ...value.Value) value.Map {
	t.Helper()
	m, err := value.NewMap(context.Background(), st, kv(t, pairs...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustSet(t testing.TB, st value.Store, members ...value.Value) value.Set {
	t.Helper()
	v, err := value.NewSet(context.Background(), st, members...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustList(t testing.TB, st value.Store, items ...value.Value) value.List {
	t.Helper()
	l, err := value.NewList(context.Background(), st, items...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustBlob(t testing.TB, st value.Store, data string) value.Blob {
	t.Helper()
	b, err := value.NewBlob(context.Background(), st, strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustStruct(t testing.TB, name string, fields ...value.Value) value.Struct {
	t.Helper()
	fs := map[string]value.Value{}
	for j := 0; j < len(fields); j += 2 {
		fs[string(fields[j].(value.String))] = fields[j+1]
	}
	v, err := value.NewStruct(name, fs)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mustMerge merges and fails the test on error.
func mustMerge(t testing.TB, st value.Store, anc, a, b value.Value, p Policy) value.Value {
	t.Helper()
	v, err := Values(context.Background(), st, anc, a, b, p)
	if err != nil {
		t.Fatalf("merge: %v", err)
	}
	return v
}

// conflictsOf returns the conflicts of a failed merge (nil if it is not a
// *ConflictError).
func conflictsOf(err error) []Conflict {
	var ce *ConflictError
	if errors.As(err, &ce) {
		return ce.Conflicts
	}
	return nil
}

func paths(cs []Conflict) []string {
	out := make([]string, len(cs))
	for j, c := range cs {
		out[j] = c.Path
	}
	return out
}

// listItems reads a list's items.
func listItems(t testing.TB, st value.Store, l value.List) []value.Value {
	t.Helper()
	var out []value.Value
	for v, err := range l.All(context.Background(), st, 0) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func mapOf(t testing.TB, st value.Store, m value.Map) map[string]value.Value {
	t.Helper()
	out := map[string]value.Value{}
	for e, err := range m.All(context.Background(), st, nil) {
		if err != nil {
			t.Fatal(err)
		}
		k, _ := value.Encode(e.Key)
		out[string(k)] = e.Value
	}
	return out
}

func setOf(t testing.TB, st value.Store, v value.Set) []value.Value {
	t.Helper()
	var out []value.Value
	for m, err := range v.All(context.Background(), st, nil) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func sameValue(a, b value.Value) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ea, err1 := value.Encode(a)
	eb, err2 := value.Encode(b)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}
