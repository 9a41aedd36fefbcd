package value

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

func fromJSON(t testing.TB, st Store, s string) Value {
	t.Helper()
	v, err := FromJSON(context.Background(), st, []byte(s))
	if err != nil {
		t.Fatalf("FromJSON(%s): %v", s, err)
	}
	return v
}

func toJSON(t testing.TB, st Store, v Value) string {
	t.Helper()
	b, err := ToJSON(context.Background(), st, v)
	if err != nil {
		t.Fatalf("ToJSON(%#v): %v", v, err)
	}
	return string(b)
}

func TestJSONNestedDocumentRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := chunks.NewMemoryStore()
	in := `{"title": "groceries", "done": false, "count": 3, "ratio": 0.5,
		"items": [{"name": "milk", "qty": 2}, {"name": "eggs", "qty": 12, "tags": ["fresh", "<&>"]}],
		"nested": {"deeper": {"deepest": [[], {}, 1.0, -7, 1e3]}}}`
	v := fromJSON(t, st, in)
	m, ok := v.(Map)
	if !ok || m.Len() != 6 {
		t.Fatalf("got %#v, want a Map of 6", v)
	}
	for key, want := range map[string]Value{"title": String("groceries"), "done": Bool(false), "count": Int(3), "ratio": Float(0.5)} {
		got, found, err := m.Get(ctx, st, String(key))
		if err != nil || !found || !Equal(got, want) {
			t.Errorf("%s = %#v (%v, %v), want %#v", key, got, found, err, want)
		}
	}
	items, _, _ := m.Get(ctx, st, String("items"))
	if l, ok := items.(List); !ok || l.Len() != 2 {
		t.Fatalf("items = %#v, want a List of 2", items)
	}
	// Keys in the map's order, bytewise; 1.0 and 1e3 stay Floats.
	want := `{"count":3,"done":false,"items":[{"name":"milk","qty":2},{"name":"eggs","qty":12,"tags":["fresh","<&>"]}],` +
		`"nested":{"deeper":{"deepest":[[],{},1.0,-7,1000.0]}},"ratio":0.5,"title":"groceries"}`
	got := toJSON(t, st, v)
	if got != want {
		t.Fatalf("ToJSON =\n%s\nwant\n%s", got, want)
	}
	if back := fromJSON(t, st, got); !Equal(back, v) {
		t.Fatalf("FromJSON(ToJSON(v)) = %#v, want %#v", back, v)
	}
}

func TestJSONNumbers(t *testing.T) {
	st := chunks.NewMemoryStore()
	for _, tc := range []struct {
		in   string
		want Value
		out  string
	}{
		{"0", Int(0), "0"},
		{"-0", Int(0), "0"},
		{"42", Int(42), "42"},
		{"9223372036854775807", Int(math.MaxInt64), "9223372036854775807"},
		{"-9223372036854775808", Int(math.MinInt64), "-9223372036854775808"},
		// Exact integers beyond float64's 2^53 stay exact.
		{"9007199254740993", Int(9007199254740993), "9007199254740993"},
		{"9223372036854775808", Float(9223372036854775808), "9223372036854776000.0"}, // shortest form that parses back exactly
		{"1.0", Float(1), "1.0"},
		{"-0.0", Float(0), "0.0"},
		{"1e3", Float(1000), "1000.0"},
		{"0.1", Float(0.1), "0.1"},
		{"1.5e300", Float(1.5e300), "1.5e+300"},
		{"1e-7", Float(1e-7), "1e-07"},
		{"1e-400", Float(0), "0.0"},
	} {
		v := fromJSON(t, st, tc.in)
		if !Equal(v, tc.want) {
			t.Errorf("FromJSON(%s) = %#v, want %#v", tc.in, v, tc.want)
			continue
		}
		if got := toJSON(t, st, v); got != tc.out {
			t.Errorf("ToJSON(%#v) = %s, want %s", v, got, tc.out)
		}
	}
	if _, err := FromJSON(context.Background(), st, []byte("1e400")); !errors.Is(err, ErrInvalidJSON) || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("1e400: %v", err)
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := ToJSON(context.Background(), st, Float(f)); !errors.Is(err, ErrNoJSON) {
			t.Errorf("ToJSON(%v): %v, want ErrNoJSON", f, err)
		}
	}
}

func TestJSONStrings(t *testing.T) {
	st := chunks.NewMemoryStore()
	s := String("quote \" backslash \\ newline \n tab \t nul \x00 bell \x07 <html> & é 日本 \u2028")
	got := toJSON(t, st, s)
	want := `"quote \" backslash \\ newline \n tab \t nul \u0000 bell \u0007 <html> & é 日本 ` + "\u2028" + `"`
	if got != want {
		t.Fatalf("ToJSON = %s, want %s", got, want)
	}
	if back := fromJSON(t, st, got); !Equal(back, s) {
		t.Fatalf("round trip: %#v", back)
	}
	if _, err := ToJSON(context.Background(), st, String("\xff")); !errors.Is(err, ErrNoJSON) {
		t.Fatalf("invalid UTF-8: %v", err)
	}
}

func TestJSONLinksAndBytes(t *testing.T) {
	ctx := context.Background()
	st := chunks.NewMemoryStore()
	ref := NewRef(h1)
	bs := NewBytes([]byte{0, 1, 2, 0xfe, 0xff})
	m, err := NewMap(ctx, st, MapEntry{String("ref"), ref}, MapEntry{String("bytes"), bs})
	if err != nil {
		t.Fatal(err)
	}
	got := toJSON(t, st, m)
	want := `{"bytes":{"/":{"bytes":"AAEC/v8"}},"ref":{"/":"` + h1.CID().String() + `"}}`
	if got != want {
		t.Fatalf("ToJSON = %s, want %s", got, want)
	}
	if back := fromJSON(t, st, got); !Equal(back, m) {
		t.Fatalf("round trip: %#v", back)
	}
	// Padded base64 is accepted too.
	if v := fromJSON(t, st, `{"/": {"bytes": "AAEC/v8="}}`); !Equal(v, bs) {
		t.Fatalf("padded bytes: %#v", v)
	}
	// "/" among other keys is an ordinary key.
	v := fromJSON(t, st, `{"/": "x", "a": {"/": [1], "b": 2}}`)
	if got := toJSON(t, st, v); got != `{"/":"x","a":{"/":[1],"b":2}}` {
		t.Fatalf("ordinary \"/\" key: %s", got)
	}
	// A Map with "/" as its only key would read back as a link.
	lone, err := NewMap(ctx, st, MapEntry{String("/"), String(h1.CID().String())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ToJSON(ctx, st, lone); !errors.Is(err, ErrNoJSON) {
		t.Fatalf("lone \"/\" key: %v", err)
	}
}

func TestJSONOtherKinds(t *testing.T) {
	ctx := context.Background()
	st := chunks.NewMemoryStore()
	set, err := NewSet(ctx, st, Int(3), Int(1), Int(2))
	if err != nil {
		t.Fatal(err)
	}
	if got := toJSON(t, st, set); got != "[1,2,3]" {
		t.Errorf("Set: %s", got)
	}
	s := mustStruct(t, "Person", map[string]Value{"name": String("Ada"), "born": Int(1815), "tags": set})
	if got := toJSON(t, st, s); got != `{"born":1815,"name":"Ada","tags":[1,2,3]}` {
		t.Errorf("Struct: %s", got)
	}
	if got := toJSON(t, st, Struct{}); got != "{}" {
		t.Errorf("empty Struct: %s", got)
	}
	intKeys, err := NewMap(ctx, st, MapEntry{Int(1), String("one")})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := NewBlob(ctx, st, strings.NewReader("some bytes"))
	if err != nil {
		t.Fatal(err)
	}
	nested, err := NewList(ctx, st, String("ok"), blob)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		v   Value
		msg string
	}{
		"int keys":  {intKeys, "Map key of kind Int"},
		"blob":      {blob, "Blob (10 bytes)"},
		"in a list": {nested, "at [1]: a Blob"},
		"nil":       {nil, "absent"},
		"zero ref":  {Ref{}, "zero hash"},
	} {
		_, err := ToJSON(ctx, st, tc.v)
		if !errors.Is(err, ErrNoJSON) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrNoJSON mentioning %q", name, err, tc.msg)
		}
	}
}

func TestJSONDepthLimit(t *testing.T) {
	ctx := context.Background()
	st := chunks.NewMemoryStore()
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	v := fromJSON(t, st, nest(MaxJSONDepth))
	if got := toJSON(t, st, v); got != nest(MaxJSONDepth) {
		t.Fatalf("round trip at the limit: %.40s...", got)
	}
	_, err := FromJSON(ctx, st, []byte(nest(MaxJSONDepth+1)))
	if !errors.Is(err, ErrInvalidJSON) || !strings.Contains(err.Error(), "nested deeper than 256") {
		t.Fatalf("one level too deep: %v", err)
	}
	// Bytes take two levels: at the limit they are refused both ways.
	deepBytes := strings.Repeat("[", MaxJSONDepth-1) + `{"/":{"bytes":"AA"}}` + strings.Repeat("]", MaxJSONDepth-1)
	if _, err := FromJSON(ctx, st, []byte(deepBytes)); !errors.Is(err, ErrInvalidJSON) {
		t.Fatalf("bytes past the limit: %v", err)
	}
	// Collections built in Go can nest deeper than JSON may.
	var deep Value = Int(1)
	for range MaxJSONDepth + 1 {
		l, err := NewList(ctx, st, deep)
		if err != nil {
			t.Fatal(err)
		}
		deep = l
	}
	if _, err := ToJSON(ctx, st, deep); !errors.Is(err, ErrNoJSON) || !strings.Contains(err.Error(), "nested deeper") {
		t.Fatalf("ToJSON too deep: %v", err)
	}
}

func TestJSONInputErrors(t *testing.T) {
	st := chunks.NewMemoryStore()
	for _, tc := range []struct{ in, msg string }{
		{"", "no value"},
		{"   ", "no value"},
		{"null", "no null"},
		{`{"a": [1, null]}`, `at key "a"`},
		{"{bad", "invalid character"},
		{`{"a": 1`, "unexpected EOF"},
		{"[1, 2", "unexpected EOF"},
		{"1 2", "more data after the value"},
		{`{} x`, "more data after the value"},
		{`{"a": 1, "a": 2}`, `duplicate key "a"`},
		{`{"/": "not a cid"}`, "not a CID"},
		{`{"/": "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"}`, "want CIDv1, dag-cbor"},
		{`{"/": 1}`, `only key is "/"`},
		{`{"/": {"bytes": "!!"}}`, "illegal base64"},
		{`{"/": {"bytes": "AA", "x": 1}}`, `only key is "/"`},
		{"[1e999]", "out of range"},
		{"01", "more data"},
		{`"\ud800"`, ""}, // a lone surrogate is replaced, not refused: see below
	} {
		v, err := FromJSON(context.Background(), st, []byte(tc.in))
		if tc.msg == "" {
			if err != nil {
				t.Errorf("FromJSON(%q): %v", tc.in, err)
			} else if v != String("\ufffd") {
				t.Errorf("FromJSON(%q) = %#v", tc.in, v)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidJSON) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("FromJSON(%q) = %v, %v; want ErrInvalidJSON mentioning %q", tc.in, v, err, tc.msg)
		}
	}
}

func TestJSONCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := FromJSON(ctx, chunks.NewMemoryStore(), []byte(`[[1]]`)); !errors.Is(err, context.Canceled) {
		t.Fatalf("FromJSON with a cancelled context: %v", err)
	}
}

// FuzzFromJSON checks that FromJSON never panics, refuses bad input with
// ErrInvalidJSON, and that whatever it accepts ToJSON writes back as JSON
// that reads to the same value and writes to the same bytes again.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{
		`{"a": 1, "b": [true, false, "x", 1.5, -2, 1e3], "c": {}}`,
		`[[[]], {"": ""}, 9223372036854775808, -0.0, 1e-400]`,
		`{"/": "` + h1.CID().String() + `"}`,
		`{"/": {"bytes": "AAEC/v8"}}`,
		`{"/": "x", "y": null}`,
		`{"/": [1], "z": {"/": {"bytes": "AA=="}}}`,
		`"\u0000\ud800 é"`,
		`null`, `{"a":1,"a":2}`, `[1,`, `1 2`, `{"/": 3}`,
		strings.Repeat("[", 257) + strings.Repeat("]", 257),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		st := chunks.NewMemoryStore()
		v, err := FromJSON(ctx, st, data)
		if err != nil {
			if !errors.Is(err, ErrInvalidJSON) {
				t.Fatalf("FromJSON(%q): error %v does not wrap ErrInvalidJSON", data, err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("FromJSON accepted invalid JSON %q", data)
		}
		out, err := ToJSON(ctx, st, v)
		if err != nil {
			t.Fatalf("FromJSON(%q) accepted, ToJSON refused: %v", data, err)
		}
		if !json.Valid(out) {
			t.Fatalf("ToJSON wrote invalid JSON %q", out)
		}
		back, err := FromJSON(ctx, st, out)
		if err != nil {
			t.Fatalf("FromJSON(ToJSON(FromJSON(%q))) = %q: %v", data, out, err)
		}
		if !Equal(back, v) {
			t.Fatalf("round trip of %q through %q: %#v, want %#v", data, out, back, v)
		}
		again, err := ToJSON(ctx, st, back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("ToJSON not stable: %q then %q (%v)", out, again, err)
		}
	})
}
