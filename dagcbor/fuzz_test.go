package dagcbor

import (
	"errors"
	"testing"

	cid "github.com/ipfs/go-cid"
)

// FuzzValidate checks that no input panics, that Validate and Links agree,
// and that everything accepted is canonical DAG-CBOR as go-ipld-prime sees
// it: it decodes with default options and re-encodes to identical bytes,
// with the same links in the same order.
func FuzzValidate(f *testing.F) {
	for _, tc := range cases {
		f.Add(mustHex(f, tc.hex))
	}
	for _, d := range roundTripDocs(f) {
		f.Add(encode(f, d.node))
	}
	f.Add(benchDoc(f))
	f.Add(nested(MaxDepth))
	f.Add(nested(MaxDepth + 1))

	f.Fuzz(func(t *testing.T, data []byte) {
		err := Validate(data)
		n := 0
		lerr := Links(data, func(cid.Cid) error {
			n++
			return nil
		})
		if (err == nil) != (lerr == nil) {
			t.Fatalf("Validate = %v but Links = %v", err, lerr)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		checkAgainstIPLDPrime(t, data)
	})
}
