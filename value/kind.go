package value

import "strconv"

// Kind says which of the value types a Value is.
type Kind uint8

// The kinds, in the order of their declaration, which is not quite the
// sort order: Int and Float sort together as numbers (see Compare).
const (
	BoolKind Kind = iota
	IntKind
	FloatKind
	StringKind
	BytesKind
	RefKind
	StructKind
	ListKind
	MapKind
	SetKind
	BlobKind
)

var kindNames = [...]string{
	BoolKind:   "Bool",
	IntKind:    "Int",
	FloatKind:  "Float",
	StringKind: "String",
	BytesKind:  "Bytes",
	RefKind:    "Ref",
	StructKind: "Struct",
	ListKind:   "List",
	MapKind:    "Map",
	SetKind:    "Set",
	BlobKind:   "Blob",
}

// String returns the kind's name, such as "Int".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a value applications store: one of Bool, Int, Float, String,
// Bytes, Ref, Struct, List, Map, Set and Blob. Values are immutable.
//
// The interface is sealed by an unexported method, because encoding, order
// and decoding are defined for exactly these types: another type could not
// round-trip.
type Value interface {
	Kind() Kind
	isValue()
}
