package chunks

import (
	"errors"
	"strings"
	"testing"
)

func TestHashKnownValue(t *testing.T) {
	// SHA-512("") starts cf83e135...; its first 20 bytes in base32 0-9a-v,
	// computed independently with Python's hashlib and base64.
	const empty = "pu1u2dbutusbrsak518dcrc00vb21p05"
	if got := Of(nil).String(); got != empty {
		t.Fatalf("Of(nil) = %s, want %s", got, empty)
	}
}

func TestHashStringParseRoundTrip(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("abc"), []byte(strings.Repeat("x", 5000))} {
		h := Of(in)
		s := h.String()
		if len(s) != HashStringLen {
			t.Fatalf("String() has %d characters", len(s))
		}
		p, err := Parse(s)
		if err != nil || p != h {
			t.Fatalf("Parse(%q) = %v, %v; want %v", s, p, err, h)
		}
		if p2, err := Parse("#" + s); err != nil || p2 != h {
			t.Fatalf("Parse with # prefix failed: %v", err)
		}
	}
	var zero Hash
	if zero.String() != strings.Repeat("0", 32) || !zero.IsEmpty() {
		t.Fatalf("zero hash = %s", zero)
	}
}

func TestHashStringSortsLikeBytes(t *testing.T) {
	a, b := Of([]byte("a")), Of([]byte("b"))
	if (a.String() < b.String()) != a.Less(b) {
		t.Fatal("text order differs from byte order")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "0 characters"},
		{"abc", "3 characters"},
		{strings.Repeat("0", 33), "33 characters"},
		{strings.Repeat("0", 31) + "w", `'w' at position 31`},
		{strings.Repeat("0", 31) + "A", `'A' at position 31`},
		{"#" + strings.Repeat("0", 30) + "é", "position 30"},
	} {
		_, err := Parse(tc.in)
		if !errors.Is(err, ErrInvalidHash) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v; want ErrInvalidHash mentioning %q", tc.in, err, tc.want)
		}
	}
}

func TestHashFromBytes(t *testing.T) {
	h := Of([]byte("x"))
	if got, err := HashFromBytes(h[:]); err != nil || got != h {
		t.Fatalf("HashFromBytes = %v, %v", got, err)
	}
	if _, err := HashFromBytes(h[:19]); !errors.Is(err, ErrInvalidHash) {
		t.Fatalf("HashFromBytes(19 bytes) = %v", err)
	}
}

func TestTextMarshal(t *testing.T) {
	h := Of([]byte("y"))
	b, _ := h.MarshalText()
	var back Hash
	if err := back.UnmarshalText(b); err != nil || back != h {
		t.Fatalf("text round trip: %v %v", back, err)
	}
	if err := back.UnmarshalText([]byte("zz")); err == nil {
		t.Fatal("UnmarshalText accepted junk")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Of(nil).String())
	f.Add("#0000")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			return
		}
		if got := h.String(); strings.TrimPrefix(s, "#") != got {
			// Every accepted text must be the canonical form of its hash,
			// or two strings would name one chunk. The last character
			// carries 5 bits, all used, so the form is unique.
			t.Fatalf("Parse(%q) = %s", s, got)
		}
	})
}
