package prolly

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	cid "github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

// TestLinkIsCID checks the hand-made link encoding against go-cid.
func TestLinkIsCID(t *testing.T) {
	h := chunks.Of([]byte("a node"))
	l := appendLink(nil, h)
	if len(l) != linkSize {
		t.Fatalf("link has %d bytes, want %d", len(l), linkSize)
	}
	if err := dagcbor.Validate(l); err != nil {
		t.Fatal(err)
	}
	var got cid.Cid
	if err := dagcbor.Links(l, func(c cid.Cid) error { got = c; return nil }); err != nil {
		t.Fatal(err)
	}
	want := cid.NewCidV1(cid.DagCBOR, mh.Multihash(append([]byte{mh.SHA2_512, chunks.HashLen}, h[:]...)))
	if !got.Equals(want) {
		t.Fatalf("link holds CID %s, want %s", got, want)
	}
}

// TestNodeLayout pins the bytes of small nodes of each shape
// (docs/datamodel.md).
func TestNodeLayout(t *testing.T) {
	st := newCheckStore(t)
	one, two := text("a"), appendHead(nil, majorUint, 2)
	leaf := func(tr Tree) string {
		c, err := st.Get(ctx, tr.Root)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(c.Data())
	}
	m, _ := BuildFromUnsorted(ctx, st, MapShape, cmpText, []Entry{{Key: one, Value: two}})
	s, _ := BuildFromUnsorted(ctx, st, SetShape, cmpText, []Entry{{Key: one}})
	l, _ := BuildFromUnsorted(ctx, st, ListShape, nil, []Entry{{Value: one}, {Value: two}})
	b := buildBlob(t, st, []byte("hi"))
	for _, tc := range []struct{ name, got, want string }{
		{"map", leaf(m), "8200" + "82" + "6161" + "02"},
		{"set", leaf(s), "8200" + "81" + "6161"},
		{"list", leaf(l), "8200" + "82" + "6161" + "02"},
		{"blob", leaf(b), "8200" + "42" + "6869"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s leaf = %s, want %s", tc.name, tc.got, tc.want)
		}
	}
	// An internal node: [1, [lastKey, link, count, ...]].
	useConfig(t, testConfig)
	model := map[string]string{}
	for i := range 100 {
		model[fmt.Sprintf("k%03d", i)] = "v"
	}
	tr := buildMap(t, st, model)
	c, _ := st.Get(ctx, tr.Root)
	n, err := decodeNode(c.Data(), MapShape)
	if err != nil || n.level == 0 {
		t.Fatalf("root: level %v, %v", n, err)
	}
	wantPrefix := fmt.Sprintf("82%02x%02x", n.level, 0x80|3*len(n.items))
	if len(n.items)*3 >= 24 {
		wantPrefix = fmt.Sprintf("82%02x98%02x", n.level, 3*len(n.items))
	}
	wantPrefix += hex.EncodeToString(n.items[0].key) + hex.EncodeToString(appendLink(nil, n.items[0].link))
	if got := hex.EncodeToString(c.Data()); !strings.HasPrefix(got, wantPrefix) {
		t.Fatalf("internal node %s does not start %s", got, wantPrefix)
	}
}

// TestFormatIsStable pins root hashes: a change here changes every tree
// ever written, which must be deliberate.
func TestFormatIsStable(t *testing.T) {
	st := newCheckStore(t)
	model := map[string]string{}
	var list []string
	for i := range 20000 {
		model[fmt.Sprintf("key%05d", i)] = fmt.Sprintf("value %d", i*7)
		list = append(list, fmt.Sprintf("item %d", i))
	}
	blob := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(42, 42))
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name string
		tr   Tree
		want string
	}{
		{"map", buildMap(t, st, model), goldenMap},
		{"list", buildList(t, st, list), goldenList},
		{"blob", buildBlob(t, st, blob), goldenBlob},
	} {
		if got := tc.tr.Root.String(); got != tc.want {
			t.Errorf("%s root = %s, want %s", tc.name, got, tc.want)
		}
	}
}

const (
	goldenMap  = "e9ut187ifs99ipcu003545m5ar4v5ekp"
	goldenList = "oo7n5kofmkqdaub8vdb8r87d5d66v03g"
	goldenBlob = "790le6t08g3b1c8vbf71e6j7hb5q2rkp"
)

// TestCutProbability checks the portable 1-e^-d against math.Expm1.
func TestCutProbability(t *testing.T) {
	for _, d := range []float64{0, 1e-12, 1e-6, 0.001, 0.1, 0.4999, 0.5, 0.75, 1, 2, 5, 10, 20, 39.9, 40, 100} {
		got, want := cutProbability(d), -math.Expm1(-d)
		if math.Abs(got-want) > 1e-14 {
			t.Errorf("cutProbability(%g) = %.17g, want %.17g", d, got, want)
		}
	}
	prev := 0.0
	for d := 0.0; d < 45; d += 0.01 {
		p := cutProbability(d)
		if p < prev || p > 1 {
			t.Fatalf("cutProbability not monotonic in [0,1] at %g: %g after %g", d, p, prev)
		}
		prev = p
	}
}

// TestGearTable pins the gear table, part of the format.
func TestGearTable(t *testing.T) {
	if gear[0] != goldenGear0 || gear[255] != goldenGear255 {
		t.Fatalf("gear[0] = %#x, gear[255] = %#x", gear[0], gear[255])
	}
}

const (
	goldenGear0   = 0xfa0a8ce51eb1a1b6
	goldenGear255 = 0x946472f75ff62c69
)

// TestNodeSizes checks that the Weibull rule gives leaves near the target
// and no big ones.
func TestNodeSizes(t *testing.T) {
	st := newCheckStore(t)
	b := NewBuilder(ctx, st, MapShape, bytes.Compare)
	for i := range 200000 {
		if err := b.Add(Entry{Key: bigKey(i), Value: appendHead(nil, majorUint, uint64(i))}); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := b.Done()
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	w := &leafWalker{st: st, shape: MapShape}
	if err := w.walk(tr.Root, func(n *node) {
		s := 0
		for _, it := range n.items {
			s += len(it.key) + len(it.val)
		}
		sizes = append(sizes, s)
	}); err != nil {
		t.Fatal(err)
	}
	total, biggest, small := 0, 0, 0
	for _, s := range sizes[:len(sizes)-1] { // the last leaf is cut by the end
		total += s
		biggest = max(biggest, s)
		if s < TargetNodeSize/4 {
			small++
		}
	}
	mean := total / (len(sizes) - 1)
	t.Logf("%d leaves: mean %d bytes, largest %d, %d under a quarter of the target", len(sizes), mean, biggest, small)
	if mean < TargetNodeSize*9/10 || mean > TargetNodeSize*11/10 || biggest > 3*TargetNodeSize || small > len(sizes)/50 {
		t.Errorf("leaf sizes off target %d", TargetNodeSize)
	}
}

// validNodes returns encoded nodes of every shape and level, for the
// decoder's tests and the fuzzer's seeds.
func validNodes(t testing.TB) map[Shape][][]byte {
	st := newCheckStore(t)
	old := cfg
	cfg = testConfig
	defer func() { cfg = old }()
	model := map[string]string{}
	var list []string
	for i := range 300 {
		model[fmt.Sprintf("k%d", i)] = fmt.Sprintf("v%d", i)
		list = append(list, fmt.Sprint(i))
	}
	trees := map[Shape]Tree{
		MapShape:  buildMap(t, st, model),
		ListShape: buildList(t, st, list),
		BlobShape: buildBlob(t, st, bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 100)),
	}
	var entries []Entry
	for k := range model {
		entries = append(entries, Entry{Key: text(k)})
	}
	trees[SetShape], _ = BuildFromUnsorted(ctx, st, SetShape, cmpText, entries)
	out := map[Shape][][]byte{}
	for shape, tr := range trees {
		var walk func(h chunks.Hash)
		walk = func(h chunks.Hash) {
			c, _ := st.Get(ctx, h)
			out[shape] = append(out[shape], c.Data())
			n, err := decodeNode(c.Data(), shape)
			if err != nil {
				t.Fatal(err)
			}
			if n.level > 0 {
				walk(n.items[0].link)
			}
		}
		walk(tr.Root)
	}
	return out
}

// reencode encodes a decoded node again.
func reencode(n *node, shape Shape) []byte {
	if n.level == 0 && shape == BlobShape {
		return encodeNode(0, true, 0, n.blob)
	}
	var body []byte
	items := 0
	for _, it := range n.items {
		switch {
		case n.level == 0:
			body = append(append(body, it.key...), it.val...)
			items++
			if shape == MapShape {
				items++
			}
		default:
			if shape.ordered() {
				body = append(body, it.key...)
				items++
			}
			body = appendHead(appendLink(body, it.link), majorUint, it.count)
			items += 2
		}
	}
	return encodeNode(n.level, false, items, body)
}

func TestDecodeNodeRoundTrip(t *testing.T) {
	for shape, nodes := range validNodes(t) {
		for _, data := range nodes {
			n, err := decodeNode(data, shape)
			if err != nil {
				t.Fatalf("%s: %v", shape, err)
			}
			if got := reencode(n, shape); !bytes.Equal(got, data) {
				t.Fatalf("%s level %d: re-encoded %x, was %x", shape, n.level, got, data)
			}
		}
	}
}

func TestDecodeNodeErrors(t *testing.T) {
	link := hex.EncodeToString(appendLink(nil, chunks.Of(nil)))
	badLink := "d82a5825" + "00" + "01711220" + strings.Repeat("00", 32) // sha2-256 CID
	for _, tc := range []struct {
		name  string
		shape Shape
		hex   string
	}{
		{"empty", MapShape, ""},
		{"not cbor", MapShape, "ff"},
		{"trailing bytes", MapShape, "82008161" + "6100"},
		{"not an array", MapShape, "a0"},
		{"array of 3", MapShape, "830081616100"},
		{"level not int", MapShape, "826161816161"},
		{"level too high", MapShape, "821831816161"},
		{"entries not array", MapShape, "82006161"},
		{"no entries", MapShape, "820080"},
		{"odd map leaf", MapShape, "82008161" + "61"},
		{"non-canonical int", ListShape, "8200811801"},
		{"blob leaf not bytes", BlobShape, "82008101"},
		{"empty blob leaf", BlobShape, "820040"},
		{"internal not triples", MapShape, "82018261" + "61" + link},
		{"internal not pairs", ListShape, "820181" + link},
		{"link not a link", ListShape, "82018201" + "01"},
		{"foreign link", ListShape, "820182" + badLink + "01"},
		{"zero count", ListShape, "820182" + link + "00"},
		{"count not int", ListShape, "820182" + link + "6161"},
		{"count overflow", ListShape, "820184" + link + "1bffffffffffffffff" + link + "01"},
		{"undefined in entry", SetShape, "820081f7"},
		{"truncated", SetShape, "8200826161"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := hex.DecodeString(tc.hex)
			if err != nil {
				data = []byte(tc.hex) // deliberately odd-length hex: garbage
			}
			if _, err := decodeNode(data, tc.shape); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("decodeNode(%s) error = %v, want ErrCorrupt", tc.hex, err)
			}
		})
	}
}

func FuzzDecodeNode(f *testing.F) {
	for _, nodes := range validNodes(f) {
		for _, n := range nodes {
			f.Add(n)
		}
	}
	f.Add([]byte{0x82, 0x00, 0x81, 0x61, 0x61})
	f.Add([]byte{0x82, 0x01, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, shape := range []Shape{MapShape, SetShape, ListShape, BlobShape} {
			n, err := decodeNode(data, shape)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s: error %v does not wrap ErrCorrupt", shape, err)
				}
				continue
			}
			// Whatever decodes re-encodes to the same bytes: nodes have one
			// encoding, and entries taken from them are strict DAG-CBOR.
			if got := reencode(n, shape); !bytes.Equal(got, data) {
				t.Fatalf("%s: re-encoded %x, was %x", shape, got, data)
			}
			for _, it := range n.items {
				for _, part := range [][]byte{it.key, it.val} {
					if part != nil {
						if err := checkItem(part, "entry"); err != nil {
							t.Fatalf("%s: decoded entry %x is invalid: %v", shape, part, err)
						}
					}
				}
			}
		}
	})
}
