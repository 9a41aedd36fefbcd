package value

import (
	"bytes"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	cid "github.com/ipfs/go-cid"
	ipldcbor "github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/node/basicnode"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

// h1 and h2 are recognisable hashes for hand-written encodings.
var (
	h1 = mustHash("0102030405060708090a0b0c0d0e0f1011121314")
	h2 = mustHash("ff00000000000000000000000000000000000001")
)

func mustHash(s string) chunks.Hash {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	h, err := chunks.HashFromBytes(b)
	if err != nil {
		panic(err)
	}
	return h
}

// unhex decodes hex written with spaces between groups for readability.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func mustEncode(t testing.TB, v Value) []byte {
	t.Helper()
	b, err := Encode(v)
	if err != nil {
		t.Fatalf("Encode(%#v): %v", v, err)
	}
	return b
}

func mustStruct(t testing.TB, name string, fields map[string]Value) Struct {
	t.Helper()
	s, err := NewStruct(name, fields)
	if err != nil {
		t.Fatalf("NewStruct: %v", err)
	}
	return s
}

// checkEncoding checks what every encoding must satisfy: strict DAG-CBOR,
// canonical for go-ipld-prime too (it decodes and re-encodes to the same
// bytes), Decode gives back an equal value, and dagcbor.Links reports
// exactly Links(v).
func checkEncoding(t testing.TB, v Value, b []byte) {
	t.Helper()
	if err := dagcbor.Validate(b); err != nil {
		t.Fatalf("encoding %x of %#v fails dagcbor.Validate: %v", b, v, err)
	}
	checkIPLDPrime(t, b)
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode(%x): %v", b, err)
	}
	if !Equal(got, v) {
		t.Fatalf("Decode(Encode(%#v)) = %#v", v, got)
	}
	var links []chunks.Hash
	if err := dagcbor.Links(b, func(c cid.Cid) error {
		// The walk yields raw CIDs; value encodes them from hashes, so map
		// back through the same prefix.
		raw := c.Bytes()
		if !bytes.Equal(raw[:4], linkPrefix[5:]) {
			t.Fatalf("link %s has an unexpected prefix", c)
		}
		h, err := chunks.HashFromBytes(raw[4:])
		if err != nil {
			t.Fatal(err)
		}
		links = append(links, h)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := Links(v)
	if len(links) != len(want) {
		t.Fatalf("dagcbor.Links found %d links in %x, Links(v) %d", len(links), b, len(want))
	}
	for i := range links {
		if links[i] != want[i] {
			t.Fatalf("link %d: %s in the encoding, %s from Links", i, links[i], want[i])
		}
	}
}

// checkIPLDPrime checks that go-ipld-prime's DAG-CBOR codec decodes b with
// its default options and re-encodes it to identical bytes.
func checkIPLDPrime(t testing.TB, b []byte) {
	t.Helper()
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := ipldcbor.Decode(nb, bytes.NewReader(b)); err != nil {
		t.Fatalf("go-ipld-prime cannot decode %x: %v", b, err)
	}
	var buf bytes.Buffer
	if err := ipldcbor.Encode(nb.Build(), &buf); err != nil {
		t.Fatalf("go-ipld-prime cannot re-encode %x: %v", b, err)
	}
	if !bytes.Equal(buf.Bytes(), b) {
		t.Fatalf("go-ipld-prime re-encodes differently:\n ours %x\n its  %x", b, buf.Bytes())
	}
}

// gen makes random values from small pools, so that equal values, equal
// numbers of different kinds and shared prefixes turn up often: that is
// where orders go wrong.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))} }

var (
	intPool = []int64{0, 1, -1, 2, 23, 24, 255, 256, 65535, 65536, 1 << 32, -(1 << 32),
		1 << 53, 1<<53 + 1, -(1 << 53), -(1<<53 + 1), math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, math.MinInt64 + 1}
	floatPool = []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -2.5, 0x1p53, 0x1p63, -0x1p63, 0x1p64, -0x1p64,
		1e300, -1e300, math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64, 0.1}
	stringPool = []string{"", "a", "ab", "abc", "b", "B", "é", "日本", "\x00", "\u00ff", "aaaaaaaaaaaaaaaaaaaaaaaa", "zz"}
	namePool   = []string{"a", "b", "aa", "x_1", "_", "Name", "zz"}
	hashPool   = []chunks.Hash{h1, h2, chunks.Of([]byte("x")), chunks.Of([]byte("y")), mustHash("0000000000000000000000000000000000000001")}
)

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) number() Value {
	switch g.pick(6) {
	case 0:
		return Int(int64(g.r.Uint64()) >> g.pick(64))
	case 1:
		return Float(g.r.NormFloat64() * math.Pow(2, float64(g.pick(140)-70)))
	case 2, 3:
		i := intPool[g.pick(len(intPool))]
		switch g.pick(3) {
		case 0:
			return Int(i)
		case 1:
			return Float(float64(i))
		default:
			return Float(float64(i) + 0.5)
		}
	default:
		f := floatPool[g.pick(len(floatPool))]
		if g.pick(2) == 0 && f >= math.MinInt64 && f < math.MaxInt64 {
			return Int(int64(f))
		}
		return Float(f)
	}
}

func (g *gen) hash() chunks.Hash {
	if g.pick(3) == 0 {
		var h chunks.Hash
		for i := range h {
			h[i] = byte(g.r.UintN(256))
		}
		h[19] |= 1 // never the zero hash
		return h
	}
	return hashPool[g.pick(len(hashPool))]
}

func (g *gen) count() (uint64, chunks.Hash) {
	switch g.pick(4) {
	case 0:
		return 0, chunks.Hash{}
	case 1:
		return g.r.Uint64() | 1, g.hash()
	default:
		return uint64(g.pick(300) + 1), g.hash()
	}
}

// value returns a random value whose Structs nest at most depth deep.
func (g *gen) value(depth int) Value {
	k := g.pick(11)
	if k == int(StructKind) && depth <= 0 {
		k = int(IntKind)
	}
	switch Kind(k) {
	case BoolKind:
		return Bool(g.pick(2) == 1)
	case IntKind, FloatKind:
		return g.number()
	case StringKind:
		return String(stringPool[g.pick(len(stringPool))])
	case BytesKind:
		return Bytes(stringPool[g.pick(len(stringPool))] + string([]byte{0xff, 0x00}[:g.pick(3)]))
	case RefKind:
		return NewRef(g.hash())
	case StructKind:
		s := Struct{name: []string{"", "P", "Q"}[g.pick(3)]}
		for i, n := 0, g.pick(4); i < n; i++ {
			s = s.Set(namePool[g.pick(len(namePool))], g.value(depth-1))
		}
		return s
	case ListKind:
		return NewListHeader(g.count())
	case MapKind:
		return NewMapHeader(g.count())
	case SetKind:
		return NewSetHeader(g.count())
	default:
		return NewBlobHeader(g.count())
	}
}
