package value

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

// link1 is the encoding of a link to h1, worked out by hand: tag 42
// (d8 2a), byte string of 25 (58 19), multibase identity prefix 00, CIDv1
// 01, dag-cbor 71, sha2-512 13, digest length 20 (14), digest.
const link1 = "d82a 5819 00 01 71 13 14 0102030405060708090a0b0c0d0e0f1011121314"

type encodingCase struct {
	name string
	v    Value
	hex  string
}

// encodingCases are checked byte for byte; each hex string was worked out
// from RFC 8949 and the DAG-CBOR specification, not from the encoder.
func encodingCases(t testing.TB) []encodingCase {
	return []encodingCase{
		{"false", Bool(false), "f4"},
		{"true", Bool(true), "f5"},
		{"int 0", Int(0), "00"},
		{"int 23", Int(23), "17"},
		{"int 24 (1-byte argument)", Int(24), "18 18"},
		{"int 255", Int(255), "18 ff"},
		{"int 256 (2-byte argument)", Int(256), "19 0100"},
		{"int 65535", Int(65535), "19 ffff"},
		{"int 65536 (4-byte argument)", Int(65536), "1a 00010000"},
		{"int 2^32 (8-byte argument)", Int(1 << 32), "1b 0000000100000000"},
		{"int max", Int(math.MaxInt64), "1b 7fffffffffffffff"},
		{"int -1", Int(-1), "20"},
		{"int -24", Int(-24), "37"},
		{"int -25", Int(-25), "38 18"},
		{"int -256", Int(-256), "38 ff"},
		{"int -257", Int(-257), "39 0100"},
		{"int min", Int(math.MinInt64), "3b 7fffffffffffffff"},
		{"float 0", Float(0), "fb 0000000000000000"},
		{"float -0 normalised", Float(math.Copysign(0, -1)), "fb 0000000000000000"},
		{"float 1 (still 64-bit)", Float(1), "fb 3ff0000000000000"},
		{"float 1.5", Float(1.5), "fb 3ff8000000000000"},
		{"float -2.5", Float(-2.5), "fb c004000000000000"},
		{"float smallest subnormal", Float(math.SmallestNonzeroFloat64), "fb 0000000000000001"},
		{"float max", Float(math.MaxFloat64), "fb 7fefffffffffffff"},
		{"string empty", String(""), "60"},
		{"string a", String("a"), "61 61"},
		{"string IETF", String("IETF"), "64 49455446"},
		{"string ü", String("ü"), "62 c3bc"},
		{"string of 24 bytes", String(strings.Repeat("a", 24)), "78 18" + strings.Repeat("61", 24)},
		{"bytes empty", Bytes(""), "40"},
		{"bytes 01020304", NewBytes([]byte{1, 2, 3, 4}), "44 01020304"},
		{"bytes not UTF-8", NewBytes([]byte{0xff}), "41 ff"},
		{"ref", NewRef(h1), link1},
		{"struct empty", Struct{}, "a1 66 737472756374 82 60 a0"},
		{"struct sorted length-first", mustStruct(t, "P", map[string]Value{"aa": Int(1), "b": Bool(true)}),
			"a1 66 737472756374 82 6150 a2 6162 f5 626161 01"},
		{"struct nested", mustStruct(t, "", map[string]Value{"s": Struct{}}),
			"a1 66 737472756374 82 60 a1 6173 a1 66 737472756374 82 60 a0"},
		{"list empty", NewListHeader(0, chunks.Hash{}), "a1 64 6c697374 81 00"},
		{"list", NewListHeader(3, h1), "a1 64 6c697374 82 03" + link1},
		{"map empty", NewMapHeader(0, chunks.Hash{}), "a1 63 6d6170 81 00"},
		{"map", NewMapHeader(24, h1), "a1 63 6d6170 82 1818" + link1},
		{"set empty", NewSetHeader(0, chunks.Hash{}), "a1 63 736574 81 00"},
		{"set", NewSetHeader(1000, h1), "a1 63 736574 82 1903e8" + link1},
		{"blob empty", NewBlobHeader(0, chunks.Hash{}), "a1 64 626c6f62 81 00"},
		{"blob", NewBlobHeader(1<<32, h1), "a1 64 626c6f62 82 1b0000000100000000" + link1},
		{"blob of 2^64-1 bytes", NewBlobHeader(math.MaxUint64, h1), "a1 64 626c6f62 82 1bffffffffffffffff" + link1},
	}
}

func TestEncodeExactBytes(t *testing.T) {
	for _, tc := range encodingCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			want := unhex(t, tc.hex)
			got := mustEncode(t, tc.v)
			if !bytes.Equal(got, want) {
				t.Fatalf("Encode = %x, want %x", got, want)
			}
			checkEncoding(t, tc.v, got)
			back, _ := Decode(got)
			if again := mustEncode(t, back); !bytes.Equal(again, got) {
				t.Fatalf("Encode(Decode(b)) = %x, want %x", again, got)
			}
			if HashOf(tc.v) != chunks.Of(want) {
				t.Fatal("HashOf is not the hash of the encoding")
			}
		})
	}
}

func TestDecodeGivesTheRightTypes(t *testing.T) {
	// Equal is type-aware, but check the concrete types once explicitly:
	// the integral float 1.0 must stay a Float, and -0.0 decodes as +0.0.
	v, err := Decode(unhex(t, "fb 3ff0000000000000"))
	if f, ok := v.(Float); err != nil || !ok || f != 1 {
		t.Fatalf("Decode(float 1) = %#v, %v", v, err)
	}
	v, _ = Decode(mustEncode(t, Float(math.Copysign(0, -1))))
	if f := v.(Float); math.Signbit(float64(f)) {
		t.Fatal("-0.0 did not normalise")
	}
	v, _ = Decode(unhex(t, "41 ff"))
	if b, ok := v.(Bytes); !ok || !bytes.Equal(b.Bytes(), []byte{0xff}) {
		t.Fatalf("Decode(bytes) = %#v", v)
	}
}

func TestAppendEncode(t *testing.T) {
	prefix := []byte("prefix")
	out, err := AppendEncode(prefix, Int(1))
	if err != nil || string(out) != "prefix\x01" {
		t.Fatalf("AppendEncode = %q, %v", out, err)
	}
	// On error the original length comes back, even if the failure is deep
	// inside a struct after some bytes were appended.
	bad := mustStruct(t, "", map[string]Value{"a": Int(1), "zz": Float(math.NaN())})
	out, err = AppendEncode(prefix, bad)
	if err == nil || string(out) != "prefix" {
		t.Fatalf("AppendEncode(invalid) = %q, %v", out, err)
	}
}

func TestEncodeRefusesInvalidValues(t *testing.T) {
	nested := mustStruct(t, "", map[string]Value{"inner": mustStruct(t, "", map[string]Value{"bad": String("\xff")})})
	cases := []struct {
		name string
		v    Value
		msg  string // part of the error text, so the error says what is wrong
	}{
		{"nil", nil, "nil"},
		{"NaN", Float(math.NaN()), "NaN"},
		{"+Inf", Float(math.Inf(1)), "Inf"},
		{"-Inf", Float(math.Inf(-1)), "Inf"},
		{"invalid UTF-8", String("a\xffb"), "UTF-8"},
		{"zero ref", NewRef(chunks.Hash{}), "zero hash"},
		{"nested path", nested, "field inner: field bad:"},
		{"list count without root", NewListHeader(1, chunks.Hash{}), "no root"},
		{"map root without count", NewMapHeader(0, h1), "empty map"},
		{"set count without root", NewSetHeader(5, chunks.Hash{}), "no root"},
		{"blob root without length", NewBlobHeader(0, h1), "empty blob"},
		{"foreign type", foreign{}, "not a value type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.v)
			if !errors.Is(err, ErrInvalidValue) {
				t.Fatalf("Encode = %x, %v; want ErrInvalidValue", b, err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "encoding value: ") {
				t.Fatalf("error %q does not say %q", err, tc.msg)
			}
			if tc.v == nil {
				return
			}
			if h := HashOf(tc.v); !h.IsEmpty() {
				t.Fatalf("HashOf of an unencodable value = %s, want the zero hash", h)
			}
		})
	}
}

// foreign gets the Value methods by embedding, which the seal cannot stop;
// it must be refused rather than encoded as an Int.
type foreign struct{ Int }

// nestStructs returns n structs nested inside each other, with leaf at
// the bottom.
func nestStructs(n int, leaf Value) Value {
	v := leaf
	for i := 0; i < n; i++ {
		v = Struct{}.Set("f", v)
	}
	return v
}

func TestMaxDepth(t *testing.T) {
	if 2*MaxDepth > dagcbor.MaxDepth {
		t.Fatalf("MaxDepth %d leaves no room under dagcbor.MaxDepth %d", MaxDepth, dagcbor.MaxDepth)
	}
	// A struct at depth d occupies d..d+2 and its field values sit at d+3;
	// a header at depth d occupies d..d+1. The deepest encodable chains:
	deepStructs := (MaxDepth - 3) / 3 // struct k at 3k needs 3k+2 < MaxDepth
	deepest := []Value{
		nestStructs(deepStructs+1, Int(1)),
		nestStructs(deepStructs, NewListHeader(1, h1)), // header at 3*deepStructs
	}
	if 3*deepStructs+1 >= MaxDepth {
		t.Fatal("test arithmetic is wrong")
	}
	for _, v := range deepest {
		b := mustEncode(t, v)
		checkEncoding(t, v, b)
		// Room to spare: embedded in a prolly node [level, [entries]] it
		// still validates.
		node := append([]byte{0x82, 0x00, 0x81}, b...)
		if err := dagcbor.Validate(node); err != nil {
			t.Fatalf("value at MaxDepth inside a node: %v", err)
		}
	}
	tooDeep := []Value{
		nestStructs(deepStructs+2, Int(1)),
		nestStructs(deepStructs+1, NewListHeader(1, h1)),
	}
	if 3*(deepStructs+1)+1 < MaxDepth {
		t.Fatal("test arithmetic is wrong")
	}
	for _, v := range tooDeep {
		if _, err := Encode(v); !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), "MaxDepth") {
			t.Fatalf("Encode of a too-deep value: %v", err)
		}
	}
}

func TestRandomValuesRoundTrip(t *testing.T) {
	g := newGen(1)
	for i := 0; i < 3000; i++ {
		v := g.value(3)
		b := mustEncode(t, v)
		checkEncoding(t, v, b)
		back, _ := Decode(b)
		if again := mustEncode(t, back); !bytes.Equal(again, b) {
			t.Fatalf("Encode(Decode(b)) = %x, want %x", again, b)
		}
		if HashOf(v) != chunks.Of(b) {
			t.Fatal("HashOf is not the hash of the encoding")
		}
	}
}

func TestLinks(t *testing.T) {
	s := mustStruct(t, "", map[string]Value{
		"b":    NewRef(h2),
		"aa":   NewListHeader(0, chunks.Hash{}), // empty: no link
		"ccc":  mustStruct(t, "", map[string]Value{"x": NewSetHeader(2, h1), "y": Int(5)}),
		"dddd": NewRef(h2), // duplicates are kept: Links mirrors the encoding
	})
	got := Links(s)
	want := []chunks.Hash{h2, h1, h2} // canonical field order: b, aa, ccc, dddd
	if len(got) != len(want) {
		t.Fatalf("Links = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Links = %v, want %v", got, want)
		}
	}
	checkEncoding(t, s, mustEncode(t, s))
	if Links(Int(3)) != nil || Links(NewBlobHeader(0, chunks.Hash{})) != nil {
		t.Fatal("values without links should give nil")
	}
}

func TestKindString(t *testing.T) {
	want := []string{"Bool", "Int", "Float", "String", "Bytes", "Ref", "Struct", "List", "Map", "Set", "Blob"}
	vals := []Value{Bool(false), Int(0), Float(0), String(""), Bytes(""), NewRef(h1), Struct{}, List{}, Map{}, Set{}, Blob{}}
	for i, v := range vals {
		if v.Kind() != Kind(i) || v.Kind().String() != want[i] {
			t.Fatalf("%#v: Kind %d %q, want %d %q", v, v.Kind(), v.Kind(), i, want[i])
		}
	}
	if s := Kind(200).String(); s != "Kind(200)" {
		t.Fatalf("Kind(200).String() = %q", s)
	}
}
