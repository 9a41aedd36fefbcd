package value

import (
	"testing"

	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

// FuzzDecode checks that Decode never panics, refuses with
// ErrInvalidEncoding, and accepts only canonical encodings: accepted bytes
// pass dagcbor.Validate and go-ipld-prime's round trip, and re-encode to
// themselves. It also checks that CompareEncoded never panics on arbitrary
// bytes and agrees with Compare on whatever Decode accepts.
func FuzzDecode(f *testing.F) {
	for _, tc := range encodingCases(f) {
		f.Add(unhex(f, tc.hex))
	}
	for _, tc := range rejectCases {
		f.Add(unhex(f, tc.hex))
	}
	g := newGen(3)
	for i := 0; i < 50; i++ {
		f.Add(mustEncode(f, g.value(2)))
	}
	// Values to compare each accepted input with, one or more of each rank.
	probes := append(ascending(f), hashOrdered(f)...)
	probeEncs := make([][]byte, len(probes))
	for i, p := range probes {
		probeEncs[i] = mustEncode(f, p)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, pe := range probeEncs[:3] {
			CompareEncoded(data, pe)
			CompareEncoded(pe, data)
		}
		if CompareEncoded(data, data) != 0 {
			t.Fatalf("CompareEncoded(%x, itself) != 0", data)
		}
		v := checkDecodeIsCanonical(t, data)
		if v == nil {
			return
		}
		checkEncoding(t, v, data)
		for i, pe := range probeEncs {
			c := Compare(v, probes[i])
			if ce := CompareEncoded(data, pe); ce != c {
				t.Fatalf("CompareEncoded(%x, %x) = %d, Compare = %d", data, pe, ce, c)
			}
			if ce := CompareEncoded(pe, data); ce != -c {
				t.Fatalf("CompareEncoded(%x, %x) = %d, want %d", pe, data, ce, -c)
			}
		}
		if err := dagcbor.Validate(data); err != nil {
			t.Fatalf("accepted %x fails dagcbor.Validate: %v", data, err)
		}
	})
}
