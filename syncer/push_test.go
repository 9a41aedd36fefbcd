package syncer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/value"
)

func pushMessage(datas ...[]byte) []byte {
	msg := binary.AppendUvarint([]byte(pushMagic), uint64(len(datas)))
	for _, d := range datas {
		msg = binary.AppendUvarint(msg, uint64(len(d)))
		msg = append(msg, d...)
	}
	return msg
}

func TestParsePush(t *testing.T) {
	a, _ := value.Encode(value.String("a"))
	b, _ := value.Encode(value.Int(42))
	blks, n, err := parsePush(pushMessage(a, b))
	if err != nil {
		t.Fatal(err)
	}
	if len(blks) != 2 || n != len(a)+len(b) {
		t.Fatalf("parsed %d blocks, %d bytes", len(blks), n)
	}
	for i, d := range [][]byte{a, b} {
		if !bytes.Equal(blks[i].RawData(), d) || !blks[i].Cid().Equals(chunks.Of(d).CID()) {
			t.Errorf("block %d = %x %s", i, blks[i].RawData(), blks[i].Cid())
		}
	}
	good := pushMessage(a)
	for name, msg := range map[string][]byte{
		"empty":          nil,
		"no magic":       append([]byte("xxxx"), good[4:]...),
		"zero chunks":    pushMessage(),
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte{}, good...), 0),
		"not dag-cbor":   pushMessage([]byte{0xff}),
		"huge length":    binary.AppendUvarint(binary.AppendUvarint([]byte(pushMagic), 1), 1<<40),
		"too many":       binary.AppendUvarint([]byte(pushMagic), maxPushChunks+1),
		"count past end": binary.AppendUvarint([]byte(pushMagic), 3),
	} {
		if _, _, err := parsePush(msg); !errors.Is(err, errBadPush) {
			t.Errorf("%s: err = %v, want errBadPush", name, err)
		}
	}
}

func FuzzParsePush(f *testing.F) {
	a, _ := value.Encode(value.String("a"))
	f.Add(pushMessage(a))
	f.Add([]byte(pushMagic))
	f.Fuzz(func(t *testing.T, msg []byte) {
		blks, _, err := parsePush(msg)
		if err != nil {
			return
		}
		for _, b := range blks {
			if !b.Cid().Equals(chunks.Of(b.RawData()).CID()) {
				t.Fatalf("block %s does not hash to its CID", b.Cid())
			}
		}
	})
}
