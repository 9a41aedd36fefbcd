package chunks_test

import (
	"slices"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/chunks/chunkstest"
)

// The dangling-link check as pure logic: which chunks it remembers, what
// Check asks the store about, and that Forget drops only what was walked.
func TestPendingLinks(t *testing.T) {
	leaf := chunkstest.Chunk(t, 10)
	missing := chunkstest.Chunk(t, 11)
	foreign := cid.NewCidV1(cid.Raw, leaf.Hash().CID().Hash())
	held := map[chunks.Hash]bool{leaf.Hash(): true}
	known := func(l cid.Cid) bool {
		h, err := chunks.HashFromCID(l)
		return err == nil && held[h]
	}
	p := chunks.NewPendingLinks()
	add := func(c chunks.Chunk) {
		links, err := chunks.Links(c)
		if err != nil {
			t.Fatal(err)
		}
		p.Add(c.Hash(), links, known)
		held[c.Hash()] = true // Put makes it pending
	}

	clean := chunkstest.LinkTo("clean", leaf.Hash())
	add(clean)
	if p.Len() != 0 {
		t.Fatalf("a chunk whose links are all known is remembered: %d", p.Len())
	}
	if walked, unknown := p.Check(clean.Hash(), known); walked != nil || unknown != nil {
		t.Fatalf("Check of a clean root = %v, %v; want nothing to walk or ask", walked, unknown)
	}

	holey := chunkstest.LinkTo("holey", leaf.Hash(), missing.Hash())
	add(holey)
	above := chunkstest.LinkTo("above", holey.Hash(), clean.Hash())
	add(above) // links an open chunk: remembered to reach it
	odd := chunkstest.LinkChunk("odd", foreign)
	add(odd)
	if p.Len() != 3 {
		t.Fatalf("%d chunks remembered, want holey, above and odd", p.Len())
	}

	walked, unknown := p.Check(above.Hash(), known)
	slices.SortFunc(walked, func(a, b chunks.Hash) int { return a.Compare(b) })
	want := []chunks.Hash{above.Hash(), holey.Hash()}
	slices.SortFunc(want, func(a, b chunks.Hash) int { return a.Compare(b) })
	if !slices.Equal(walked, want) || len(unknown) != 1 || !unknown[0].Equals(missing.Hash().CID()) {
		t.Fatalf("Check(above) walked %v asking %v; want %v asking for the missing chunk", walked, unknown, want)
	}
	if _, unknown := p.Check(odd.Hash(), known); len(unknown) != 1 || !unknown[0].Equals(foreign) {
		t.Fatalf("Check(odd) asks %v; want the foreign link", unknown)
	}
	if _, unknown := p.Check(clean.Hash(), known); unknown != nil {
		t.Fatalf("a root that does not reach the hole asks %v", unknown)
	}

	held[missing.Hash()] = true // the missing chunk was put
	if _, unknown := p.Check(above.Hash(), known); unknown != nil {
		t.Fatalf("after the missing chunk arrived Check still asks %v", unknown)
	}
	p.Forget(walked)
	if p.Len() != 1 {
		t.Fatalf("after Forget %d chunks remembered, want only odd", p.Len())
	}
}
