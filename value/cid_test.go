package value_test

import (
	"bytes"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// A Ref encodes as tag 42 (d8 2a), a byte string header (58 19), the
// multibase identity prefix 00, then the binary CID.
const cidOffset = 5

func TestRefLinksAreChunkCIDs(t *testing.T) {
	for _, data := range []string{"", "a", "chunk", "another chunk"} {
		h := chunks.Of([]byte(data))
		enc, err := value.Encode(value.NewRef(h))
		if err != nil {
			t.Fatal(err)
		}
		want := h.CID()
		if got := enc[cidOffset:]; !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("Ref(%s) links to CID bytes %x, chunks names it %s (%x)", h, got, want, want.Bytes())
		}
		back, err := chunks.HashFromCID(want)
		if err != nil || back != h {
			t.Fatalf("CIDToHash = %s, %v; want %s", back, err, h)
		}
		// The other way: a tag-42 link to the CID chunks makes decodes
		// to a Ref of the chunk's hash.
		link := append([]byte{0xd8, 0x2a, 0x58, byte(1 + want.ByteLen()), 0x00}, want.Bytes()...)
		v, err := value.Decode(link)
		if err != nil {
			t.Fatalf("Decode(link to %s): %v", want, err)
		}
		if r, ok := v.(value.Ref); !ok || r.Target() != h {
			t.Fatalf("Decode(link to %s) = %#v, want Ref(%s)", want, v, h)
		}
		// A collection root encodes the same way.
		enc, err = value.Encode(value.NewListHeader(1, h))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(enc, want.Bytes()) {
			t.Fatalf("list root %x does not end with the CID %x", enc, want.Bytes())
		}
	}
}
