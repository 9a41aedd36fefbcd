package value

import "errors"

// ErrInvalidEncoding is wrapped by Decode errors: the bytes are not one value's canonical encoding.
var ErrInvalidEncoding = errors.New("invalid value encoding")

// ErrInvalidValue is wrapped by errors about values that have no encoding (see Encode).
var ErrInvalidValue = errors.New("invalid value")

// ErrOutOfRange is returned for an index or offset past the end of a List
// or Blob.
var ErrOutOfRange = errors.New("index out of range")
