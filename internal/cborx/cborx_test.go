package cborx

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

func TestAppendHeadShortest(t *testing.T) {
	for _, tc := range []struct {
		n    uint64
		want string
	}{{0, "00"}, {23, "17"}, {24, "1818"}, {255, "18ff"}, {256, "190100"}, {65535, "19ffff"}, {65536, "1a00010000"}, {1 << 32, "1b0000000100000000"}} {
		if got := hex.EncodeToString(AppendHead(nil, Uint, tc.n)); got != tc.want {
			t.Errorf("AppendHead(%d) = %s, want %s", tc.n, got, tc.want)
		}
	}
}

func TestItemsSkipAndLink(t *testing.T) {
	c, _ := cid.V1Builder{Codec: cid.DagCBOR, MhType: mh.SHA2_256}.Sum([]byte("x"))
	var doc []byte
	doc = AppendHead(doc, Array, 4)
	doc = AppendHead(doc, Uint, 1000)
	doc = AppendText(doc, "héllo")
	doc = AppendLink(doc, c)
	doc = AppendHead(doc, Map, 1)
	doc = AppendText(doc, "k")
	doc = AppendHead(doc, Array, 2)
	doc = append(doc, 0xf5, 0xf6)
	if err := dagcbor.Validate(doc); err != nil {
		t.Fatalf("document is not valid DAG-CBOR: %v", err)
	}
	items, err := Items(doc)
	if err != nil || len(items) != 4 {
		t.Fatalf("Items = %d items, %v", len(items), err)
	}
	if got, err := Link(items[2]); err != nil || !got.Equals(c) {
		t.Fatalf("Link = %v, %v", got, err)
	}
	if !bytes.Equal(items[1], AppendText(nil, "héllo")) {
		t.Fatalf("item 1 = %x", items[1])
	}
	for cut := 0; cut < len(doc); cut++ {
		if _, err := Items(doc[:cut]); err == nil {
			t.Fatalf("Items accepted a document cut at %d", cut)
		}
	}
}

func FuzzSkip(f *testing.F) {
	f.Add([]byte{0x82, 0x01, 0x02})
	f.Add([]byte{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Skip(b)
		if err == nil && (n <= 0 || n > len(b)) {
			t.Fatalf("Skip = %d for %d bytes", n, len(b))
		}
		_, _ = Items(b)
		_, _ = Link(b)
	})
}
