package headstore

import (
	"errors"
	"fmt"

	"github.com/ipfs/boxo/ipns"
	ipns_pb "github.com/ipfs/boxo/ipns/pb"
	"github.com/ipfs/boxo/path"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// MaxRecordSize bounds an announcement or resolved record. Kubo's records
// for an ed25519 key with the key embedded are about 450 bytes; the bound
// is the IPNS specification's own (boxo's ipns.MaxRecordSize).
const MaxRecordSize = 10 << 10

// Drop reasons, the keys of Stats.Dropped.
const (
	ReasonOversized      = "oversized"        // larger than MaxRecordSize
	ReasonMalformed      = "malformed"        // not an IPNS record of a writer key and a noms-ipfs root
	ReasonBadSignature   = "bad-signature"    // signature does not verify against the named key
	ReasonExpired        = "expired"          // validity ended
	ReasonReplay         = "replay"           // sequence not newer than the last accepted from the writer
	ReasonUntrusted      = "untrusted"        // writer neither allowed nor the database open
	ReasonSelf           = "self"             // our own announcement echoed by pubsub; not an error
	ReasonDuplicate      = "duplicate"        // a re-announcement of the head already accepted; not an error
	ReasonTooManyWriters = "too-many-writers" // a new writer of an open database beyond Config.MaxWriters
)

// reasonOf maps a verification error to its Stats key.
func reasonOf(err error) string {
	switch {
	case errors.Is(err, ErrOversized):
		return ReasonOversized
	case errors.Is(err, ErrBadSignature):
		return ReasonBadSignature
	case errors.Is(err, ErrExpired):
		return ReasonExpired
	case errors.Is(err, ErrReplay):
		return ReasonReplay
	case errors.Is(err, ErrUntrusted):
		return ReasonUntrusted
	case errors.Is(err, errSelf):
		return ReasonSelf
	case errors.Is(err, errDuplicate):
		return ReasonDuplicate
	case errors.Is(err, errTooManyWriters):
		return ReasonTooManyWriters
	default:
		return ReasonMalformed
	}
}

// parsed is a record decoded far enough to know whose it claims to be, not
// yet checked (verify).
type parsed struct {
	rec    *ipns.Record
	writer peer.ID
	data   []byte
}

// parseRecord decodes data as a head record. name, if not empty, is the
// writer the record was fetched for (Resolve); an announcement has no name
// outside the record, so it must embed its public key, and the writer is
// the peer ID of that key. A record naming another key than name fails
// with ErrBadSignature.
func parseRecord(data []byte, name peer.ID) (p parsed, err error) {
	// The decoders below are third-party code fed with bytes from anyone on
	// the topic; a panic in them must cost one message, not the process.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: decoder panicked: %v", ErrMalformed, r)
		}
	}()
	if len(data) > MaxRecordSize {
		return parsed{}, fmt.Errorf("%w: %d bytes, limit %d", ErrOversized, len(data), MaxRecordSize)
	}
	rec, err := ipns.UnmarshalRecord(data)
	if err != nil {
		return parsed{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	pk, err := rec.PubKey()
	switch {
	case errors.Is(err, ipns.ErrPublicKeyNotFound):
		if name == "" {
			return parsed{}, fmt.Errorf("%w: the record does not carry its writer's public key", ErrMalformed)
		}
		if pk, err = name.ExtractPublicKey(); err != nil {
			return parsed{}, fmt.Errorf("%w: cannot take the public key from writer %s: %w", ErrMalformed, name, err)
		}
	case err != nil:
		return parsed{}, fmt.Errorf("%w: embedded public key: %w", ErrMalformed, err)
	}
	// Writers are ed25519 keys, whose peer ID is the key itself: the name is
	// derived from the key, never taken on trust from the sender.
	if pk.Type() != ic.Ed25519 {
		return parsed{}, fmt.Errorf("%w: writer key is %s, want Ed25519", ErrMalformed, pk.Type())
	}
	writer, err := peer.IDFromPublicKey(pk)
	if err != nil {
		return parsed{}, fmt.Errorf("%w: writer key: %w", ErrMalformed, err)
	}
	if name != "" && writer != name {
		return parsed{}, fmt.Errorf("%w: record fetched for %s carries the key of %s", ErrBadSignature, name, writer)
	}
	return parsed{rec: rec, writer: writer, data: data}, nil
}

// verify checks the signature against the writer's key, the validity and
// the value, and returns the head the record announces.
func (p parsed) verify() (h Head, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: verifier panicked: %v", ErrMalformed, r)
		}
	}()
	if err := ipns.ValidateWithName(p.rec, ipns.NameFromPeer(p.writer)); err != nil {
		switch {
		case errors.Is(err, ipns.ErrExpiredRecord):
			return Head{}, fmt.Errorf("%w: %w", ErrExpired, err)
		case errors.Is(err, ipns.ErrUnrecognizedValidity), errors.Is(err, ipns.ErrInvalidValidity),
			errors.Is(err, ipns.ErrInvalidRecord), errors.Is(err, ipns.ErrRecordSize):
			return Head{}, fmt.Errorf("%w: %w", ErrMalformed, err)
		default:
			// Bad signatures, and unsigned protobuf fields that disagree
			// with the signed data: both mean someone changed the record.
			return Head{}, fmt.Errorf("%w: %w", ErrBadSignature, err)
		}
	}
	v, err := p.rec.Value()
	if err != nil {
		return Head{}, fmt.Errorf("%w: value: %w", ErrMalformed, err)
	}
	root, err := rootFromPath(v)
	if err != nil {
		return Head{}, err
	}
	seq, err := p.rec.Sequence()
	if err != nil {
		return Head{}, fmt.Errorf("%w: sequence: %w", ErrMalformed, err)
	}
	eol, err := p.rec.Validity()
	if err != nil {
		return Head{}, fmt.Errorf("%w: validity: %w", ErrMalformed, err)
	}
	return Head{Writer: p.writer, Root: root, Seq: seq, EOL: eol, Record: p.data}, nil
}

// rootFromPath accepts exactly /ipfs/<CID of a noms-ipfs chunk>: a head
// names a database root chunk, not a path into it.
func rootFromPath(v path.Path) (chunks.Hash, error) {
	ip, err := path.NewImmutablePath(v)
	if err != nil {
		return chunks.Hash{}, fmt.Errorf("%w: value %q is not an /ipfs path: %w", ErrMalformed, v, err)
	}
	if len(ip.Segments()) != 2 {
		return chunks.Hash{}, fmt.Errorf("%w: value %q is a path into a DAG, want /ipfs/<root CID>", ErrMalformed, v)
	}
	h, err := chunks.HashFromCID(ip.RootCid())
	if err != nil {
		return chunks.Hash{}, fmt.Errorf("%w: value %q: %w", ErrMalformed, v, err)
	}
	return h, nil
}

// rootPath is the IPNS value for a root.
func rootPath(root chunks.Hash) path.Path { return path.FromCid(root.CID()) }

// embedPublicKey adds pk to a record Kubo signed. Kubo leaves the key out
// of ed25519 records because the IPNS name carries it, but an announcement
// travels without its name. The field is outside the signed data, so adding
// it keeps the signature valid; receivers derive the writer from it and
// check the signature against it, so a wrong key only names a writer whose
// signature then fails.
func embedPublicKey(record []byte, pk ic.PubKey) ([]byte, error) {
	var pb ipns_pb.IpnsRecord
	if err := proto.Unmarshal(record, &pb); err != nil {
		return nil, fmt.Errorf("cannot decode IPNS record: %w", err)
	}
	raw, err := ic.MarshalPublicKey(pk)
	if err != nil {
		return nil, fmt.Errorf("cannot encode public key: %w", err)
	}
	pb.PubKey = raw
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(&pb)
	if err != nil {
		return nil, fmt.Errorf("cannot encode IPNS record: %w", err)
	}
	return out, nil
}
