package ipfsstore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// sampleHashes returns hashes that exercise every byte value at the edges
// (zero, all ones) plus many real chunk hashes and random ones.
func sampleHashes(t testing.TB) []chunks.Hash {
	t.Helper()
	var ones chunks.Hash
	for i := range ones {
		ones[i] = 0xff
	}
	var counting chunks.Hash
	for i := range counting {
		counting[i] = byte(i)
	}
	hs := []chunks.Hash{{}, ones, counting, chunks.Of(nil), chunks.Of([]byte("noms"))}
	for i := range 200 {
		hs = append(hs, chunks.Of([]byte(fmt.Sprintf("chunk %d", i))))
		var h chunks.Hash
		if _, err := rand.Read(h[:]); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	return hs
}

func TestHashToCIDRoundTrip(t *testing.T) {
	for _, h := range sampleHashes(t) {
		c := HashToCID(h)
		got, err := CIDToHash(c)
		if err != nil {
			t.Fatalf("CIDToHash(HashToCID(%s)) = %v", h, err)
		}
		if got != h {
			t.Fatalf("CIDToHash(HashToCID(%s)) = %s", h, got)
		}
		// Through the text form, as CIDs travel in pins, logs and the CLI.
		got, err = ParseCID(c.String())
		if err != nil || got != h {
			t.Fatalf("ParseCID(%q) = %s, %v; want %s", c.String(), got, err, h)
		}
		// Through the binary form, as CIDs travel inside DAG-CBOR links.
		c2, err := cid.Cast(c.Bytes())
		if err != nil {
			t.Fatalf("cid.Cast(HashToCID(%s).Bytes()): %v", h, err)
		}
		if !c2.Equals(c) {
			t.Fatalf("binary round trip of %s gave %s", c, c2)
		}
	}
}

func TestHashToCIDIsInjective(t *testing.T) {
	seen := map[cid.Cid]chunks.Hash{}
	for _, h := range sampleHashes(t) {
		c := HashToCID(h)
		if prev, ok := seen[c]; ok && prev != h {
			t.Fatalf("hashes %s and %s map to the same CID %s", prev, h, c)
		}
		seen[c] = h
	}
}

func TestHashToCIDForm(t *testing.T) {
	for _, h := range sampleHashes(t)[:20] {
		c := HashToCID(h)
		p := c.Prefix()
		if p.Version != 1 {
			t.Errorf("%s: CID version %d, want 1", h, p.Version)
		}
		if p.Codec != 0x71 {
			t.Errorf("%s: codec %#x, want 0x71 (dag-cbor)", h, p.Codec)
		}
		if p.MhType != 0x13 {
			t.Errorf("%s: multihash code %#x, want 0x13 (sha2-512)", h, p.MhType)
		}
		if p.MhLength != 20 {
			t.Errorf("%s: multihash length %d, want 20", h, p.MhLength)
		}
		dec, err := mh.Decode(c.Hash())
		if err != nil {
			t.Fatalf("%s: decode multihash of %s: %v", h, c, err)
		}
		if !bytes.Equal(dec.Digest, h[:]) {
			t.Errorf("%s: digest %x, want the hash bytes %x", h, dec.Digest, h[:])
		}
		// The chunk's hash is SHA-512 truncated to 20 bytes, so Kubo hashing
		// the data with the CID's own prefix must give back the same CID.
		data := []byte("data for " + h.String())
		want := HashToCID(chunks.Of(data))
		sum, err := want.Prefix().Sum(data)
		if err != nil {
			t.Fatalf("prefix.Sum: %v", err)
		}
		if !sum.Equals(want) {
			t.Errorf("Prefix().Sum(data) = %s, want %s (chunk hash and CID digest disagree)", sum, want)
		}
		// Binary layout: version, codec, multihash code, length, digest.
		wantBytes := append([]byte{0x01, 0x71, 0x13, 0x14}, h[:]...)
		if !bytes.Equal(c.Bytes(), wantBytes) {
			t.Errorf("%s: CID bytes %x, want %x", h, c.Bytes(), wantBytes)
		}
	}
}

func TestCIDToHashRefusesForeignCIDs(t *testing.T) {
	data := []byte("some block")
	sha512of20 := func(t *testing.T) mh.Multihash {
		m, err := mh.Sum(data, mh.SHA2_512, 20)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	sum := func(t *testing.T, code uint64, length int) mh.Multihash {
		m, err := mh.Sum(data, code, length)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	cases := []struct {
		name string
		cid  func(t *testing.T) cid.Cid
	}{
		{"CIDv0 sha2-256 dag-pb", func(t *testing.T) cid.Cid { return cid.NewCidV0(sum(t, mh.SHA2_256, -1)) }},
		{"CIDv1 raw sha2-512/20", func(t *testing.T) cid.Cid { return cid.NewCidV1(cid.Raw, sha512of20(t)) }},
		{"CIDv1 dag-pb sha2-512/20", func(t *testing.T) cid.Cid { return cid.NewCidV1(cid.DagProtobuf, sha512of20(t)) }},
		{"CIDv1 dag-json sha2-512/20", func(t *testing.T) cid.Cid { return cid.NewCidV1(cid.DagJSON, sha512of20(t)) }},
		{"CIDv1 dag-cbor sha2-256", func(t *testing.T) cid.Cid { return cid.NewCidV1(cid.DagCBOR, sum(t, mh.SHA2_256, -1)) }},
		{"CIDv1 dag-cbor sha2-512 full 64 bytes", func(t *testing.T) cid.Cid { return cid.NewCidV1(cid.DagCBOR, sum(t, mh.SHA2_512, -1)) }},
		{"CIDv1 dag-cbor sha2-512/32", func(t *testing.T) cid.Cid { return cid.NewCidV1(cid.DagCBOR, sum(t, mh.SHA2_512, 32)) }},
		{"CIDv1 dag-cbor sha3-512/20", func(t *testing.T) cid.Cid { return cid.NewCidV1(cid.DagCBOR, sum(t, mh.SHA3_512, 20)) }},
		{"CIDv1 dag-cbor identity of 20 bytes", func(t *testing.T) cid.Cid {
			m, err := mh.Sum(bytes.Repeat([]byte{7}, 20), mh.IDENTITY, -1)
			if err != nil {
				t.Fatal(err)
			}
			return cid.NewCidV1(cid.DagCBOR, m)
		}},
		{"cid.Undef", func(*testing.T) cid.Cid { return cid.Undef }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cid(t)
			h, err := CIDToHash(c)
			if !errors.Is(err, ErrForeignCID) {
				t.Fatalf("CIDToHash(%s) = %s, %v; want an error wrapping ErrForeignCID", c, h, err)
			}
			if !h.IsEmpty() {
				t.Errorf("CIDToHash(%s) returned hash %s with its error", c, h)
			}
			if c.Defined() {
				// The text form is refused the same way.
				if _, err := ParseCID(c.String()); !errors.Is(err, ErrForeignCID) {
					t.Errorf("ParseCID(%q) = %v, want ErrForeignCID", c.String(), err)
				}
			}
		})
	}
}

func TestParseCIDRefusesJunk(t *testing.T) {
	valid := HashToCID(chunks.Of([]byte("x"))).String()
	for _, s := range []string{
		"",
		"not a cid",
		"bafy",
		valid[:len(valid)-3],    // truncated
		valid + "aa",            // extended
		chunks.Of(nil).String(), // a chunk hash in Noms' base32 form is not a CID
		"#" + chunks.Of(nil).String(),
		"/ipfs/" + valid, // a path, not a CID
		"\x00\x01\x02",
	} {
		h, err := ParseCID(s)
		if !errors.Is(err, ErrForeignCID) {
			t.Errorf("ParseCID(%q) = %s, %v; want an error wrapping ErrForeignCID", s, h, err)
		}
	}
}
