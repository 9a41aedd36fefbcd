package ipfsstore

import (
	"github.com/ipfs/go-cid"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

func TestRootPinBlockIsValidAndDistinct(t *testing.T) {
	root := chunks.Of([]byte("root"))
	a, b := rootPinBlock("0123456789abcdef", root), rootPinBlock("fedcba9876543210", root)
	if a.Cid().Equals(b.Cid()) {
		t.Fatal("two databases with one root got the same pin block")
	}
	var links []chunks.Hash
	err := dagcbor.Links(a.RawData(), func(c cid.Cid) error {
		h, err := CIDToHash(c)
		links = append(links, h)
		return err
	})
	if err != nil || len(links) != 1 || links[0] != root {
		t.Fatalf("pin block links %v (%v), want exactly the root %s", links, err, root)
	}
	if h, err := CIDToHash(a.Cid()); err != nil || h != chunks.Of(a.RawData()) {
		t.Fatalf("pin block CID %s does not follow the chunk scheme: %v", a.Cid(), err)
	}
	if rootPinCID("x", chunks.Hash{}).Defined() {
		t.Fatal("the empty root has a pin")
	}
}
