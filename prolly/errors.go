package prolly

import "errors"

// ErrCorrupt is wrapped by errors about a node read from the store that is
// not a well-formed node of the expected shape and level, or whose counts
// or keys contradict its parent.
var ErrCorrupt = errors.New("corrupt prolly tree node")

// ErrInvalidEntry is returned when an entry, key or item is not exactly one
// strict DAG-CBOR data item, or a part the shape needs is missing.
var ErrInvalidEntry = errors.New("invalid entry")

// ErrOrder is returned when Map or Set entries given to a Builder, or edits
// given to Apply, are not in strictly increasing key order.
var ErrOrder = errors.New("entries not in strictly increasing key order")

// ErrOutOfRange is returned for an index or position past the end of a tree.
var ErrOutOfRange = errors.New("index out of range")

// ErrShape is returned when an operation does not apply to the tree's shape
// (Apply on a List, At on a Blob, a Map compared without Compare...).
var ErrShape = errors.New("operation does not apply to this tree shape")
