package headstore

import "errors"

// Each reason a record is dropped has a sentinel; errors returned by Resolve
// wrap them, and Stats counts drops under the matching Reason* string.

// ErrOversized is returned for a record larger than MaxRecordSize.
var ErrOversized = errors.New("head record too large")

// ErrMalformed is returned for bytes that are not an IPNS record naming a
// writer key and a noms-ipfs root (/ipfs/<chunk CID>).
var ErrMalformed = errors.New("malformed head record")

// ErrBadSignature is returned when a record's signature does not verify
// against the writer key it names: forged or tampered with.
var ErrBadSignature = errors.New("head record signature does not verify")

// ErrExpired is returned for a correctly signed record whose validity has
// ended.
var ErrExpired = errors.New("head record expired")

// ErrReplay is the reason for dropping a record whose sequence number is not
// newer than the last one accepted from its writer.
var ErrReplay = errors.New("head record is not newer than the last one accepted")

// ErrUntrusted is returned for a record by a writer that is neither in
// Config.Allowed nor accepted by an open database.
var ErrUntrusted = errors.New("writer is not allowed to write this database")

// ErrNotFound is returned by Resolve when the routing system has no record
// for the writer.
var ErrNotFound = errors.New("no head record found for writer")

// ErrKeyType is returned by New when the keystore key named by
// Config.KeyName is not an ed25519 key: only ed25519 peer IDs carry their
// public key, which receivers need to check signatures.
var ErrKeyType = errors.New("writer key is not an ed25519 key")

// ErrClosed is returned by calls on a Store after Close.
var ErrClosed = errors.New("head store is closed")

// errSelf marks an announcement of our own key: the echo pubsub gives back
// for every message we publish. It is counted, never an error.
var errSelf = errors.New("record is our own")

// errDuplicate marks a record equal in sequence and root to the last one
// accepted from its writer: a periodic re-announcement, not an attack.
var errDuplicate = errors.New("record repeats the last accepted head")

// errTooManyWriters marks the head of a new writer that an open database
// has no room for (Config.MaxWriters).
var errTooManyWriters = errors.New("open database tracks as many writers as it may")
