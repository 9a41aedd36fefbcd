package dagcbor

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	cid "github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"
)

// Hand-built links: sha256("hello") = 2cf24dba...9824.
const (
	helloSHA256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	// CIDv1, dag-cbor, sha2-256: 37 bytes after the multibase prefix.
	linkV1 = "d82a5825" + "00" + "01711220" + helloSHA256
	// CIDv0 (bare sha2-256 multihash): 35 bytes with the prefix.
	linkV0 = "d82a5823" + "00" + "1220" + helloSHA256
	// CIDv1, raw, identity multihash of "abc".
	linkIdentity = "d82a48" + "00" + "01550003616263"
)

type tcase struct {
	name string
	hex  string
	want string // substring of the error; "" means valid
}

// cases covers each strictness rule from both sides. FuzzValidate seeds
// its corpus from it too.
var cases = []tcase{
	// Unsigned integers: every width at its minimal boundaries.
	{"uint 0", "00", ""},
	{"uint 23", "17", ""},
	{"uint 24", "1818", ""},
	{"uint 255", "18ff", ""},
	{"uint 256", "190100", ""},
	{"uint 65535", "19ffff", ""},
	{"uint 65536", "1a00010000", ""},
	{"uint 2^32-1", "1affffffff", ""},
	{"uint 2^32", "1b0000000100000000", ""},
	{"uint 2^64-1", "1bffffffffffffffff", ""},
	{"uint 23 in 1 byte", "1817", "non-minimal unsigned integer encoding at offset 0"},
	{"uint 0 in 1 byte", "1800", "non-minimal unsigned integer"},
	{"uint 255 in 2 bytes", "1900ff", "non-minimal unsigned integer"},
	{"uint 65535 in 4 bytes", "1a0000ffff", "non-minimal unsigned integer"},
	{"uint 2^32-1 in 8 bytes", "1b00000000ffffffff", "non-minimal unsigned integer"},
	{"uint 0 in 8 bytes", "1b0000000000000000", "non-minimal unsigned integer"},
	{"uint reserved 28", "1c", "reserved additional information 28"},
	{"uint reserved 29", "1d", "reserved additional information 29"},
	{"uint reserved 30", "1e", "reserved additional information 30"},
	{"uint info 31", "1f", "malformed unsigned integer"},
	{"uint truncated argument", "1901", "truncated unsigned integer"},
	{"uint truncated 8-byte argument", "1b00000001000000", "truncated unsigned integer"},

	// Negative integers: same minimal rule, and int64 range.
	{"negint -1", "20", ""},
	{"negint -24", "37", ""},
	{"negint -25", "3818", ""},
	{"negint -256", "38ff", ""},
	{"negint -257", "390100", ""},
	{"negint -2^63", "3b7fffffffffffffff", ""},
	{"negint -24 in 1 byte", "3817", "non-minimal negative integer encoding at offset 0"},
	{"negint -256 in 2 bytes", "3900ff", "non-minimal negative integer"},
	{"negint in 4 bytes", "3a0000ffff", "non-minimal negative integer"},
	{"negint in 8 bytes", "3b00000000ffffffff", "non-minimal negative integer"},
	{"negint -2^63-1", "3b8000000000000000", "below -2^63 (argument"},
	{"negint -2^64", "3bffffffffffffffff", "below -2^63 (argument"},
	{"negint info 31", "3f", "malformed negative integer"},

	// Byte strings.
	{"bytes empty", "40", ""},
	{"bytes 4", "4401020304", ""},
	{"bytes 24", "5818" + strings.Repeat("aa", 24), ""},
	{"bytes 23 with 1-byte length", "5817" + strings.Repeat("aa", 23), "non-minimal byte string length"},
	{"bytes short", "44010203", "byte string length 4 exceeds the 3 remaining bytes at offset 0"},
	{"bytes length 2^63", "5b8000000000000000", "exceeds"},
	{"bytes length 2^64-1", "5bffffffffffffffff", "exceeds"},
	{"bytes length 2^63-1", "5b7fffffffffffffff00", "exceeds"},
	{"bytes indefinite", "5f4101ff", "indefinite-length byte string"},
	{"bytes indefinite empty", "5fff", "indefinite-length byte string"},

	// Text strings.
	{"text empty", "60", ""},
	{"text a", "6161", ""},
	{"text euro", "63e282ac", ""},
	{"text emoji", "64f09f9880", ""},
	{"text non-minimal length", "780161", "non-minimal text string length"},
	{"text invalid utf-8", "62c328", "not valid UTF-8 at offset 0"},
	{"text lone continuation", "6180", "not valid UTF-8"},
	{"text surrogate", "63eda080", "not valid UTF-8"},
	{"text overlong", "62c0af", "not valid UTF-8"},
	{"text indefinite", "7f6161ff", "indefinite-length text string"},
	{"text length 2^64-1", "7bffffffffffffffff", "exceeds"},
	{"text short", "6361", "exceeds"},

	// Lists.
	{"list empty", "80", ""},
	{"list 3", "83010203", ""},
	{"list nested", "8280820102", ""},
	{"list 24", "9818" + strings.Repeat("00", 24), ""},
	{"list non-minimal length", "980100", "non-minimal list length"},
	{"list indefinite", "9f01ff", "indefinite-length list"},
	{"list indefinite empty", "9fff", "indefinite-length list"},
	{"list truncated", "830102", "list of 3 elements cannot fit"},
	{"list truncated nested", "828100", "unexpected end of input at offset 3"},
	{"list length 2^63", "9b8000000000000000", "cannot fit"},
	{"list length 2^64-1", "9bffffffffffffffff", "cannot fit"},
	{"list bad element offset", "8301021817", "non-minimal unsigned integer encoding at offset 3"},

	// Maps.
	{"map empty", "a0", ""},
	{"map a b", "a2616101616202", ""},
	{"map length-first", "a2616201626161" + "02", ""},
	{"map empty key first", "a26001616102", ""},
	{"map nested", "a16161a1616280", ""},
	{"map non-minimal length", "b80100", "non-minimal map length"},
	{"map indefinite", "bf616101ff", "indefinite-length map"},
	{"map indefinite empty", "bfff", "indefinite-length map"},
	{"map int key", "a10101", "map key is not a text string (unsigned integer) at offset 1"},
	{"map bytes key", "a1416101", "map key is not a text string (byte string)"},
	{"map null key", "a1f601", "not a text string (simple value or float)"},
	{"map list key", "a18001", "not a text string (list)"},
	{"map duplicate key", "a2616101616102", "duplicate map key \"a\" at offset 4"},
	{"map unsorted same length", "a2616201616102", "not in length-first order"},
	{"map unsorted longer first", "a2626161016162" + "02", "not in length-first order"},
	{"map empty key last", "a26161016002", "not in length-first order"},
	{"map non-minimal key length", "a178016101", "non-minimal text string length"},
	{"map invalid utf-8 key", "a161ff01", "map key is not valid UTF-8"},
	{"map missing value", "a16161", "unexpected end of input at offset 3"},
	{"map short", "a2616101", "map of 2 entries cannot fit"},
	{"map missing value later", "a26161016162", "unexpected end of input at offset 6"},
	{"map length 2^64-1", "bbffffffffffffffff", "cannot fit"},
	{"map bad value offset", "a161611817", "non-minimal unsigned integer encoding at offset 3"},

	// Tags and links.
	{"link v1", linkV1, ""},
	{"link v0", linkV0, ""},
	{"link identity", linkIdentity, ""},
	{"links in list", "83" + linkV1 + linkV0 + linkIdentity, ""},
	{"link in map", "a16161" + linkV1, ""},
	{"tag 0", "c000", "unsupported tag 0"},
	{"tag 1", "c11a514b67b0", "unsupported tag 1"},
	{"tag 2 bignum", "c249010000000000000000", "unsupported tag 2"},
	{"tag 43", "d82b" + linkV1[4:], "unsupported tag 43"},
	{"tag 42 16-bit", "d9002a" + linkV1[4:], "non-minimal tag number encoding at offset 0"},
	{"tag 42 32-bit", "da0000002a" + linkV1[4:], "non-minimal tag number"},
	{"tag indefinite", "df", "malformed tag"},
	{"tag 42 on text", "d82a6161", "tag 42 content is not a byte string (text string) at offset 2"},
	{"tag 42 on int", "d82a00", "not a byte string"},
	{"tag 42 nested", "d82a" + linkV1, "not a byte string (tag)"},
	{"tag 42 at end", "d82a", "unexpected end of input after tag 42"},
	{"tag 42 empty bytes", "d82a40", "lacks the 0x00 multibase prefix"},
	{"tag 42 base58 prefix", "d82a5825" + "7a" + "01711220" + helloSHA256, "lacks the 0x00 multibase prefix"},
	{"tag 42 no prefix", "d82a5824" + "01711220" + helloSHA256, "lacks the 0x00 multibase prefix"},
	{"tag 42 prefix only", "d82a4100", "invalid CID in tag 42"},
	{"tag 42 cid trailing byte", "d82a5826" + "00" + "01711220" + helloSHA256 + "00", "invalid CID"},
	{"tag 42 cid v0 trailing byte", "d82a5824" + "00" + "1220" + helloSHA256 + "00", "invalid CID"},
	{"tag 42 cid truncated digest", "d82a5824" + "00" + "01711220" + helloSHA256[:62], "invalid CID"},
	{"tag 42 cid version 2", "d82a5825" + "00" + "02711220" + helloSHA256, "invalid CID"},
	{"tag 42 cid version 0 as varint", "d82a5825" + "00" + "00711220" + helloSHA256, "invalid CID"},
	{"tag 42 cid non-minimal varint", "d82a5826" + "00" + "8100711220" + helloSHA256, "invalid CID"},
	{"tag 42 bytes indefinite", "d82a5f40ff", "indefinite-length byte string"},
	{"tag 42 bytes short", "d82a5825" + "00", "exceeds"},

	// Major type 7.
	{"false", "f4", ""},
	{"true", "f5", ""},
	{"null", "f6", ""},
	{"float 1.0", "fb3ff0000000000000", ""},
	{"float -1.5", "fbbff8000000000000", ""},
	{"float 0.0", "fb0000000000000000", ""},
	{"float -0.0", "fb8000000000000000", ""},
	{"float smallest subnormal", "fb0000000000000001", ""},
	{"float max", "fb7fefffffffffffff", ""},
	{"undefined", "f7", "undefined is not supported at offset 0"},
	{"simple 0", "e0", "simple value 0 is not supported"},
	{"simple 16", "f0", "simple value 16"},
	{"simple 19", "f3", "simple value 19"},
	{"simple 1-byte 32", "f820", "simple value is not supported"},
	{"simple 1-byte 20", "f814", "simple value is not supported"},
	{"float16 1.0", "f93c00", "16-bit float"},
	{"float16 NaN", "f97e00", "16-bit float"},
	{"float32 1.0", "fa3f800000", "32-bit float"},
	{"float64 NaN", "fb7ff8000000000000", "NaN is not allowed at offset 0"},
	{"float64 signalling NaN", "fb7ff0000000000001", "NaN"},
	{"float64 negative NaN", "fbfff8000000000000", "NaN"},
	{"float64 +Inf", "fb7ff0000000000000", "infinity is not allowed"},
	{"float64 -Inf", "fbfff0000000000000", "infinity is not allowed"},
	{"float64 truncated", "fb3ff00000", "truncated 64-bit float"},
	{"reserved 28", "fc", "reserved additional information 28"},
	{"reserved 29", "fd", "reserved additional information 29"},
	{"reserved 30", "fe", "reserved additional information 30"},
	{"break at top", "ff", "unexpected break code"},
	{"break in list", "8201ff", "unexpected break code at offset 2"},

	// Whole input.
	{"empty input", "", "unexpected end of input at offset 0"},
	{"two items", "0000", "1 trailing bytes after the data item at offset 1"},
	{"trailing after map", "a0f6f6", "2 trailing bytes"},
	{"trailing zero after link", linkV1 + "00", "trailing bytes"},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad test hex %q: %v", s, err)
	}
	return b
}

func TestValidateTable(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := mustHex(t, tc.hex)
			err := Validate(data)
			lerr := Links(data, func(cid.Cid) error { return nil })
			if (err == nil) != (lerr == nil) || (err != nil && err.Error() != lerr.Error()) {
				t.Fatalf("Validate and Links disagree: %v vs %v", err, lerr)
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want nil", tc.hex, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%s) = nil, want error containing %q", tc.hex, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate(%s) = %q, want it to contain %q", tc.hex, err, tc.want)
			}
			if !strings.Contains(err.Error(), "offset") {
				t.Errorf("error %q does not give an offset", err)
			}
		})
	}
}

// nested returns depth lists each holding the next, the innermost empty.
func nested(depth int) []byte {
	b := bytes.Repeat([]byte{0x81}, depth)
	b[len(b)-1] = 0x80
	return b
}

func TestMaxDepth(t *testing.T) {
	if err := Validate(nested(MaxDepth)); err != nil {
		t.Fatalf("%d nested lists: %v", MaxDepth, err)
	}
	err := Validate(nested(MaxDepth + 1))
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "MaxDepth") {
		t.Fatalf("%d nested lists: got %v, want a MaxDepth error", MaxDepth+1, err)
	}
	// The offending list is the one that opens level MaxDepth+1.
	if !strings.Contains(err.Error(), "offset 512") {
		t.Errorf("error %q should point at offset %d", err, MaxDepth)
	}

	// Maps: MaxDepth-1 single-entry maps around an empty map.
	m := append(bytes.Repeat([]byte{0xa1, 0x61, 0x61}, MaxDepth-1), 0xa0)
	if err := Validate(m); err != nil {
		t.Fatalf("%d nested maps: %v", MaxDepth, err)
	}
	m = append(bytes.Repeat([]byte{0xa1, 0x61, 0x61}, MaxDepth), 0xa0)
	if err := Validate(m); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "MaxDepth") {
		t.Fatalf("%d nested maps: got %v, want a MaxDepth error", MaxDepth+1, err)
	}

	// A huge claimed depth must fail fast without exhausting the stack.
	if err := Validate(bytes.Repeat([]byte{0x81}, 1<<20)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("deep input: got %v", err)
	}
}

func TestHugeLengthsDoNotAllocate(t *testing.T) {
	// 9-byte headers claiming enormous lengths must be refused from the
	// header alone, allocating nothing near the claimed size. Bytes, not
	// allocation counts, are measured: the race detector adds allocations.
	for _, h := range []string{"5b7fffffffffffffff", "7b7fffffffffffffff", "9b7fffffffffffffff", "bb7fffffffffffffff", "5bffffffffffffffff"} {
		data := mustHex(t, h)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < 10; i++ {
			if err := Validate(data); !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s: %v, want ErrInvalid", h, err)
			}
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 64<<10 {
			t.Errorf("%s: 10 validations allocated %d bytes", h, got)
		}
	}
}

func TestValidateNoAllocs(t *testing.T) {
	// Valid input without links must not allocate at all.
	data := mustHex(t, "a3616101626262"+"83f4f5f6"+"636363634401020304")
	if err := Validate(data); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = Validate(data) }); allocs != 0 {
		t.Errorf("Validate allocated %v times, want 0", allocs)
	}
}

func hashCID(t testing.TB, codec uint64, s string) cid.Cid {
	t.Helper()
	c, err := cid.NewPrefixV1(codec, mh.SHA2_256).Sum([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLinksOrderAndCallbackError(t *testing.T) {
	data := mustHex(t, "a2"+"6161"+"83"+linkV1+linkV0+"f6"+"6162"+"a1"+"6163"+linkIdentity)
	var got []string
	if err := Links(data, func(c cid.Cid) error {
		got = append(got, c.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	v1 := cid.NewCidV1(cid.DagCBOR, mustHex(t, "1220"+helloSHA256))
	v0 := cid.NewCidV0(mustHex(t, "1220"+helloSHA256))
	id := cid.NewCidV1(cid.Raw, mustHex(t, "0003616263"))
	want := []string{v1.String(), v0.String(), id.String()}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("Links = %v, want %v", got, want)
	}

	// An error from fn stops the walk at once and comes back unchanged.
	stop := errors.New("stop")
	calls := 0
	err := Links(data, func(cid.Cid) error {
		calls++
		return stop
	})
	if err != stop {
		t.Fatalf("Links returned %v, want the callback's error itself", err)
	}
	if calls != 1 {
		t.Fatalf("fn called %d times after returning an error", calls)
	}

	// nil fn only validates.
	if err := Links(data, nil); err != nil {
		t.Fatal(err)
	}
}

// roundTripDocs builds documents with go-ipld-prime covering every kind,
// including links, and returns each with the links it holds in document
// order (keys sorted length-first, as the encoder writes them).
func roundTripDocs(t testing.TB) []struct {
	name  string
	node  datamodel.Node
	links []cid.Cid
} {
	t.Helper()
	l1 := hashCID(t, cid.DagCBOR, "one")
	l2 := hashCID(t, cid.Raw, "two")
	l3 := hashCID(t, cid.DagProtobuf, "three")
	l4 := cid.NewCidV0(l1.Hash())
	link := func(c cid.Cid) qp.Assemble { return qp.Link(cidlink.Link{Cid: c}) }

	type doc = struct {
		name  string
		node  datamodel.Node
		links []cid.Cid
	}
	var docs []doc
	add := func(name string, links []cid.Cid, fn func(datamodel.MapAssembler)) {
		n, err := qp.BuildMap(basicnode.Prototype.Any, -1, fn)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, doc{name, n, links})
	}

	add("empty", nil, func(ma datamodel.MapAssembler) {})
	add("scalars", nil, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "null", qp.Null())
		qp.MapEntry(ma, "t", qp.Bool(true))
		qp.MapEntry(ma, "f", qp.Bool(false))
		qp.MapEntry(ma, "zero", qp.Int(0))
		qp.MapEntry(ma, "small", qp.Int(23))
		qp.MapEntry(ma, "i8", qp.Int(24))
		qp.MapEntry(ma, "i16", qp.Int(300))
		qp.MapEntry(ma, "i32", qp.Int(70000))
		qp.MapEntry(ma, "i64", qp.Int(1<<40))
		qp.MapEntry(ma, "max", qp.Int(math.MaxInt64))
		qp.MapEntry(ma, "min", qp.Int(math.MinInt64))
		qp.MapEntry(ma, "neg", qp.Int(-1000))
		qp.MapEntry(ma, "umax", qp.Node(basicnode.NewUint(math.MaxUint64)))
		qp.MapEntry(ma, "pi", qp.Float(math.Pi))
		qp.MapEntry(ma, "negzero", qp.Float(math.Copysign(0, -1)))
		qp.MapEntry(ma, "tiny", qp.Float(math.SmallestNonzeroFloat64))
		qp.MapEntry(ma, "big", qp.Float(math.MaxFloat64))
		qp.MapEntry(ma, "str", qp.String("héllo, wörld ✓ 😀"))
		qp.MapEntry(ma, "", qp.String(""))
		qp.MapEntry(ma, "bytes", qp.Bytes([]byte{0, 1, 2, 0xff}))
		qp.MapEntry(ma, "long", qp.String(strings.Repeat("x", 300)))
	})
	// Keys sort "a" < "zz" < "list" < "nested", so links come out in
	// the order l1, l2, l3, l4, l1, l2.
	add("links", []cid.Cid{l1, l2, l3, l4, l1, l2}, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "nested", qp.Map(-1, func(ma datamodel.MapAssembler) {
			qp.MapEntry(ma, "bb", link(l2))
			qp.MapEntry(ma, "a", link(l1))
		}))
		qp.MapEntry(ma, "list", qp.List(-1, func(la datamodel.ListAssembler) {
			qp.ListEntry(la, link(l3))
			qp.ListEntry(la, qp.Int(7))
			qp.ListEntry(la, qp.List(-1, func(la datamodel.ListAssembler) {
				qp.ListEntry(la, link(l4))
			}))
		}))
		qp.MapEntry(ma, "zz", link(l2))
		qp.MapEntry(ma, "a", link(l1))
	})
	return docs
}

func encode(t testing.TB, n datamodel.Node) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := dagcbor.Encode(n, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTripGoIPLDPrime(t *testing.T) {
	docs := roundTripDocs(t)
	// Lengths needing 4-byte heads; kept out of roundTripDocs because
	// 70 KB fuzz seeds slow the fuzzer to a crawl.
	long, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "text", qp.String(strings.Repeat("é", 40000)))
		qp.MapEntry(ma, "bytes", qp.Bytes(bytes.Repeat([]byte{0xff}, 70000)))
		qp.MapEntry(ma, "list", qp.List(-1, func(la datamodel.ListAssembler) {
			for i := 0; i < 70000; i++ {
				qp.ListEntry(la, qp.Int(int64(i)))
			}
		}))
	})
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, struct {
		name  string
		node  datamodel.Node
		links []cid.Cid
	}{"long", long, nil})
	for _, d := range docs {
		t.Run(d.name, func(t *testing.T) {
			data := encode(t, d.node)
			if err := Validate(data); err != nil {
				t.Fatalf("Validate refused go-ipld-prime output: %v\n%x", err, data)
			}
			var got []cid.Cid
			if err := Links(data, func(c cid.Cid) error {
				got = append(got, c)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(d.links) {
				t.Fatalf("Links gave %v, want %v", got, d.links)
			}
			for i := range got {
				if !got[i].Equals(d.links[i]) {
					t.Fatalf("link %d = %s, want %s", i, got[i], d.links[i])
				}
			}
		})
	}
}

// TestValidCasesRoundTrip holds the accepted table cases to the same
// contract the fuzzer checks: go-ipld-prime decodes them and re-encodes the
// identical bytes.
func TestValidCasesRoundTrip(t *testing.T) {
	for _, tc := range cases {
		if tc.want != "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			checkAgainstIPLDPrime(t, mustHex(t, tc.hex))
		})
	}
	checkAgainstIPLDPrime(t, nested(MaxDepth))
}

func checkAgainstIPLDPrime(t *testing.T, data []byte) {
	t.Helper()
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dagcbor.Decode(nb, bytes.NewReader(data)); err != nil {
		t.Fatalf("Validate accepted %x but go-ipld-prime refused it: %v", data, err)
	}
	n := nb.Build()
	var buf bytes.Buffer
	if err := dagcbor.Encode(n, &buf); err != nil {
		t.Fatalf("re-encoding %x: %v", data, err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("accepted input is not canonical:\n in  %x\n out %x", data, buf.Bytes())
	}
	var want []cid.Cid
	collectLinks(n, &want)
	var got []cid.Cid
	if err := Links(data, func(c cid.Cid) error {
		got = append(got, c)
		return nil
	}); err != nil {
		t.Fatalf("Links: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Links gave %d links, go-ipld-prime %d", len(got), len(want))
	}
	for i := range got {
		if !got[i].Equals(want[i]) {
			t.Fatalf("link %d: %s vs go-ipld-prime %s", i, got[i], want[i])
		}
	}
}

// collectLinks appends n's links in document order; basicnode maps iterate
// in insertion order, which is the order they were decoded in.
func collectLinks(n datamodel.Node, out *[]cid.Cid) {
	switch n.Kind() {
	case datamodel.Kind_Link:
		l, _ := n.AsLink()
		*out = append(*out, l.(cidlink.Link).Cid)
	case datamodel.Kind_List:
		for it := n.ListIterator(); !it.Done(); {
			_, v, _ := it.Next()
			collectLinks(v, out)
		}
	case datamodel.Kind_Map:
		for it := n.MapIterator(); !it.Done(); {
			_, v, _ := it.Next()
			collectLinks(v, out)
		}
	}
}

// benchDoc is a typical chunk: a 4 KiB payload plus a few links.
func benchDoc(b testing.TB) []byte {
	payload := make([]byte, 4096)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	n, err := qp.BuildMap(basicnode.Prototype.Any, -1, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "data", qp.Bytes(payload))
		qp.MapEntry(ma, "size", qp.Int(int64(len(payload))))
		qp.MapEntry(ma, "kind", qp.String("blob"))
		qp.MapEntry(ma, "links", qp.List(-1, func(la datamodel.ListAssembler) {
			for i := 0; i < 4; i++ {
				c := hashCID(b, cid.DagCBOR, strings.Repeat("x", i+1))
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: c}))
			}
		}))
	})
	if err != nil {
		b.Fatal(err)
	}
	return encode(b, n)
}

func BenchmarkValidate4KiB(b *testing.B) {
	data := benchDoc(b)
	if err := Validate(data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Validate(data); err != nil {
			b.Fatal(err)
		}
	}
}
