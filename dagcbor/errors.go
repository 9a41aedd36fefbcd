package dagcbor

import "errors"

// ErrInvalid is wrapped by every error that reports input which is not
// strict DAG-CBOR, so callers can tell a refused chunk (errors.Is(err,
// ErrInvalid)) from a failure of their own Links callback, which is
// returned unwrapped.
var ErrInvalid = errors.New("invalid DAG-CBOR")
