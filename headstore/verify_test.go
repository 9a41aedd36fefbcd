package headstore

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipns"
	ipns_pb "github.com/ipfs/boxo/ipns/pb"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/proto"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// writerKey is a fresh ed25519 writer key.
type writerKey struct {
	sk ic.PrivKey
	pk ic.PubKey
	id peer.ID
}

func newWriterKey(t testing.TB) writerKey {
	t.Helper()
	sk, pk, err := ic.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	return writerKey{sk, pk, id}
}

// signRecord makes a record as a writer holding sk would, with options
// (e.g. ipns.WithPublicKey) passed on to boxo.
func signRecord(t testing.TB, sk ic.PrivKey, value path.Path, seq uint64, eol time.Time, opts ...ipns.Option) []byte {
	t.Helper()
	rec, err := ipns.NewRecord(sk, value, seq, eol, time.Minute, opts...)
	if err != nil {
		t.Fatalf("ipns.NewRecord: %v", err)
	}
	b, err := ipns.MarshalRecord(rec)
	if err != nil {
		t.Fatalf("ipns.MarshalRecord: %v", err)
	}
	return b
}

// announcement makes what a Store announces: a record with the key embedded.
func (k writerKey) announcement(t testing.TB, root chunks.Hash, seq uint64) []byte {
	t.Helper()
	return signRecord(t, k.sk, rootPath(root), seq, time.Now().Add(time.Hour), ipns.WithPublicKey(true))
}

// editRecord decodes a record's protobuf, lets edit change it, and encodes
// it again: how an attacker tampers with a signed record.
func editRecord(t testing.TB, record []byte, edit func(*ipns_pb.IpnsRecord)) []byte {
	t.Helper()
	var pb ipns_pb.IpnsRecord
	if err := proto.Unmarshal(record, &pb); err != nil {
		t.Fatalf("decode record: %v", err)
	}
	edit(&pb)
	out, err := proto.Marshal(&pb)
	if err != nil {
		t.Fatalf("encode record: %v", err)
	}
	return out
}

// replaceRoot swaps the root CID text inside b, keeping its length, as a
// forger rewriting the value of a record would.
func replaceRoot(t testing.TB, b []byte, from, to chunks.Hash) []byte {
	t.Helper()
	f, r := []byte(from.CID().String()), []byte(to.CID().String())
	if len(f) != len(r) || !bytes.Contains(b, f) {
		t.Fatalf("root %s not found in %d bytes", from, len(b))
	}
	return bytes.ReplaceAll(b, f, r)
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// verifyBytes runs the checks a Store runs on an announcement (name empty)
// or on a record resolved for name.
func verifyBytes(data []byte, name peer.ID) (Head, error) {
	p, err := parseRecord(data, name)
	if err != nil {
		return Head{}, err
	}
	return p.verify()
}

func TestVerify(t *testing.T) {
	a, other := newWriterKey(t), newWriterKey(t)
	r1, r2 := chunks.Of([]byte("root 1")), chunks.Of([]byte("root 2"))
	valid := a.announcement(t, r1, 7)
	hour := time.Now().Add(time.Hour)

	h, err := verifyBytes(valid, "")
	if err != nil {
		t.Fatalf("valid announcement refused: %v", err)
	}
	if h.Writer != a.id || h.Root != r1 || h.Seq != 7 || !bytes.Equal(h.Record, valid) || h.EOL.Sub(hour).Abs() > time.Second {
		t.Fatalf("head = %+v, want writer %s root %s seq 7 EOL %v", h, a.id, r1, hour)
	}
	// A record as Kubo stores it, without the key, is a head when resolved
	// under its name.
	bare := signRecord(t, a.sk, rootPath(r1), 3, hour)
	if h, err := verifyBytes(bare, a.id); err != nil || h.Writer != a.id || h.Seq != 3 {
		t.Fatalf("resolved bare record: head %+v, err %v", h, err)
	}

	secp, _, err := ic.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dagPB := cid.NewCidV1(cid.DagProtobuf, mustSum(t, []byte("x")))

	for _, tc := range []struct {
		name string
		data []byte
		as   peer.ID // name resolved under; "" for an announcement
		want error
	}{
		{"empty", nil, "", ErrMalformed},
		{"random bytes", randomBytes(t, 300), "", ErrMalformed},
		{"oversized", randomBytes(t, MaxRecordSize+1), "", ErrOversized},
		{"one MiB", randomBytes(t, 1<<20), "", ErrOversized},
		{"truncated", valid[:len(valid)/2], "", ErrMalformed},
		{"announcement without key", bare, "", ErrMalformed},
		{"resolved under another name", valid, other.id, ErrBadSignature},
		{"value tampered in signed data", replaceRoot(t, valid, r1, r2), "", ErrBadSignature},
		{"value tampered in unsigned v1 field", editRecord(t, valid, func(pb *ipns_pb.IpnsRecord) {
			pb.Value = []byte(rootPath(r2).String())
		}), "", ErrBadSignature},
		{"sequence tampered in unsigned v1 field", editRecord(t, valid, func(pb *ipns_pb.IpnsRecord) {
			seq := uint64(99)
			pb.Sequence = &seq
		}), "", ErrBadSignature},
		{"signed by another key, claims ours", editRecord(t, other.announcement(t, r2, 8), func(pb *ipns_pb.IpnsRecord) {
			pb.PubKey, _ = ic.MarshalPublicKey(a.pk)
		}), "", ErrBadSignature},
		{"signature removed", editRecord(t, valid, func(pb *ipns_pb.IpnsRecord) { pb.SignatureV2 = nil }), "", ErrBadSignature},
		{"garbage public key", editRecord(t, valid, func(pb *ipns_pb.IpnsRecord) { pb.PubKey = []byte{1, 2, 3} }), "", ErrMalformed},
		{"not an ed25519 writer", signRecord(t, secp, rootPath(r1), 1, hour, ipns.WithPublicKey(true)), "", ErrMalformed},
		{"expired", signRecord(t, a.sk, rootPath(r1), 9, time.Now().Add(-time.Minute), ipns.WithPublicKey(true)), "", ErrExpired},
		{"value not a chunk CID", signRecord(t, a.sk, path.FromCid(dagPB), 1, hour, ipns.WithPublicKey(true)), "", ErrMalformed},
		{"value a path into the DAG", signRecord(t, a.sk, mustPath(t, rootPath(r1).String()+"/x"), 1, hour, ipns.WithPublicKey(true)), "", ErrMalformed},
		{"value an IPNS name", signRecord(t, a.sk, mustPath(t, "/ipns/"+a.id.String()), 1, hour, ipns.WithPublicKey(true)), "", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := verifyBytes(tc.data, tc.as)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if want := reasonOf(tc.want); reasonOf(err) != want {
				t.Fatalf("reason %q, want %q", reasonOf(err), want)
			}
		})
	}
}

func mustSum(t testing.TB, b []byte) mh.Multihash {
	t.Helper()
	m, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustPath(t testing.TB, s string) path.Path {
	t.Helper()
	p, err := path.NewPath(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEmbedPublicKeyKeepsSignature(t *testing.T) {
	k := newWriterKey(t)
	root := chunks.Of([]byte("r"))
	bare := signRecord(t, k.sk, rootPath(root), 5, time.Now().Add(time.Hour))
	ann, err := embedPublicKey(bare, k.pk)
	if err != nil {
		t.Fatal(err)
	}
	h, err := verifyBytes(ann, "")
	if err != nil || h.Writer != k.id || h.Root != root || h.Seq != 5 {
		t.Fatalf("head %+v, err %v", h, err)
	}
	if len(ann) > MaxRecordSize/10 {
		t.Fatalf("announcement is %d bytes; expected a few hundred", len(ann))
	}
}

// FuzzVerify feeds arbitrary bytes to the checks every announcement goes
// through: whatever arrives, they return an error or a head, never panic.
func FuzzVerify(f *testing.F) {
	k := newWriterKey(f)
	root := chunks.Of([]byte("fuzz"))
	valid := k.announcement(f, root, 1)
	f.Add(valid)
	f.Add(signRecord(f, k.sk, rootPath(root), 2, time.Now().Add(time.Hour)))
	f.Add(valid[:40])
	f.Add([]byte{})
	f.Add([]byte(strings.Repeat("\xff", 64)))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := verifyBytes(data, "")
		if err == nil && (h.Writer == "" || h.Root.IsEmpty()) {
			t.Fatalf("accepted a head without writer or root: %+v", h)
		}
		_, _ = verifyBytes(data, k.id)
	})
}
