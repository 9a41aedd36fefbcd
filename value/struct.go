package value

import (
	"fmt"
	"sort"
)

// Field is one named field of a Struct.
type Field struct {
	Name  string
	Value Value
}

// Struct is a record: an optional name and a set of named fields.
//
// The fields are kept in the order their names take in the encoding
// (shorter names first, then bytewise: DAG-CBOR's map key order), so
// encoding and decoding never sort. The zero Struct is the empty struct
// with no name.
type Struct struct {
	name   string
	fields []Field // canonical order; never modified once the Struct exists
}

// Kind implements Value.
func (Struct) Kind() Kind { return StructKind }
func (Struct) isValue()   {}

// NewStruct returns the struct called name (which may be empty) with the
// given fields. Names must be identifiers, ASCII letters, digits and '_',
// not starting with a digit; values must not be nil. ASCII keeps names free
// of Unicode look-alikes that would encode differently. Errors wrap
// ErrInvalidValue.
func NewStruct(name string, fields map[string]Value) (Struct, error) {
	if name != "" && !validName(name) {
		return Struct{}, fmt.Errorf("creating struct: %w: struct name %q is not an identifier", ErrInvalidValue, name)
	}
	fs := make([]Field, 0, len(fields))
	for n, v := range fields {
		fs = append(fs, Field{Name: n, Value: v})
	}
	sort.Slice(fs, func(i, j int) bool { return nameLess(fs[i].Name, fs[j].Name) })
	// Checked after sorting so that the error names the same field every
	// time, whatever the map's iteration order.
	for _, f := range fs {
		if !validName(f.Name) {
			return Struct{}, fmt.Errorf("creating struct %q: %w: field name %q is not an identifier", name, ErrInvalidValue, f.Name)
		}
		if f.Value == nil {
			return Struct{}, fmt.Errorf("creating struct %q: %w: field %s is nil", name, ErrInvalidValue, f.Name)
		}
	}
	if len(fs) == 0 {
		fs = nil
	}
	return Struct{name: name, fields: fs}, nil
}

// Name returns the struct's name, "" if it has none.
func (s Struct) Name() string { return s.name }

// Len returns the number of fields.
func (s Struct) Len() int { return len(s.fields) }

// Get returns the value of the named field and whether the struct has it.
func (s Struct) Get(name string) (Value, bool) {
	i, ok := s.find(name)
	if !ok {
		return nil, false
	}
	return s.fields[i].Value, true
}

// Fields returns a copy of the fields sorted by name (bytewise).
func (s Struct) Fields() []Field {
	fs := append([]Field(nil), s.fields...)
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	return fs
}

// Set returns a copy of s with the named field set to v; s is unchanged.
// It panics if name is not a valid field name or v is nil: field names in
// code are constants, so that is a bug, and NewStruct is the checked way
// to build structs from untrusted names.
func (s Struct) Set(name string, v Value) Struct {
	if !validName(name) {
		panic(fmt.Sprintf("value: Struct.Set: field name %q is not an identifier", name))
	}
	if v == nil {
		panic(fmt.Sprintf("value: Struct.Set: nil value for field %s", name))
	}
	i, found := s.find(name)
	n := len(s.fields)
	if !found {
		n++
	}
	fs := make([]Field, 0, n)
	fs = append(fs, s.fields[:i]...)
	fs = append(fs, Field{Name: name, Value: v})
	if found {
		i++
	}
	fs = append(fs, s.fields[i:]...)
	return Struct{name: s.name, fields: fs}
}

// Delete returns a copy of s without the named field; s is unchanged.
// Deleting an absent field returns s.
func (s Struct) Delete(name string) Struct {
	i, found := s.find(name)
	if !found {
		return s
	}
	if len(s.fields) == 1 {
		return Struct{name: s.name}
	}
	fs := make([]Field, 0, len(s.fields)-1)
	fs = append(fs, s.fields[:i]...)
	fs = append(fs, s.fields[i+1:]...)
	return Struct{name: s.name, fields: fs}
}

// find returns the index of the named field, or where it would be
// inserted, and whether it is there.
func (s Struct) find(name string) (int, bool) {
	i := sort.Search(len(s.fields), func(i int) bool { return !nameLess(s.fields[i].Name, name) })
	return i, i < len(s.fields) && s.fields[i].Name == name
}

// nameLess is DAG-CBOR's order of map keys: shorter first, then bytewise.
func nameLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// validName reports whether s is an identifier: ASCII letters, digits and
// '_', not empty, not starting with a digit.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
