package merge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/value"
)

func TestPrimitivesAndOneSidedChanges(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT(t)
	for _, tc := range []struct {
		name          string
		anc, a, b     value.Value
		want          value.Value
		conflict      bool
		conflictPaths []string
	}{
		{"nothing changed", num(1), num(1), num(1), num(1), false, nil},
		{"ours changed", num(1), num(2), num(1), num(2), false, nil},
		{"theirs changed", num(1), num(1), num(3), num(3), false, nil},
		{"same change", num(1), str("x"), str("x"), str("x"), false, nil},
		{"both deleted", num(1), nil, nil, nil, false, nil},
		{"both added same", nil, num(5), num(5), num(5), false, nil},
		{"both changed", num(1), num(2), num(3), nil, true, []string{""}},
		{"both added differently", nil, num(2), num(3), nil, true, []string{""}},
		{"delete vs change", num(1), nil, num(3), nil, true, []string{""}},
		{"kinds differ", num(1), str("a"), value.Bool(true), nil, true, []string{""}},
		{"int vs float of equal value", num(0), num(1), value.Float(1), nil, true, []string{""}},
		{"refs", value.NewRef(chunks.Of([]byte("a"))), value.NewRef(chunks.Of([]byte("b"))), value.NewRef(chunks.Of([]byte("c"))), nil, true, []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Values(ctx, st, tc.anc, tc.a, tc.b, Fail)
			if tc.conflict {
				if !errors.Is(err, ErrConflict) || !slices.Equal(paths(conflictsOf(err)), tc.conflictPaths) {
					t.Fatalf("got %v, %v; want conflict at %q", v, err, tc.conflictPaths)
				}
				c := conflictsOf(err)[0]
				if !sameValue(c.Ancestor, tc.anc) || !sameValue(c.Ours, tc.a) || !sameValue(c.Theirs, tc.b) || c.Reason == "" {
					t.Fatalf("conflict = %+v", c)
				}
				return
			}
			if err != nil || !sameValue(v, tc.want) {
				t.Fatalf("got %v, %v; want %v", v, err, tc.want)
			}
		})
	}
}

func TestMapsMergeEntryByEntry(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT(t)
	anc := mustMap(t, st, str("a"), num(1), str("b"), num(2), str("c"), num(3), str("d"), num(4))
	ours := mustMap(t, st, str("a"), num(10), str("b"), num(2), str("c"), num(30), str("new1"), num(1))   // a, c changed; d deleted; new1 added
	theirs := mustMap(t, st, str("a"), num(1), str("b"), num(20), str("c"), num(30), str("new2"), num(2)) // b changed; c same change; d deleted; new2
	got := mustMerge(t, st, anc, ours, theirs, Fail)
	want := mustMap(t, st, str("a"), num(10), str("b"), num(20), str("c"), num(30), str("new1"), num(1), str("new2"), num(2))
	if !value.Equal(got, want) {
		t.Fatalf("merged %v, want %v", mapOf(t, st, got.(value.Map)), mapOf(t, st, want))
	}
	// The other way round: the same map, to the hash.
	if back := mustMerge(t, st, anc, theirs, ours, Fail); !value.Equal(back, got) {
		t.Fatal("merge(a, b) != merge(b, a)")
	}

	// Conflicts: all of them, with paths, in key order.
	ours2 := mustMap(t, st, str("a"), num(11), str("b"), num(2), str("c"), num(3), str("d"), num(40))
	theirs2 := mustMap(t, st, str("a"), num(12), str("c"), num(3), str("d"), num(41), str("e"), num(5))
	theirs2, _ = theirs2.Set(ctx, st, str("b"), num(22))
	theirs2, _ = theirs2.Delete(ctx, st, str("b"))
	ours2, _ = ours2.Delete(ctx, st, str("b")) // both deleted b: agreed
	_, err := Values(ctx, st, anc, ours2, theirs2, Fail)
	if got := paths(conflictsOf(err)); !slices.Equal(got, []string{`["a"]`, `["d"]`}) {
		t.Fatalf("conflicts at %q (%v), want a and d", got, err)
	}
	if err.Error() != `merge conflict at 2 paths: ["a"], ["d"]` {
		t.Fatalf("error text %q", err)
	}
	v := mustMerge(t, st, anc, ours2, theirs2, Ours)
	wantOurs := mustMap(t, st, str("a"), num(11), str("c"), num(3), str("d"), num(40), str("e"), num(5))
	if !value.Equal(v, wantOurs) {
		t.Fatalf("ours: %v", mapOf(t, st, v.(value.Map)))
	}
	v = mustMerge(t, st, anc, ours2, theirs2, Theirs)
	wantTheirs := mustMap(t, st, str("a"), num(12), str("c"), num(3), str("d"), num(41), str("e"), num(5))
	if !value.Equal(v, wantTheirs) {
		t.Fatalf("theirs: %v", mapOf(t, st, v.(value.Map)))
	}
}

func TestNestedConflictPathsAndRecursion(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT(t)
	inner := func(pairs ...value.Value) value.Map { return mustMap(t, st, pairs...) }
	person := func(name string, age int64, tags value.Set) value.Struct {
		return mustStruct(t, "Person", str("name"), str(name), str("age"), num(age), str("tags"), tags)
	}
	anc := mustStruct(t, "Root",
		str("todos"), inner(str("milk"), inner(str("done"), value.Bool(false), str("n"), num(1))),
		str("people"), inner(num(1), person("ada", 36, mustSet(t, st, str("x")))),
		str("title"), str("list"))
	ours := mustStruct(t, "Root",
		str("todos"), inner(str("milk"), inner(str("done"), value.Bool(true), str("n"), num(2))),
		str("people"), inner(num(1), person("ada", 37, mustSet(t, st, str("x"), str("y")))),
		str("title"), str("my list"))
	theirs := mustStruct(t, "Root",
		str("todos"), inner(str("milk"), inner(str("done"), value.Bool(false), str("n"), num(3))),
		str("people"), inner(num(1), person("ada", 38, mustSet(t, st, str("z")))),
		str("title"), str("list"),
		str("owner"), str("bob"))
	_, err := Values(ctx, st, anc, ours, theirs, Fail)
	want := []string{`.people[1].age`, `.todos["milk"]["n"]`}
	if got := paths(conflictsOf(err)); !slices.Equal(got, want) {
		t.Fatalf("conflicts at %q (%v), want %q", got, err, want)
	}
	// Deterministic resolves both; everything else merges.
	v := mustMerge(t, st, anc, ours, theirs, Deterministic)
	if back := mustMerge(t, st, anc, theirs, ours, Deterministic); !value.Equal(back, v) {
		t.Fatal("deterministic merge is not commutative")
	}
	root := v.(value.Struct)
	if o, _ := root.Get("owner"); !value.Equal(o, str("bob")) {
		t.Fatalf("owner = %v", o)
	}
	if o, _ := root.Get("title"); !value.Equal(o, str("my list")) {
		t.Fatalf("title = %v", o)
	}
	people, _ := root.Get("people")
	p, _, _ := people.(value.Map).Get(ctx, st, num(1))
	age, _ := p.(value.Struct).Get("age")
	tags, _ := p.(value.Struct).Get("tags")
	if !value.Equal(age, num(38)) {
		t.Fatalf("age = %v, want the larger, 38", age)
	}
	// ours added y, theirs removed x and added z.
	if got := setOf(t, st, tags.(value.Set)); !slices.EqualFunc(got, []value.Value{str("y"), str("z")}, value.Equal) {
		t.Fatalf("tags = %v", got)
	}
	todos, _ := root.Get("todos")
	milk, _, _ := todos.(value.Map).Get(ctx, st, str("milk"))
	if want := inner(str("done"), value.Bool(true), str("n"), num(3)); !value.Equal(milk, want) {
		t.Fatalf("milk = %v", mapOf(t, st, milk.(value.Map)))
	}
}

func TestConcurrentCreationMergesAgainstEmpty(t *testing.T) {
	st := chunks.NewMemoryStore()
	anc := mustStruct(t, "Root")
	a := mustStruct(t, "Root", str("m"), mustMap(t, st, str("x"), num(1)), str("s"), mustSet(t, st, num(1)), str("p"), mustStruct(t, "P", str("f"), num(1)), str("l"), mustList(t, st, num(1)))
	b := mustStruct(t, "Root", str("m"), mustMap(t, st, str("y"), num(2)), str("s"), mustSet(t, st, num(2)), str("p"), mustStruct(t, "P", str("g"), num(2)), str("l"), mustList(t, st, num(2)))
	v := mustMerge(t, st, anc, a, b, Fail)
	want := mustStruct(t, "Root",
		str("m"), mustMap(t, st, str("x"), num(1), str("y"), num(2)),
		str("s"), mustSet(t, st, num(1), num(2)),
		str("p"), mustStruct(t, "P", str("f"), num(1), str("g"), num(2)),
		str("l"), mustList(t, st, num(1), num(2)))
	if !value.Equal(v, want) {
		t.Fatalf("got %s, want %s", Describe(v), Describe(want))
	}
	// No common ancestor at all (nil): the same.
	if v := mustMerge(t, st, nil, b, a, Fail); !value.Equal(v, want) {
		t.Fatalf("got %s, want %s", Describe(v), Describe(want))
	}
	// An ancestor of another kind counts as empty too.
	if v := mustMerge(t, st, num(7), a, b, Fail); !value.Equal(v, want) {
		t.Fatalf("got %s, want %s", Describe(v), Describe(want))
	}
}

func TestStructs(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT(t)
	anc := mustStruct(t, "P", str("a"), num(1), str("b"), num(2), str("c"), num(3))
	a := mustStruct(t, "P", str("a"), num(10), str("b"), num(2))                  // a changed, c deleted
	b := mustStruct(t, "P", str("a"), num(1), str("b"), num(2), str("d"), num(4)) // c deleted, d added
	if v := mustMerge(t, st, anc, a, b, Fail); !value.Equal(v, mustStruct(t, "P", str("a"), num(10), str("b"), num(2), str("d"), num(4))) {
		t.Fatalf("got %s", Describe(v))
	}
	// Renamed differently: one conflict at the struct itself.
	_, err := Values(ctx, st, anc, mustStruct(t, "Q", str("a"), num(1)), mustStruct(t, "R", str("a"), num(1)), Fail)
	if got := paths(conflictsOf(err)); !slices.Equal(got, []string{""}) {
		t.Fatalf("conflicts %q", got)
	}
	// Delete vs change of a field: Deterministic keeps the change.
	del := anc.Delete("b")
	chg := anc.Set("b", num(20))
	for _, pair := range [][2]value.Value{{del, chg}, {chg, del}} {
		v := mustMerge(t, st, anc, pair[0], pair[1], Deterministic)
		if f, _ := v.(value.Struct).Get("b"); !value.Equal(f, num(20)) {
			t.Fatalf("b = %v, want the change to beat the deletion", f)
		}
	}
	// Ours keeps our deletion.
	v := mustMerge(t, st, anc, del, chg, Ours)
	if _, ok := v.(value.Struct).Get("b"); ok {
		t.Fatal("Ours did not keep our deletion")
	}
}

func TestSetsNeverConflict(t *testing.T) {
	st := chunks.NewMemoryStore()
	anc := mustSet(t, st, num(1), num(2), num(3), num(4))
	a := mustSet(t, st, num(1), num(2), num(5), num(6)) // -3 -4 +5 +6
	b := mustSet(t, st, num(1), num(3), num(6), num(7)) // -2 -4 +6 +7
	v := mustMerge(t, st, anc, a, b, Fail)
	if got := setOf(t, st, v.(value.Set)); !slices.EqualFunc(got, []value.Value{num(1), num(5), num(6), num(7)}, value.Equal) {
		t.Fatalf("got %v", got)
	}
	if back := mustMerge(t, st, anc, b, a, Fail); !value.Equal(back, v) {
		t.Fatal("not commutative")
	}
}

func TestListsMergeAppendsOnly(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT(t)
	anc := mustList(t, st, str("a"), str("b"))
	a := mustList(t, st, str("a"), str("b"), str("y1"), str("y2"))
	b := mustList(t, st, str("a"), str("b"), str("x1"))
	v := mustMerge(t, st, anc, a, b, Fail)
	w := mustMerge(t, st, anc, b, a, Fail)
	if !value.Equal(v, w) {
		t.Fatal("list append merge depends on the side")
	}
	want := []value.Value{str("a"), str("b"), str("x1"), str("y1"), str("y2")} // "x1" < "y1"
	if got := listItems(t, st, v.(value.List)); !slices.EqualFunc(got, want, value.Equal) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// A run that extends the other still keeps both (it is a log).
	c := mustList(t, st, str("a"), str("b"), str("y1"))
	v = mustMerge(t, st, anc, a, c, Fail)
	want = []value.Value{str("a"), str("b"), str("y1"), str("y1"), str("y2")}
	if got := listItems(t, st, v.(value.List)); !slices.EqualFunc(got, want, value.Equal) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// One side edited the middle: conflict, whatever the other did.
	mid := mustList(t, st, str("a"), str("B"), str("z"))
	short := mustList(t, st, str("a"))
	for _, other := range []value.Value{a, short} {
		_, err := Values(ctx, st, anc, mid, other, Fail)
		if got := conflictsOf(err); len(got) != 1 || got[0].Path != "" || got[0].Reason == "" {
			t.Fatalf("conflicts %+v (%v)", got, err)
		}
	}
	// A long ancestor: the prefix check does not write to the store.
	var items []value.Value
	for j := range 5000 {
		items = append(items, num(int64(j)))
	}
	cs := newCounting()
	big := mustList(t, cs, items...)
	ba, _ := big.Append(ctx, cs, str("a"))
	bb, _ := big.Append(ctx, cs, str("b"), str("c"))
	cs.puts.Store(0)
	cs.gets.Store(0)
	v = mustMerge(t, cs, big, ba, bb, Fail)
	if v.(value.List).Len() != 5003 {
		t.Fatalf("len %d", v.(value.List).Len())
	}
	if got, _ := v.(value.List).Get(ctx, cs, 5000); !value.Equal(got, str("a")) {
		t.Fatalf("item 5000 = %v", got)
	}
	if p := cs.puts.Load(); p > 4 {
		t.Fatalf("list merge wrote %d chunks", p)
	}
	t.Logf("5000-item list append merge: %d gets, %d puts", cs.gets.Load(), cs.puts.Load())
}

func TestBlobsConflictWhenBothChange(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT(t)
	anc := mustBlob(t, st, "hello")
	a := mustBlob(t, st, "hello world")
	b := mustBlob(t, st, "hello there")
	if v := mustMerge(t, st, anc, a, anc, Fail); !value.Equal(v, a) {
		t.Fatal("one-sided blob change not taken")
	}
	_, err := Values(ctx, st, anc, a, b, Fail)
	if c := conflictsOf(err); len(c) != 1 || c[0].Reason != "both sides changed the blob" {
		t.Fatalf("got %+v", c)
	}
	v1 := mustMerge(t, st, anc, a, b, Deterministic)
	v2 := mustMerge(t, st, anc, b, a, Deterministic)
	if !value.Equal(v1, v2) {
		t.Fatal("deterministic blob resolution depends on the side")
	}
}

func TestCustomPolicies(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT(t)
	// Counters: concurrent increments add up; anything else is left to Fail.
	counters := PolicyFunc(func(ctx context.Context, st value.Store, c Conflict) (value.Value, error) {
		anc, ok1 := c.Ancestor.(value.Int)
		a, ok2 := c.Ours.(value.Int)
		b, ok3 := c.Theirs.(value.Int)
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("not a counter: %w", ErrConflict)
		}
		return anc + (a - anc) + (b - anc), nil
	})
	anc := mustMap(t, st, str("hits"), num(10), str("name"), str("x"))
	a := mustMap(t, st, str("hits"), num(13), str("name"), str("y"))
	b := mustMap(t, st, str("hits"), num(15), str("name"), str("z"))
	_, err := Values(ctx, st, anc, a, b, counters)
	if got := paths(conflictsOf(err)); !slices.Equal(got, []string{`["name"]`}) {
		t.Fatalf("conflicts %q", got)
	}
	b2 := mustMap(t, st, str("hits"), num(15), str("name"), str("x"))
	v := mustMerge(t, st, anc, a, b2, counters)
	if h, _, _ := v.(value.Map).Get(ctx, st, str("hits")); !value.Equal(h, num(18)) {
		t.Fatalf("hits = %v, want 18", h)
	}
	// A policy error that is not ErrConflict stops the merge and is kept.
	boom := errors.New("boom")
	_, err = Values(ctx, st, anc, a, b, PolicyFunc(func(context.Context, value.Store, Conflict) (value.Value, error) {
		return nil, boom
	}))
	if !errors.Is(err, boom) || errors.Is(err, ErrConflict) {
		t.Fatalf("err = %v", err)
	}
	// A policy may delete: nil.
	v = mustMerge(t, st, anc, a, b, PolicyFunc(func(context.Context, value.Store, Conflict) (value.Value, error) { return nil, nil }))
	if v.(value.Map).Len() != 0 {
		t.Fatalf("len %d", v.(value.Map).Len())
	}
	// A policy resolving to a value with no encoding is an error, not a panic.
	_, err = Values(ctx, st, anc, a, b, PolicyFunc(func(context.Context, value.Store, Conflict) (value.Value, error) {
		return value.Float(math.NaN()), nil
	}))
	if !errors.Is(err, value.ErrInvalidValue) {
		t.Fatalf("err = %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	for name, want := range map[string]Policy{"fail": Fail, "ours": Ours, "theirs": Theirs, "auto": Deterministic, "deterministic": Deterministic} {
		p, err := ParsePolicy(name)
		if err != nil || fmt.Sprint(p) != fmt.Sprint(want) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := ParsePolicy("random"); !errors.Is(err, ErrUnknownPolicy) {
		t.Fatalf("err = %v", err)
	}
}

func TestBadInputsAreErrorsNotPanics(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT(t)
	missing := chunks.Of([]byte("no such chunk"))
	anc := mustMap(t, st, str("a"), num(1))
	a := mustMap(t, st, str("a"), num(2))
	for _, tc := range []struct {
		name      string
		anc, a, b value.Value
	}{
		{"map root missing", anc, a, value.NewMapHeader(3, missing)},
		{"set root missing", mustSet(t, st, num(1)), mustSet(t, st, num(2)), value.NewSetHeader(3, missing)},
		{"list root missing", mustList(t, st, num(1)), mustList(t, st, num(1), num(2)), value.NewListHeader(3, missing)},
		{"ancestor root missing", value.NewMapHeader(3, missing), a, mustMap(t, st, str("b"), num(1))},
		{"map root is not a node", anc, a, value.NewMapHeader(3, chunks.Of(nil))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "map root is not a node" {
				_ = st.Put(ctx, chunks.NewChunk([]byte{0x01}))
				tc.b = value.NewMapHeader(3, chunks.NewChunk([]byte{0x01}).Hash())
			}
			if _, err := Values(ctx, st, tc.anc, tc.a, tc.b, Deterministic); err == nil {
				t.Fatal("no error")
			}
		})
	}
	// A cancelled context stops the merge.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Values(cctx, st, anc, a, mustMap(t, st, str("a"), num(3)), Fail); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestDescribe(t *testing.T) {
	st := chunks.NewMemoryStore()
	for _, tc := range []struct {
		v    value.Value
		want string
	}{
		{nil, "(absent)"},
		{num(-3), "-3"},
		{value.Float(2), "2.0"},
		{value.Bool(true), "true"},
		{str("a\"b"), `"a\"b"`},
		{value.Bytes("\x01\x02"), "0x0102"},
		{mustStruct(t, "P", str("x"), num(1)), "P{x: 1}"},
		{mustStruct(t, "", str("in"), mustStruct(t, "Q", str("y"), num(1))), "struct{in: Q{1 fields}}"},
	} {
		if got := Describe(tc.v); got != tc.want {
			t.Errorf("Describe(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	m := mustMap(t, st, str("k"), num(1))
	if got := Describe(m); got != "Map(1 entries) #"+value.HashOf(m).String() {
		t.Errorf("Describe(map) = %q", got)
	}
	long := Describe(str(strings.Repeat("x", 500)))
	if len(long) > 2*maxDescribed+10 {
		t.Errorf("long string described in %d bytes", len(long))
	}
	c := Conflict{Path: `["k"]`, Ancestor: num(1), Ours: num(2), Reason: "r"}
	if got := c.String(); got != `["k"]: r (ancestor 1, ours 2, theirs (absent))` {
		t.Errorf("Conflict.String() = %q", got)
	}
}
