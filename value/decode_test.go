package value

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

const structKey = "a1 66 737472756374" // {"struct": ...

// rejectCases are inputs Decode must refuse, with a fragment of the error
// that says why. Many are valid DAG-CBOR, just not a value's canonical
// encoding; those are marked so the test can confirm that the value layer,
// not the CBOR layer, refuses them.
var rejectCases = []struct {
	name    string
	hex     string
	msg     string
	dagcbor bool // the input is valid DAG-CBOR
}{
	{"empty input", "", "end of input", false},
	{"trailing bytes", "00 00", "trailing", false},
	{"non-minimal int", "18 17", "non-minimal", false},
	{"non-minimal 2-byte int", "19 00ff", "non-minimal", false},
	{"non-minimal 8-byte negative", "3b 00000000ffffffff", "non-minimal", false},
	{"int above int64", "1b 8000000000000000", "above the Int range", true},
	{"int below int64", "3b 8000000000000000", "below the Int range", false},
	{"reserved additional info", "1c", "reserved", false},
	{"truncated int", "19 01", "truncated", false},
	{"null", "f6", "null", true},
	{"undefined", "f7", "simple value", false},
	{"simple value", "f8 20", "simple value", false},
	{"break", "ff", "break", false},
	{"half float", "f9 3c00", "64 bits", false},
	{"single float", "fa 3fc00000", "64 bits", false},
	{"NaN", "fb 7ff8000000000000", "NaN", false},
	{"+Inf", "fb 7ff0000000000000", "infinity", false},
	{"-Inf", "fb fff0000000000000", "infinity", false},
	{"-0.0", "fb 8000000000000000", "-0.0", true},
	{"truncated float", "fb 3ff00000", "truncated", false},
	{"invalid UTF-8 string", "62 c328", "UTF-8", false},
	{"string longer than input", "65 6162", "exceeds", false},
	{"huge string length", "7b 7fffffffffffffff 61", "exceeds", false},
	{"indefinite bytes", "5f 41 00 ff", "indefinite", false},
	{"indefinite string", "7f 61 61 ff", "indefinite", false},
	{"array", "80", "array in value position", true},
	{"array of int", "81 01", "array in value position", true},
	{"indefinite map", "bf ff", "one key", false},
	{"empty map", "a0", "one key", true},
	{"two-key map", "a2 61 61 01 61 62 02", "one key", true},
	{"unknown wrapper", "a1 65 6f74686572 00", "unknown type wrapper key \"other\"", true},
	{"wrapper key not text", "a1 01 01", "not a text string", false},
	{"wrapper key uppercase", "a1 64 4c495354 81 00", "unknown type wrapper", true},
	{"wrapped primitive", "a1 63 696e74 01", "unknown type wrapper", true},
	{"tag other than 42", "c1 00", "tag other than 42", false},
	{"tag 42 non-minimal head", "d9 002a 5819 00 01 71 13 14 0102030405060708090a0b0c0d0e0f1011121314", "tag other than 42", false},
	{"link without multibase prefix", "d82a 5818 01 71 13 14 0102030405060708090a0b0c0d0e0f1011121314", "not to a chunk", false},
	{"link with raw codec", "d82a 5819 00 01 55 13 14 0102030405060708090a0b0c0d0e0f1011121314", "not to a chunk", true},
	{"link with sha2-256", "d82a 5825 00 01 71 12 20 " + "0102030405060708090a0b0c0d0e0f10111213140102030405060708090a0b0c", "not to a chunk", true},
	{"link of CIDv0", "d82a 5823 00 12 20 0102030405060708090a0b0c0d0e0f10111213140102030405060708090a0b0c", "not to a chunk", true},
	{"link to zero hash", "d82a 5819 00 01 71 13 14 0000000000000000000000000000000000000000", "zero hash", true},
	{"truncated link", "d82a 5819 00 01 71 13 14 01020304", "not to a chunk", false},
	{"list arity 0", "a1 64 6c697374 80", "not [count, link]", true},
	{"list arity 3", "a1 64 6c697374 83 01 00 00", "not [count, link]", true},
	{"list not array", "a1 64 6c697374 00", "not [count, link]", true},
	{"count without link", "a1 64 6c697374 81 01", "without a root link", true},
	{"empty with link", "a1 64 6c697374 82 00 " + link1, "omits it", true},
	{"negative count", "a1 63 736574 81 20", "not an unsigned integer", true},
	{"count non-minimal", "a1 63 736574 81 1800", "non-minimal", false},
	{"link not a link", "a1 63 6d6170 82 01 00", "tag other than 42", true},
	{"null link", "a1 63 6d6170 82 01 f6", "tag other than 42", true},
	{"truncated header", "a1 64 626c6f62", "not [count, link]", false},
	{"struct not array", structKey + " a0", "2-element array", true},
	{"struct arity 1", structKey + " 81 60", "2-element array", true},
	{"struct arity 3", structKey + " 83 60 a0 00", "2-element array", true},
	{"struct name not text", structKey + " 82 00 a0", "struct name is not a text string", true},
	{"struct name not identifier", structKey + " 82 63 612d62 a0", "struct name \"a-b\"", true},
	{"struct name starts with digit", structKey + " 82 62 3161 a0", "struct name \"1a\"", true},
	{"struct fields not map", structKey + " 82 60 80", "not a map", true},
	{"struct field name empty", structKey + " 82 60 a1 60 01", "field name \"\"", true},
	{"struct field name not identifier", structKey + " 82 60 a1 61 2e 01", "field name \".\"", true},
	{"struct field name non-ASCII", structKey + " 82 60 a1 62 c3bc 01", "not an identifier", true},
	{"struct field null", structKey + " 82 60 a1 61 61 f6", "null", true},
	{"struct fields not canonical", structKey + " 82 60 a2 62 6161 01 61 62 02", "out of order", false},
	{"struct fields bytewise but not length-first", structKey + " 82 60 a2 61 62 01 61 61 02", "out of order", false},
	{"struct duplicate field", structKey + " 82 60 a2 61 61 01 61 61 02", "duplicate", false},
	{"struct huge field count", structKey + " 82 60 bb 7fffffffffffffff", "cannot fit", false},
	{"struct field count exceeds input", structKey + " 82 60 a3 61 61 01", "cannot fit", false},
	{"struct field missing", structKey + " 82 60 a2 61 61 01 00", "field name is not a text string", false},
	{"struct field value invalid", structKey + " 82 60 a1 61 61 fb 7ff8000000000000", "NaN", false},
}

func TestDecodeRejects(t *testing.T) {
	for _, tc := range rejectCases {
		t.Run(tc.name, func(t *testing.T) {
			b := unhex(t, tc.hex)
			v, err := Decode(b)
			if err == nil {
				t.Fatalf("Decode(%x) = %#v, want an error", b, v)
			}
			if !errors.Is(err, ErrInvalidEncoding) {
				t.Fatalf("error %v does not wrap ErrInvalidEncoding", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not mention %q", err, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "decoding value: ") {
				t.Fatalf("error %q does not say what failed", err)
			}
			if v != nil {
				t.Fatalf("Decode returned a value %#v with its error", v)
			}
			if verr := dagcbor.Validate(b); (verr == nil) != tc.dagcbor {
				t.Fatalf("dagcbor.Validate = %v; the case says valid DAG-CBOR = %v", verr, tc.dagcbor)
			}
		})
	}
}

func TestDecodeRejectsTooDeep(t *testing.T) {
	// Hand-built, so Decode's own check is tested rather than Encode's:
	// structs nested one level past the limit, with an empty struct inside.
	var b []byte
	depthOfInnermost := 0
	for depthOfInnermost+2 < MaxDepth {
		b = append(b, unhex(t, structKey+" 82 60 a1 61 66")...)
		depthOfInnermost += 3
	}
	b = append(b, unhex(t, structKey+" 82 60 a0")...)
	if _, err := Decode(b); !errors.Is(err, ErrInvalidEncoding) || !strings.Contains(err.Error(), "MaxDepth") {
		t.Fatalf("Decode of a too-deep struct: %v", err)
	}
	// Nesting far beyond any limit must be refused without exhausting the
	// stack.
	huge := bytes.Repeat(unhex(t, structKey+" 82 60 a1 61 66"), 100000)
	if _, err := Decode(huge); !errors.Is(err, ErrInvalidEncoding) {
		t.Fatalf("Decode of very deep input: %v", err)
	}
}

// TestDecodeTruncations refuses every proper prefix of every encoding in
// the table: an encoding never has a valid prefix.
func TestDecodeTruncations(t *testing.T) {
	for _, tc := range encodingCases(t) {
		b := unhex(t, tc.hex)
		for n := 0; n < len(b); n++ {
			if v, err := Decode(b[:n]); !errors.Is(err, ErrInvalidEncoding) {
				t.Fatalf("%s: Decode(%x) = %#v, %v; want ErrInvalidEncoding", tc.name, b[:n], v, err)
			}
		}
	}
}

// TestDecodeMutations changes every byte of every table encoding to every
// value: the result is either refused or a canonical encoding of some
// other value. A deterministic miniature of FuzzDecode.
func TestDecodeMutations(t *testing.T) {
	for _, tc := range encodingCases(t) {
		orig := unhex(t, tc.hex)
		b := append([]byte(nil), orig...)
		for i := range b {
			for x := 0; x < 256; x++ {
				b[i] = byte(x)
				checkDecodeIsCanonical(t, b)
			}
			b[i] = orig[i]
		}
	}
}

// checkDecodeIsCanonical checks Decode on arbitrary input: it errors with
// ErrInvalidEncoding, or it returns a value that encodes back to b.
func checkDecodeIsCanonical(t testing.TB, b []byte) Value {
	t.Helper()
	v, err := Decode(b)
	if err != nil {
		if !errors.Is(err, ErrInvalidEncoding) {
			t.Fatalf("Decode(%x): error %v does not wrap ErrInvalidEncoding", b, err)
		}
		return nil
	}
	enc, err := Encode(v)
	if err != nil {
		t.Fatalf("Decode(%x) accepted a value Encode refuses: %v", b, err)
	}
	if !bytes.Equal(enc, b) {
		t.Fatalf("Decode accepted a non-canonical encoding:\n in  %x\n out %x", b, enc)
	}
	return v
}

func TestDecodeCopiesInput(t *testing.T) {
	// Values must not alias the decoder's input: chunk buffers get reused.
	b := mustEncode(t, mustStruct(t, "N", map[string]Value{"s": String("abc"), "b": Bytes("xyz")}))
	v, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte(nil), b...)
	for i := range b {
		b[i] = 0
	}
	if got := mustEncode(t, v); !bytes.Equal(got, want) {
		t.Fatalf("decoded value changed with its input: %x, want %x", got, want)
	}
}
