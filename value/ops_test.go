package value_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/value"
)

func ctxT() context.Context { return context.Background() }

func TestMapOperationsAgainstModel(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT()
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[int64]string{}
	var entries []value.MapEntry
	for i := 0; i < 3000; i++ {
		k := rng.Int64N(5000)
		v := fmt.Sprint("v", rng.Int())
		model[k] = v
		entries = append(entries, value.MapEntry{Key: value.Int(k), Value: value.String(v)})
	}
	m, err := value.NewMap(ctx, st, entries...)
	if err != nil {
		t.Fatal(err)
	}
	check := func(m value.Map) {
		t.Helper()
		if m.Len() != uint64(len(model)) {
			t.Fatalf("Len = %d, want %d", m.Len(), len(model))
		}
		prev := int64(-1)
		n := 0
		for e, err := range m.All(ctx, st, nil) {
			if err != nil {
				t.Fatal(err)
			}
			k := int64(e.Key.(value.Int))
			if k <= prev || model[k] != string(e.Value.(value.String)) {
				t.Fatalf("entry %d: %v = %v (model %q)", n, e.Key, e.Value, model[k])
			}
			prev = k
			n++
		}
		for k := int64(0); k < 5000; k += 97 {
			v, found, err := m.Get(ctx, st, value.Int(k))
			want, ok := model[k]
			if err != nil || found != ok || (ok && string(v.(value.String)) != want) {
				t.Fatalf("Get(%d) = %v, %v, %v; model %q %v", k, v, found, err, want, ok)
			}
		}
	}
	check(m)
	ed := m.Edit()
	for i := 0; i < 200; i++ {
		k := rng.Int64N(6000)
		if rng.IntN(3) == 0 {
			delete(model, k)
			ed.Delete(value.Int(k))
		} else {
			model[k] = "edited"
			ed.Set(value.Int(k), value.String("edited"))
		}
	}
	m2, err := ed.Map(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	check(m2)
	// Same contents, built in one go: the same value (history independence).
	var all []value.MapEntry
	for k, v := range model {
		all = append(all, value.MapEntry{Key: value.Int(k), Value: value.String(v)})
	}
	m3, err := value.NewMap(ctx, st, all...)
	if err != nil || !value.Equal(m2, m3) {
		t.Fatalf("edited map %v differs from the same contents built at once %v (%v)", m2, m3, err)
	}
	// Iteration from a key.
	for e, err := range m2.All(ctx, st, value.Int(2500)) {
		if err != nil || int64(e.Key.(value.Int)) < 2500 {
			t.Fatalf("All from 2500 started at %v (%v)", e.Key, err)
		}
		break
	}
}

func TestDiffMapsAndValues(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT()
	inner, _ := value.NewStruct("P", map[string]value.Value{"age": value.Int(30), "name": value.String("ann")})
	a, _ := value.NewMap(ctx, st, value.MapEntry{Key: value.String("x"), Value: value.Int(1)},
		value.MapEntry{Key: value.String("y"), Value: value.Int(2)}, value.MapEntry{Key: value.String("p"), Value: inner})
	b, _ := a.Edit().Delete(value.String("x")).Set(value.String("z"), value.Int(3)).
		Set(value.String("p"), inner.Set("age", value.Int(31))).Map(ctx, st)
	var got []string
	err := value.Diff(ctx, st, a, b, func(d value.Difference) error {
		got = append(got, fmt.Sprintf("%s %d", d.Path, d.Kind))
		return nil
	})
	want := []string{
		fmt.Sprintf(`["p"].age %d`, value.Modified),
		fmt.Sprintf(`["x"] %d`, value.Removed),
		fmt.Sprintf(`["z"] %d`, value.Added),
	}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Diff = %v (%v), want %v", got, err, want)
	}
}

func TestSetListBlob(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT()
	s, err := value.NewSet(ctx, st, value.String("b"), value.String("a"), value.String("b"))
	if err != nil || s.Len() != 2 {
		t.Fatalf("NewSet: %v, len %d", err, s.Len())
	}
	s, _ = s.Insert(ctx, st, value.String("c"))
	s, _ = s.Remove(ctx, st, value.String("a"))
	var members []string
	for v, err := range s.All(ctx, st, nil) {
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, string(v.(value.String)))
	}
	if fmt.Sprint(members) != "[b c]" {
		t.Fatalf("set members %v", members)
	}

	l, _ := value.NewList(ctx, st, value.Int(1), value.Int(2), value.Int(3))
	l, _ = l.Append(ctx, st, value.Int(4))
	l, _ = l.Insert(ctx, st, 0, value.Int(0))
	l, _ = l.Remove(ctx, st, 2, 1) // drops 2
	var items []int64
	for v, err := range l.All(ctx, st, 0) {
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, int64(v.(value.Int)))
	}
	if fmt.Sprint(items) != "[0 1 3 4]" {
		t.Fatalf("list items %v", items)
	}
	if v, err := l.Get(ctx, st, 2); err != nil || !value.Equal(v, value.Int(3)) {
		t.Fatalf("Get(2) = %v, %v", v, err)
	}
	if _, err := l.Get(ctx, st, 4); !errors.Is(err, value.ErrOutOfRange) {
		t.Fatalf("Get past the end: %v", err)
	}

	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	b, err := value.NewBlob(ctx, st, bytes.NewReader(data))
	if err != nil || b.Len() != uint64(len(data)) {
		t.Fatalf("NewBlob: %v, len %d", err, b.Len())
	}
	b2, err := b.Splice(ctx, st, 1000, 1, []byte{0xff})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(b2.Reader(ctx, st))
	data[1000] = 0xff
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("blob read back differs (%v)", err)
	}
}

func ExampleMap() {
	ctx := context.Background()
	st := chunks.NewMemoryStore()
	m, _ := value.NewMap(ctx, st,
		value.MapEntry{Key: value.String("apples"), Value: value.Int(3)},
		value.MapEntry{Key: value.String("pears"), Value: value.Int(5)})
	m, _ = m.Set(ctx, st, value.String("plums"), value.Int(1))
	for e, err := range m.All(ctx, st, nil) {
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Key, e.Value)
	}
	// Output:
	// apples 3
	// pears 5
	// plums 1
}

func TestDiffLists(t *testing.T) {
	st := chunks.NewMemoryStore()
	ctx := ctxT()
	var items []value.Value
	for i := 0; i < 5000; i++ {
		items = append(items, value.Int(int64(i)))
	}
	a, _ := value.NewList(ctx, st, items...)
	b, _ := a.Splice(ctx, st, 10, 1, value.String("ten"))
	b, _ = b.Remove(ctx, st, 4000, 2)
	b, _ = b.Append(ctx, st, value.Bool(true))
	var got []string
	err := value.Diff(ctx, st, a, b, func(d value.Difference) error {
		got = append(got, fmt.Sprintf("%s %d %v %v", d.Path, d.Kind, d.Old, d.New))
		return nil
	})
	want := []string{
		fmt.Sprintf("[10] %d 10 ten", value.Modified),
		fmt.Sprintf("[4000] %d 4000 <nil>", value.Removed),
		fmt.Sprintf("[4001] %d 4001 <nil>", value.Removed),
		fmt.Sprintf("[4998] %d <nil> true", value.Added),
	}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Diff of lists:\n got %v (%v)\nwant %v", got, err, want)
	}
}
