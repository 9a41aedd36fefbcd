package syncer

import "errors"

// ErrHeadStoreClosed is returned by Run when the head store's channel of
// announced heads closes while the syncer runs: no more heads can arrive.
var ErrHeadStoreClosed = errors.New("head store closed")

// ErrRunning is returned by Run when the syncer already runs or has run: a
// Syncer runs once.
var ErrRunning = errors.New("syncer already started")

// ErrUnknownMode is returned by ParseMode for a name it does not know.
var ErrUnknownMode = errors.New("unknown sync mode")

// ErrNoNode is returned by New for replicate mode without a Kubo node to pin
// into.
var ErrNoNode = errors.New("replicate mode needs a Kubo node")

// ErrBadRoot is wrapped by the errors about an announced root chunk that is
// not a database root.
var ErrBadRoot = errors.New("announced root is not a database root")
