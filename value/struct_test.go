package value

import (
	"errors"
	"strings"
	"testing"
)

func TestNewStructValidates(t *testing.T) {
	ok := []struct {
		name   string
		fields map[string]Value
	}{
		{"", nil},
		{"P", map[string]Value{"a": Int(1)}},
		{"_x9", map[string]Value{"_": Int(1), "A_b2": Bool(true), "z": String("")}},
	}
	for _, tc := range ok {
		if _, err := NewStruct(tc.name, tc.fields); err != nil {
			t.Errorf("NewStruct(%q, %v): %v", tc.name, tc.fields, err)
		}
	}
	bad := []struct {
		name   string
		fields map[string]Value
		msg    string
	}{
		{"1P", nil, `struct name "1P"`},
		{"a b", nil, `struct name "a b"`},
		{"é", nil, `struct name "é"`},
		{"P", map[string]Value{"": Int(1)}, `field name ""`},
		{"P", map[string]Value{"9": Int(1)}, `field name "9"`},
		{"P", map[string]Value{"a-b": Int(1)}, `field name "a-b"`},
		{"P", map[string]Value{"a": nil}, "field a is nil"},
		// Several bad fields: the error names the first in canonical order,
		// whatever the map's iteration order.
		{"P", map[string]Value{"zz-": Int(1), "y-": Int(1), "-": Int(1)}, `field name "-"`},
	}
	for _, tc := range bad {
		for i := 0; i < 5; i++ {
			_, err := NewStruct(tc.name, tc.fields)
			if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "creating struct") {
				t.Fatalf("NewStruct(%q, %v) = %v; want ErrInvalidValue mentioning %s", tc.name, tc.fields, err, tc.msg)
			}
		}
	}
}

func TestStructAccessors(t *testing.T) {
	s := mustStruct(t, "Person", map[string]Value{"name": String("Ada"), "born": Int(1815), "id": Int(7), "Zeta": Bool(true)})
	if s.Name() != "Person" || s.Len() != 4 || s.Kind() != StructKind {
		t.Fatalf("Name %q Len %d", s.Name(), s.Len())
	}
	if v, ok := s.Get("born"); !ok || v != Int(1815) {
		t.Fatalf("Get(born) = %v, %v", v, ok)
	}
	if v, ok := s.Get("nope"); ok || v != nil {
		t.Fatalf("Get(nope) = %v, %v", v, ok)
	}
	var names []string
	for _, f := range s.Fields() {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "Zeta,born,id,name" {
		t.Fatalf("Fields() in order %s, want bytewise name order", got)
	}
	// Fields returns a copy.
	s.Fields()[0].Value = Int(0)
	if v, _ := s.Get("Zeta"); v != Bool(true) {
		t.Fatal("modifying Fields() changed the struct")
	}
}

func TestStructSetDelete(t *testing.T) {
	s := mustStruct(t, "P", map[string]Value{"b": Int(2), "aa": Int(1)})
	before := mustEncode(t, s)

	s2 := s.Set("c", Int(3)).Set("b", Int(20)).Set("aaa", Int(4))
	want := mustStruct(t, "P", map[string]Value{"b": Int(20), "aa": Int(1), "c": Int(3), "aaa": Int(4)})
	if !Equal(s2, want) || string(mustEncode(t, s2)) != string(mustEncode(t, want)) {
		t.Fatalf("Set chain gave %#v, want %#v", s2, want)
	}
	if string(mustEncode(t, s)) != string(before) {
		t.Fatal("Set changed the original struct")
	}

	s3 := s2.Delete("b").Delete("missing")
	want3 := mustStruct(t, "P", map[string]Value{"aa": Int(1), "c": Int(3), "aaa": Int(4)})
	if !Equal(s3, want3) {
		t.Fatalf("Delete gave %#v, want %#v", s3, want3)
	}
	if v, _ := s2.Get("b"); v != Int(20) {
		t.Fatal("Delete changed the original struct")
	}
	// Deleting every field gives the same value as a struct built empty.
	empty := s.Delete("aa").Delete("b")
	if !Equal(empty, mustStruct(t, "P", nil)) || HashOf(empty) != HashOf(mustStruct(t, "P", nil)) {
		t.Fatal("struct emptied by Delete differs from an empty struct")
	}

	// Set on a struct must not write into a slice shared with another
	// struct made from the same parent.
	base := Struct{}.Set("a", Int(1)).Set("c", Int(3))
	x := base.Set("b", Int(2))
	y := base.Set("bb", Int(22))
	if _, ok := x.Get("bb"); ok {
		t.Fatal("structs derived from one parent share storage")
	}
	if v, _ := y.Get("c"); v != Int(3) {
		t.Fatal("structs derived from one parent share storage")
	}
}

func TestStructSetPanicsOnBadInput(t *testing.T) {
	for _, tc := range []struct {
		field string
		v     Value
	}{{"", Int(1)}, {"1a", Int(1)}, {"a.b", Int(1)}, {"ok", nil}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("Set(%q, %v) did not panic", tc.field, tc.v)
				}
			}()
			Struct{}.Set(tc.field, tc.v)
		}()
	}
}
