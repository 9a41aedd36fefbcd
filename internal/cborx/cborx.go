// Package cborx holds the few CBOR primitives that packages writing their own
// DAG-CBOR documents share: heads in shortest form, links, and skipping over
// one data item. Validation belongs to package dagcbor; this package assumes
// its input was validated (Skip still never reads out of bounds).
package cborx

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
)

// Major types.
const (
	Uint   = 0
	Neg    = 1
	Bytes  = 2
	Text   = 3
	Array  = 4
	Map    = 5
	Tag    = 6
	Simple = 7
)

// ErrTruncated is returned by Skip and Head when an item runs past the input.
var ErrTruncated = errors.New("truncated CBOR item")

// AppendHead appends a head of the given major type and argument in the
// shortest form, as DAG-CBOR requires.
func AppendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(b, m|byte(n))
	case n <= 0xff:
		return append(b, m|24, byte(n))
	case n <= 0xffff:
		return append(b, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(b, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, m|27), n)
	}
}

// AppendText appends s as a CBOR text string.
func AppendText(b []byte, s string) []byte { return append(AppendHead(b, Text, uint64(len(s))), s...) }

// AppendLink appends c as a DAG-CBOR link: tag 42 around 0x00 ‖ CID bytes.
func AppendLink(b []byte, c cid.Cid) []byte {
	cb := c.Bytes()
	b = append(b, 0xd8, 0x2a)
	b = AppendHead(b, Bytes, uint64(len(cb)+1))
	return append(append(b, 0), cb...)
}

// Head reads the head at b[0:]: major type, argument, and head length.
func Head(b []byte) (major byte, arg uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, 0, ErrTruncated
	}
	major, info := b[0]>>5, b[0]&31
	switch {
	case info < 24:
		return major, uint64(info), 1, nil
	case info <= 27:
		size := 1 << (info - 24)
		if len(b) < 1+size {
			return 0, 0, 0, ErrTruncated
		}
		var v uint64
		for _, c := range b[1 : 1+size] {
			v = v<<8 | uint64(c)
		}
		return major, v, 1 + size, nil
	default:
		return 0, 0, 0, fmt.Errorf("unsupported CBOR additional info %d", info)
	}
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 1024

// Skip returns the length of the one data item at the start of b.
func Skip(b []byte) (int, error) { return skip(b, 0) }

func skip(b []byte, depth int) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("CBOR nested deeper than %d", maxDepth)
	}
	major, arg, n, err := Head(b)
	if err != nil {
		return 0, err
	}
	switch major {
	case Uint, Neg, Simple:
		return n, nil
	case Bytes, Text:
		if arg > uint64(len(b)-n) {
			return 0, ErrTruncated
		}
		return n + int(arg), nil
	case Tag:
		m, err := skip(b[n:], depth+1)
		return n + m, err
	case Array, Map:
		items := arg
		if major == Map {
			items *= 2
		}
		if items > uint64(len(b)-n) { // every item takes at least a byte
			return 0, ErrTruncated
		}
		off := n
		for i := uint64(0); i < items; i++ {
			m, err := skip(b[off:], depth+1)
			if err != nil {
				return 0, err
			}
			off += m
		}
		return off, nil
	}
	return 0, fmt.Errorf("unknown CBOR major type %d", major)
}

// Items splits the array whose head starts b into its items' encodings.
func Items(b []byte) ([][]byte, error) {
	major, count, n, err := Head(b)
	if err != nil {
		return nil, err
	}
	if major != Array {
		return nil, fmt.Errorf("want a CBOR array, have major type %d", major)
	}
	if count > uint64(len(b)-n) {
		return nil, ErrTruncated
	}
	out := make([][]byte, 0, count)
	off := n
	for i := uint64(0); i < count; i++ {
		m, err := Skip(b[off:])
		if err != nil {
			return nil, err
		}
		out = append(out, b[off:off+m])
		off += m
	}
	if off != len(b) {
		return nil, fmt.Errorf("%d bytes after the array", len(b)-off)
	}
	return out, nil
}

// Link reads a DAG-CBOR link item.
func Link(b []byte) (cid.Cid, error) {
	if len(b) < 3 || b[0] != 0xd8 || b[1] != 0x2a {
		return cid.Undef, errors.New("not a link (tag 42)")
	}
	major, l, n, err := Head(b[2:])
	if err != nil {
		return cid.Undef, err
	}
	body := b[2+n:]
	if major != Bytes || l != uint64(len(body)) || l < 2 || body[0] != 0 {
		return cid.Undef, errors.New("malformed link")
	}
	return cid.Cast(body[1:])
}
