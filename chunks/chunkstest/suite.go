// Package chunkstest is the conformance suite of the chunks.ChunkStore
// contract. Every store implementation runs it from its own tests with a
// Harness that opens stores on fresh storage:
//
//	func TestConformance(t *testing.T) { chunkstest.Run(t, myHarness{}) }
//
// The suite's benchmarks live here too, so figures are comparable across
// stores.
package chunkstest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
)

// Harness makes fresh storage for each test.
type Harness interface {
	NewStorage(t testing.TB) Storage
}

// Storage is one database's persistent state. Stores opened on it share
// committed chunks and the root, as processes sharing one database do.
type Storage interface {
	// Open returns a new store on the storage. The suite closes it.
	Open(t testing.TB) chunks.ChunkStore
	// Corrupt replaces the stored bytes of the committed chunk h with other
	// bytes, bypassing the store, as a failing disk or a lying peer would.
	Corrupt(t testing.TB, h chunks.Hash)
}

// Run runs every conformance test as a subtest.
func Run(t *testing.T, h Harness) {
	s := &suite{h: h}
	v := reflect.ValueOf(s)
	typ := v.Type()
	for i := 0; i < typ.NumMethod(); i++ {
		m := typ.Method(i)
		if !strings.HasPrefix(m.Name, "Test") {
			continue
		}
		t.Run(strings.TrimPrefix(m.Name, "Test"), func(t *testing.T) {
			v.Method(i).Call([]reflect.Value{reflect.ValueOf(t)})
		})
	}
}

type suite struct{ h Harness }

// open opens a store and closes it at the end of the test.
func open(t testing.TB, st Storage) chunks.ChunkStore {
	t.Helper()
	s := st.Open(t)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Ctx returns a context that ends with the test or after a generous bound,
// so a hung store fails the test with a clear message instead of CI's limit.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Chunk returns a new random chunk of about size bytes that is a valid
// DAG-CBOR document (a CBOR byte string), so every store accepts it.
func Chunk(t testing.TB, size int) chunks.Chunk {
	t.Helper()
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return chunks.NewChunk(CBORBytes(b))
}

// LinkChunk returns a DAG-CBOR array of a nonce (which makes the chunk
// unique) and one link per CID, the way the data model links chunks.
func LinkChunk(nonce string, links ...cid.Cid) chunks.Chunk {
	b := cborx.AppendText(cborx.AppendHead(nil, cborx.Array, uint64(len(links)+1)), nonce)
	for _, l := range links {
		b = cborx.AppendLink(b, l)
	}
	return chunks.NewChunk(b)
}

// LinkTo returns a LinkChunk linking the chunks with hashes hs.
func LinkTo(nonce string, hs ...chunks.Hash) chunks.Chunk {
	links := make([]cid.Cid, len(hs))
	for i, h := range hs {
		links[i] = h.CID()
	}
	return LinkChunk(nonce, links...)
}

// CBORBytes encodes b as a CBOR byte string with the shortest header.
func CBORBytes(b []byte) []byte {
	n := len(b)
	var hdr []byte
	switch {
	case n < 24:
		hdr = []byte{0x40 | byte(n)}
	case n < 1<<8:
		hdr = []byte{0x58, byte(n)}
	case n < 1<<16:
		hdr = []byte{0x59, byte(n >> 8), byte(n)}
	default:
		hdr = []byte{0x5a, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return append(hdr, b...)
}

func mustPut(t testing.TB, s chunks.ChunkStore, cs ...chunks.Chunk) {
	t.Helper()
	for _, c := range cs {
		if err := s.Put(Ctx(t), c); err != nil {
			t.Fatalf("Put(%s): %v", c.Hash(), err)
		}
	}
}

func mustCommit(t testing.TB, s chunks.ChunkStore, current, last chunks.Hash) {
	t.Helper()
	if err := s.Commit(Ctx(t), current, last); err != nil {
		t.Fatalf("Commit(%s, %s): %v", current, last, err)
	}
}

func mustRoot(t testing.TB, s chunks.ChunkStore) chunks.Hash {
	t.Helper()
	r, err := s.Root(Ctx(t))
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	return r
}

func assertGet(t testing.TB, s chunks.ChunkStore, want chunks.Chunk) {
	t.Helper()
	got, err := s.Get(Ctx(t), want.Hash())
	if err != nil {
		t.Fatalf("Get(%s): %v", want.Hash(), err)
	}
	if got.Hash() != want.Hash() || string(got.Data()) != string(want.Data()) {
		t.Fatalf("Get(%s) returned other data (%d bytes, hash %s)", want.Hash(), got.Size(), chunks.Of(got.Data()))
	}
}

func assertMissing(t testing.TB, s chunks.ChunkStore, h chunks.Hash) {
	t.Helper()
	_, err := s.Get(Ctx(t), h)
	if !errors.Is(err, chunks.ErrNotFound) {
		t.Fatalf("Get(%s) of a missing chunk: err = %v, want ErrNotFound", h, err)
	}
	ok, err := s.Has(Ctx(t), h)
	if err != nil || ok {
		t.Fatalf("Has(%s) of a missing chunk = %v, %v; want false, nil", h, ok, err)
	}
}

func describe(hs chunks.HashSet) string {
	var parts []string
	for h := range hs {
		parts = append(parts, h.String())
	}
	return fmt.Sprint(parts)
}
