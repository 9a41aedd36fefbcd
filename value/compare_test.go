package value

import (
	"bytes"
	"math"
	"slices"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// ascending lists values in strictly increasing order, one or more per
// rule of the order.
func ascending(t testing.TB) []Value {
	return []Value{
		Bool(false), Bool(true),
		// Numbers, exactly, with -2^63 and 2^63 at the int64 boundary and
		// 2^53 where float64 stops holding every integer.
		Float(-math.MaxFloat64), Float(-0x1p64),
		Int(math.MinInt64), Float(-0x1p63), // equal value: Int first
		Int(math.MinInt64 + 1),
		Int(-(1<<53 + 1)), Int(-(1 << 53)), Float(-0x1p53), Int(-(1<<53 - 1)),
		Float(-2.5), Int(-2), Float(-1.5), Int(-1), Float(-math.SmallestNonzeroFloat64),
		Int(0), Float(0), Float(math.SmallestNonzeroFloat64), Float(0.5),
		Int(1), Float(1), Float(1.5), Int(2),
		Int(1<<53 - 1), Int(1 << 53), Float(0x1p53), Int(1<<53 + 1), Float(0x1p53 + 2),
		Int(math.MaxInt64 - 1), Int(math.MaxInt64), Float(0x1p63), Float(0x1p64), Float(math.MaxFloat64),
		// Strings bytewise (not length-first, unlike their encodings).
		String(""), String("B"), String("a"), String("aaaaaaaaaaaaaaaaaaaaaaaaaaaa"), String("ab"), String("b"), String("é"),
		Bytes(""), Bytes("\x00"), Bytes("a"), Bytes("b\x00"), Bytes("\xff"),
		NewRef(mustHash("0000000000000000000000000000000000000001")), NewRef(h1), NewRef(h2),
	}
}

// hashOrdered returns structs and collections sorted as the order wants:
// by kind, then by hash.
func hashOrdered(t testing.TB) []Value {
	var out []Value
	for _, group := range [][]Value{
		{Struct{}, mustStruct(t, "P", nil), mustStruct(t, "", map[string]Value{"a": Int(1)})},
		{NewListHeader(0, chunks.Hash{}), NewListHeader(1, h1), NewListHeader(2, h1)},
		{NewMapHeader(0, chunks.Hash{}), NewMapHeader(1, h1), NewMapHeader(1, h2)},
		{NewSetHeader(0, chunks.Hash{}), NewSetHeader(1, h1), NewSetHeader(3, h2)},
		{NewBlobHeader(0, chunks.Hash{}), NewBlobHeader(1, h1), NewBlobHeader(10, h2)},
	} {
		slices.SortFunc(group, func(a, b Value) int { return chunks.Of(mustEncode(t, a)).Compare(chunks.Of(mustEncode(t, b))) })
		out = append(out, group...)
	}
	return out
}

func TestOrderTable(t *testing.T) {
	vals := append(ascending(t), hashOrdered(t)...)
	for i, a := range vals {
		ea := mustEncode(t, a)
		for j, b := range vals {
			eb := mustEncode(t, b)
			want := sign(i - j)
			if got := Compare(a, b); got != want {
				t.Errorf("Compare(%#v, %#v) = %d, want %d", a, b, got, want)
			}
			if got := CompareEncoded(ea, eb); got != want {
				t.Errorf("CompareEncoded(%x, %x) = %d, want %d", ea, eb, got, want)
			}
			if got := Equal(a, b); got != (i == j) {
				t.Errorf("Equal(%#v, %#v) = %v", a, b, got)
			}
		}
	}
}

func TestIntFloatExact(t *testing.T) {
	cases := []struct {
		i    int64
		f    float64
		want int
	}{
		// float64(1<<53 + 1) rounds to 2^53: a comparison through float64
		// would call these equal.
		{1<<53 + 1, 0x1p53, 1},
		{-(1<<53 + 1), -0x1p53, -1},
		// float64(MaxInt64) rounds up to 2^63, which no int64 reaches.
		{math.MaxInt64, 0x1p63, -1},
		{math.MaxInt64, math.Nextafter(0x1p63, 0), 1},
		{math.MinInt64, -0x1p63, -1}, // equal: Int first
		{math.MinInt64, math.Nextafter(-0x1p63, math.Inf(-1)), 1},
		{0, math.Copysign(0, -1), -1},
		{3, 2.9999999999999996, 1},
		{3, 3.0000000000000004, -1},
		{-3, -2.9999999999999996, -1},
		{-3, -3.0000000000000004, 1},
		{0, math.SmallestNonzeroFloat64, -1},
		{0, -math.SmallestNonzeroFloat64, 1},
		{math.MinInt64, -math.MaxFloat64, 1},
		{math.MaxInt64, math.MaxFloat64, -1},
	}
	for _, tc := range cases {
		if got := Compare(Int(tc.i), Float(tc.f)); got != tc.want {
			t.Errorf("Compare(Int(%d), Float(%v)) = %d, want %d", tc.i, tc.f, got, tc.want)
		}
		if got := Compare(Float(tc.f), Int(tc.i)); got != -tc.want {
			t.Errorf("Compare(Float(%v), Int(%d)) = %d, want %d", tc.f, tc.i, got, -tc.want)
		}
		if got := CompareEncoded(mustEncode(t, Int(tc.i)), mustEncode(t, Float(tc.f))); got != tc.want {
			t.Errorf("CompareEncoded(Int(%d), Float(%v)) = %d, want %d", tc.i, tc.f, got, tc.want)
		}
	}
}

// TestOrderProperties checks on random values that Compare is a strict
// total order consistent with the encoding, and that CompareEncoded is the
// same order.
func TestOrderProperties(t *testing.T) {
	g := newGen(2)
	n := 400
	if testing.Short() {
		n = 100
	}
	vals := make([]Value, n)
	encs := make([][]byte, n)
	for i := range vals {
		vals[i] = g.value(2)
		encs[i] = mustEncode(t, vals[i])
	}
	cmps := make([][]int, n)
	for i := range vals {
		cmps[i] = make([]int, n)
		for j := range vals {
			c := Compare(vals[i], vals[j])
			cmps[i][j] = c
			if c < -1 || c > 1 {
				t.Fatalf("Compare returned %d", c)
			}
			if ce := CompareEncoded(encs[i], encs[j]); ce != c {
				t.Fatalf("CompareEncoded(%x, %x) = %d, Compare = %d", encs[i], encs[j], ce, c)
			}
			if (c == 0) != bytes.Equal(encs[i], encs[j]) {
				t.Fatalf("Compare(%#v, %#v) = %d but encodings equal = %v", vals[i], vals[j], c, bytes.Equal(encs[i], encs[j]))
			}
			if Equal(vals[i], vals[j]) != (c == 0) {
				t.Fatalf("Equal disagrees with Compare on %#v, %#v", vals[i], vals[j])
			}
		}
	}
	for i := range vals {
		for j := range vals {
			if cmps[i][j] != -cmps[j][i] {
				t.Fatalf("not antisymmetric: %#v, %#v", vals[i], vals[j])
			}
		}
	}
	for k := 0; k < 200000; k++ {
		a, b, c := g.pick(n), g.pick(n), g.pick(n)
		if cmps[a][b] <= 0 && cmps[b][c] <= 0 && cmps[a][c] > 0 {
			t.Fatalf("not transitive: %#v <= %#v <= %#v but the first is above the last", vals[a], vals[b], vals[c])
		}
	}

	// Sorting by either comparison gives the same sequence, and the sorted
	// sequence is in order pairwise (which with antisymmetry rules out any
	// cycle among these values).
	byValue := slices.Clone(vals)
	slices.SortFunc(byValue, Compare)
	byEnc := slices.Clone(encs)
	slices.SortFunc(byEnc, CompareEncoded)
	for i := range byValue {
		if !bytes.Equal(mustEncode(t, byValue[i]), byEnc[i]) {
			t.Fatalf("position %d: sorted by Compare %x, by CompareEncoded %x", i, mustEncode(t, byValue[i]), byEnc[i])
		}
		for j := i + 1; j < len(byValue); j++ {
			if Compare(byValue[i], byValue[j]) > 0 {
				t.Fatalf("sorted values out of order at %d, %d", i, j)
			}
		}
	}
}

func TestNegativeZeroIsZero(t *testing.T) {
	negZero := Float(math.Copysign(0, -1))
	if !Equal(negZero, Float(0)) || Compare(negZero, Float(0)) != 0 || HashOf(negZero) != HashOf(Float(0)) {
		t.Fatal("-0.0 and 0.0 must be one value")
	}
}

// Values that cannot be stored still compare, deterministically and without
// panicking: an application's mistake must not crash it.
func TestCompareNeverPanicsOnValuesOutsideTheOrder(t *testing.T) {
	nanStruct := Struct{}.Set("f", Float(math.NaN()))
	cases := []struct {
		name string
		a, b Value
		want int
	}{
		{"NaN vs Float", Float(math.NaN()), Float(1), -1},
		{"Float vs NaN", Float(1), Float(math.NaN()), 1},
		{"Int vs NaN", Int(1), Float(math.NaN()), 1},
		{"NaN vs Int", Float(math.NaN()), Int(1), -1},
		{"NaN vs NaN", Float(math.NaN()), Float(math.NaN()), 0},
		{"nil", nil, Int(1), -1},
		{"nil second", Int(1), nil, 1},
		{"foreign", foreign{}, Bool(false), -1},
		{"unencodable struct", nanStruct, nanStruct, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Compare(tc.a, tc.b); got != tc.want {
				t.Fatalf("Compare = %d, want %d", got, tc.want)
			}
		})
	}
	if !HashOf(nanStruct).IsEmpty() {
		t.Fatal("an unencodable struct has a non-zero hash")
	}
	if !Equal(nil, nil) || Equal(nil, Int(0)) || Equal(Int(0), nil) {
		t.Fatal("Equal on nil: only two absents are equal")
	}
}

// TestCompareEncodedRobust feeds CompareEncoded bytes that are not
// encodings: no panic, and they sort after every value.
func TestCompareEncodedRobust(t *testing.T) {
	junk := [][]byte{nil, {}, {0x1c}, {0x18}, {0x19, 0x01}, {0x62, 0x61}, {0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0},
		{0xd8, 0x2a}, {0xa1}, {0xa1, 0x61, 0x61}, {0xa2}, {0x80}, {0xf6}, {0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0}, {0x00, 0x00}}
	valid := append(ascending(t), hashOrdered(t)...)
	for _, j := range junk {
		for _, v := range valid {
			e := mustEncode(t, v)
			if CompareEncoded(j, e) != 1 || CompareEncoded(e, j) != -1 {
				t.Fatalf("junk %x does not sort after %x", j, e)
			}
		}
		if CompareEncoded(j, j) != 0 {
			t.Fatalf("CompareEncoded(%x, itself) != 0", j)
		}
	}
}

func TestCompareEncodedDoesNotAllocate(t *testing.T) {
	pairs := [][2]Value{
		{Bool(false), Bool(true)},
		{Int(-5), Int(1 << 40)},
		{Int(3), Float(3)},
		{Float(2.5), Float(-1)},
		{String("abcdefgh"), String("abcdefgi")},
		{Bytes("abc"), Bytes("abd")},
		{NewRef(h1), NewRef(h2)},
		{Int(1), String("a")},
		{mustStruct(t, "", map[string]Value{"a": Int(1)}), NewListHeader(1, h1)},
		// Same kind by hash: SHA-512 runs on the stack.
		{mustStruct(t, "", map[string]Value{"a": Int(1)}), mustStruct(t, "", map[string]Value{"a": Int(2)})},
	}
	for _, p := range pairs {
		a, b := mustEncode(t, p[0]), mustEncode(t, p[1])
		if n := testing.AllocsPerRun(100, func() { CompareEncoded(a, b) }); n != 0 {
			t.Errorf("CompareEncoded(%x, %x) allocates %v times", a, b, n)
		}
	}
}
