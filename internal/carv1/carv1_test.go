package carv1

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	mh "github.com/multiformats/go-multihash"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/chunks/chunkstest"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

func TestAppendDecodesWithGoCar(t *testing.T) {
	identity := func(n int) cid.Cid {
		m, err := mh.Sum(bytes.Repeat([]byte{'i'}, n), mh.IDENTITY, -1)
		if err != nil {
			t.Fatal(err)
		}
		return cid.NewCidV1(cid.Raw, m)
	}
	v0 := func() cid.Cid {
		m, err := mh.Sum([]byte("v0"), mh.SHA2_256, -1)
		if err != nil {
			t.Fatal(err)
		}
		return cid.NewCidV0(m)
	}
	mkBlocks := func(sizes ...int) []blocks.Block {
		var out []blocks.Block
		for _, n := range sizes {
			c := chunkstest.Chunk(t, n)
			b, err := blocks.NewBlockWithCid(c.Data(), c.Hash().CID())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		return out
	}
	cases := []struct {
		name string
		root func([]blocks.Block) cid.Cid
		blks []blocks.Block
	}{
		{"one block", func(b []blocks.Block) cid.Cid { return b[0].Cid() }, mkBlocks(10)},
		// Section lengths of one, two and three varint bytes.
		{"many sizes", func(b []blocks.Block) cid.Cid { return b[0].Cid() }, mkBlocks(1, 50, 100, 127, 128, 4096, 20000, 300000)},
		{"no blocks", func([]blocks.Block) cid.Cid { return chunks.Of([]byte("r")).CID() }, nil},
		{"root not among blocks", func([]blocks.Block) cid.Cid { return chunks.Of([]byte("r")).CID() }, mkBlocks(5, 6)},
		// Roots whose byte-string header takes each form (< 24, < 256, >= 256 bytes).
		{"short root CID", func([]blocks.Block) cid.Cid { return identity(2) }, mkBlocks(3)},
		{"CIDv0 root", func([]blocks.Block) cid.Cid { return v0() }, mkBlocks(3)},
		{"long root CID", func([]blocks.Block) cid.Cid { return identity(300) }, mkBlocks(3)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.root(tc.blks)
			prefix := []byte("kept")
			buf := Append(append([]byte(nil), prefix...), root, tc.blks)
			if !bytes.HasPrefix(buf, prefix) {
				t.Fatalf("Append did not keep the bytes already in buf")
			}
			out := buf[len(prefix):]

			// The header must be strict DAG-CBOR: Kubo's dag/import decodes it.
			hlen, n := binary.Uvarint(out)
			if n <= 0 || uint64(len(out)-n) < hlen {
				t.Fatalf("bad header length varint in %x", out[:min(len(out), 16)])
			}
			if err := dagcbor.Validate(out[n : n+int(hlen)]); err != nil {
				t.Fatalf("CAR header is not strict DAG-CBOR: %v (%x)", err, out[n:n+int(hlen)])
			}
			var links []cid.Cid
			if err := dagcbor.Links(out[n:n+int(hlen)], func(c cid.Cid) error { links = append(links, c); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(links) != 1 || !links[0].Equals(root) {
				t.Fatalf("CAR header links %v, want [%s]", links, root)
			}

			br, err := car.NewBlockReader(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("go-car cannot read the CAR: %v", err)
			}
			if br.Version != 1 {
				t.Errorf("CAR version %d, want 1", br.Version)
			}
			if len(br.Roots) != 1 || !br.Roots[0].Equals(root) {
				t.Errorf("CAR roots %v, want [%s]", br.Roots, root)
			}
			for i, want := range tc.blks {
				got, err := br.Next() // go-car re-hashes each block against its CID
				if err != nil {
					t.Fatalf("block %d of %d: %v", i, len(tc.blks), err)
				}
				if !got.Cid().Equals(want.Cid()) || !bytes.Equal(got.RawData(), want.RawData()) {
					t.Fatalf("block %d: got %s (%d bytes), want %s (%d bytes)",
						i, got.Cid(), len(got.RawData()), want.Cid(), len(want.RawData()))
				}
			}
			if b, err := br.Next(); !errors.Is(err, io.EOF) {
				t.Fatalf("after %d blocks: got %v, %v; want io.EOF", len(tc.blks), b, err)
			}
		})
	}
}
