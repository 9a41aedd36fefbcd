// Package dagcbor owns the strict DAG-CBOR check that the chunk store runs
// on every chunk before it is written to IPFS: Validate refuses anything
// that is not exactly one canonical DAG-CBOR data item, and Links
// additionally reports the tag-42 CIDs the chunk points to.
//
// The checker works directly on the encoded bytes and builds no node tree,
// so validating a chunk costs one pass and allocates only for the CIDs it
// meets. It implements the strictness rules of the DAG-CBOR specification
// (https://ipld.io/specs/codecs/dag-cbor/spec/) rather than the relaxed
// rules most decoders apply by default, so any accepted chunk re-encodes to
// the same bytes and hence the same CID. Negative integers below -2^63 are
// refused too, although the specification is silent on them, because
// go-ipld-prime (and so kubo) cannot decode them. Size is not limited
// here: the caller bounds chunk size, and go-ipld-prime's default
// allocation budget is only exhausted by chunks above about 1.7 MB.
package dagcbor
