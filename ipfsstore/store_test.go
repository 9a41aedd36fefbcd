package ipfsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/kubo/core/corerepo"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/sync/errgroup"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/chunks/chunkstest"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// peerFetchTimeout is the FetchTimeout of stores that must fetch chunks
// from a peer: generous, because a success returns as soon as the block
// arrives and only a failure waits this long.
const peerFetchTimeout = 30 * time.Second

// pollBound bounds every poll of a condition in these tests.
const pollBound = 15 * time.Second

// linkChunk returns a DAG-CBOR list: a text string nonce that makes the chunk
// unique, then one link (CBOR tag 42 over the binary CID with its 0x00
// multibase prefix) per hash, the way the data model links chunks.
func linkedChunk(t testing.TB, nonce string, links ...chunks.Hash) chunks.Chunk {
	t.Helper()
	if len(links)+1 >= 24 || len(nonce) >= 24 {
		t.Fatalf("linkChunk: %d links, nonce of %d bytes: too many for the one-byte headers used here", len(links), len(nonce))
	}
	b := []byte{0x80 | byte(len(links)+1), 0x60 | byte(len(nonce))}
	b = append(b, nonce...)
	for _, h := range links {
		cb := HashToCID(h).Bytes()
		if len(cb) != 24 {
			t.Fatalf("CID of %s has %d bytes, want 24", h, len(cb))
		}
		b = append(b, 0xd8, 0x2a, 0x58, 0x19, 0x00)
		b = append(b, cb...)
	}
	return chunks.NewChunk(b)
}

// linksOf returns the chunk hashes c links to, in order.
func chunkLinks(t testing.TB, c chunks.Chunk) []chunks.Hash {
	t.Helper()
	var hs []chunks.Hash
	err := dagcbor.Links(c.Data(), func(l cid.Cid) error {
		h, err := CIDToHash(l)
		if err != nil {
			return err
		}
		hs = append(hs, h)
		return nil
	})
	if err != nil {
		t.Fatalf("links of chunk %s: %v", c.Hash(), err)
	}
	return hs
}

func chunkHashes(cs ...chunks.Chunk) []chunks.Hash {
	hs := make([]chunks.Hash, len(cs))
	for i, c := range cs {
		hs[i] = c.Hash()
	}
	return hs
}

func mustPut(t testing.TB, s *Store, cs ...chunks.Chunk) {
	t.Helper()
	for _, c := range cs {
		if err := s.Put(ctxT(t), c); err != nil {
			t.Fatalf("Put(%s): %v", c.Hash(), err)
		}
	}
}

func mustCommit(t testing.TB, s *Store, current, last chunks.Hash) {
	t.Helper()
	if err := s.Commit(ctxT(t), current, last); err != nil {
		t.Fatalf("Commit(%s, %s): %v", current, last, err)
	}
}

func mustRoot(t testing.TB, s *Store) chunks.Hash {
	t.Helper()
	r, err := s.Root(ctxT(t))
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	return r
}

func mustGet(t testing.TB, s *Store, want chunks.Chunk) chunks.Chunk {
	t.Helper()
	got, err := s.Get(ctxT(t), want.Hash())
	if err != nil {
		t.Fatalf("Get(%s): %v", want.Hash(), err)
	}
	if got.Hash() != want.Hash() || !bytes.Equal(got.Data(), want.Data()) {
		t.Fatalf("Get(%s) returned other data (%d bytes hashing to %s)", want.Hash(), got.Size(), chunks.Of(got.Data()))
	}
	return got
}

func mustHas(t testing.TB, s *Store, h chunks.Hash) bool {
	t.Helper()
	ok, err := s.Has(ctxT(t), h)
	if err != nil {
		t.Fatalf("Has(%s): %v", h, err)
	}
	return ok
}

func openStoreWith(t testing.TB, n *ipfsnode.Node, opts Options) *Store {
	t.Helper()
	s, err := Open(ctxT(t), n, opts)
	if err != nil {
		t.Fatalf("open store on %s: %v", opts.Dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rootFileOf reads dir's root file as the store wrote it.
func rootFileOf(t testing.TB, dir string) rootState {
	t.Helper()
	st, err := (&rootFile{dir: dir}).read()
	if err != nil {
		t.Fatalf("root file in %s: %v", dir, err)
	}
	return st
}

// keepPins returns the recursive pins of the node that are keep nodes of
// the database in dir, asking the node itself (not the store).
func keepPins(t testing.TB, n *ipfsnode.Node, dir string) []cid.Cid {
	t.Helper()
	id := rootFileOf(t, dir).ID
	var out []cid.Cid
	for _, cs := range nodeRecursivePins(t, n) {
		for _, c := range cs {
			d, err := readBlock(ctxT(t), n.OfflineAPI(), c)
			if err != nil {
				continue
			}
			if nd, err := decodeKeepNode(d); err == nil && nd.db == id {
				out = append(out, c)
			}
		}
	}
	return out
}

// assertKept checks that the pins of the database in dir on its node are
// the keep root its root file names and, at most, the few replaced ones it
// lists as retired; and that no write was left half done.
func assertKept(t testing.TB, n *ipfsnode.Node, dir string) {
	t.Helper()
	st := rootFileOf(t, dir)
	pins := keepPins(t, n, dir)
	if !slices.ContainsFunc(pins, st.Keep.Equals) {
		t.Fatalf("keep pins of the database: %v; its keep root %s is not among them", pins, st.Keep)
	}
	for _, p := range pins {
		if !p.Equals(st.Keep) && !slices.ContainsFunc(st.Retired, p.Equals) {
			t.Fatalf("keep pin %s is neither the keep root %s nor a retired one %v", p, st.Keep, st.Retired)
		}
	}
	if len(st.Retired) > 2*retireBatch {
		t.Fatalf("%d retired keep pins wait to be unpinned; want at most %d", len(st.Retired), 2*retireBatch)
	}
	if in, ok, err := (&rootFile{dir: dir}).readIntent(); ok || err != nil {
		t.Fatalf("a keep intent is left: %v, %v", in, err)
	}
}

// nodeRecursivePins returns the node's recursive pins by name, asking the
// node itself (Kubo's pinner in process, or pin/ls over RPC).
func nodeRecursivePins(t testing.TB, n *ipfsnode.Node) map[string][]cid.Cid {
	t.Helper()
	out := map[string][]cid.Cid{}
	if n.Embedded() {
		for p := range n.Core().Pinning.RecursiveKeys(ctxT(t), true) {
			if p.Err != nil {
				t.Fatalf("list pins: %v", p.Err)
			}
			out[p.Pin.Name] = append(out[p.Pin.Name], p.Pin.Key)
		}
		return out
	}
	var res struct {
		Keys map[string]struct{ Type, Name string }
	}
	err := n.RPC().Request("pin/ls").Option("type", "recursive").Option("names", true).Exec(ctxT(t), &res)
	if err != nil {
		t.Fatalf("pin/ls: %v", err)
	}
	for k, v := range res.Keys {
		c, err := cid.Decode(k)
		if err != nil {
			t.Fatalf("pin/ls: bad CID %q: %v", k, err)
		}
		out[v.Name] = append(out[v.Name], c)
	}
	return out
}

// pollUntil waits (testwait.Until) for cond, for up to pollBound, and
// reports cond's last error on failure.
func pollUntil(t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	testwait.Until(t, pollBound, what, func() (bool, string) {
		ok, err := cond()
		return ok && err == nil, fmt.Sprintf("last error: %v", err)
	})
}

// --- a. Put validation -------------------------------------------------

func TestPutRefusesInvalidDAGCBOR(t *testing.T) {
	d := kubotest.Start(t)
	nodes := map[string]*ipfsnode.Node{"RPC": connect(t, d)}
	emb, _ := startEmbedded(t, false)
	nodes["Embedded"] = emb

	invalid := []struct {
		name string
		data []byte
	}{
		{"break code alone (0xff)", []byte{0xff}},
		{"map with unsorted keys", []byte{0xa2, 0x61, 'b', 0x01, 0x61, 'a', 0x02}},
		{"map with length-first order broken", []byte{0xa2, 0x62, 'a', 'a', 0x01, 0x61, 'b', 0x02}},
		{"map with duplicate keys", []byte{0xa2, 0x61, 'a', 0x01, 0x61, 'a', 0x02}},
		{"trailing bytes after an integer", []byte{0x01, 0x02}},
		{"trailing byte after a byte string", append(chunkstest.CBORBytes([]byte("payload")), 0x00)},
		{"empty", []byte{}},
		{"truncated byte string", []byte{0x45, 1, 2}},
		{"non-minimal integer", []byte{0x18, 0x05}},
		{"indefinite-length list", []byte{0x9f, 0x01, 0xff}},
		{"tag other than 42", []byte{0xc1, 0x01}},
		{"tag 42 over garbage", []byte{0xd8, 0x2a, 0x45, 0x00, 1, 2, 3, 4}},
		{"tag 42 without the 0x00 prefix", append([]byte{0xd8, 0x2a, 0x58, 0x18}, HashToCID(chunks.Of(nil)).Bytes()...)},
		{"undefined", []byte{0xf7}},
		{"half-precision float", []byte{0xf9, 0x3c, 0x00}},
		{"map key not a string", []byte{0xa1, 0x01, 0x02}},
	}
	sortedMap := chunks.NewChunk([]byte{0xa2, 0x61, 'a', 0x01, 0x61, 'b', 0x02})
	null := chunks.NewChunk([]byte{0xf6})
	valid := []chunks.Chunk{sortedMap, null, linkedChunk(t, "links", sortedMap.Hash(), null.Hash())}

	for name, n := range nodes {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, n, dir)
			for _, tc := range invalid {
				c := chunks.NewChunk(tc.data)
				err := s.Put(ctxT(t), c)
				if !errors.Is(err, chunks.ErrInvalidChunk) {
					t.Errorf("Put(%s: %x) = %v, want an error wrapping ErrInvalidChunk", tc.name, tc.data, err)
					continue
				}
				if errors.Is(err, chunks.ErrHashMismatch) {
					t.Errorf("Put(%s): %v also claims a hash mismatch", tc.name, err)
				}
				if mustHas(t, s, c.Hash()) {
					t.Errorf("after the refused Put(%s), Has reports the chunk", tc.name)
				}
			}
			if st := s.Stats(); st.Puts != 0 || st.Pending != 0 || st.BytesPut != 0 {
				t.Errorf("refused chunks were counted: %+v", st)
			}
			mustPut(t, s, valid...)
			mustCommit(t, s, valid[2].Hash(), chunks.Hash{})
			// A fresh store sees the valid chunks in the node, none of the refused ones.
			fresh := openStore(t, n, dir)
			for _, c := range valid {
				mustGet(t, fresh, c)
			}
			for _, tc := range invalid {
				if mustHas(t, fresh, chunks.Of(tc.data)) {
					t.Errorf("refused chunk %s reached the node", tc.name)
				}
			}
		})
	}
}

// The CIDs the store computes are the ones Kubo computes for the same
// bytes, and Kubo sees the hand-made links as IPLD links.
func TestChunkCIDsMatchKubo(t *testing.T) {
	d := kubotest.Start(t)
	n := connect(t, d)
	dir := t.TempDir()
	s := openStore(t, n, dir)

	child := chunkstest.Chunk(t, 300)
	parent := linkedChunk(t, "parent", child.Hash())
	for _, c := range []chunks.Chunk{child, parent} {
		got := strings.TrimSpace(d.IPFSWithInput(t, c.Data(),
			"block", "put", "--cid-codec", "dag-cbor", "--mhtype", "sha2-512", "--mhlen", "20"))
		if want := HashToCID(c.Hash()).String(); got != want {
			t.Fatalf("ipfs block put of chunk %s gave CID %s, want %s", c.Hash(), got, want)
		}
	}
	// Put by Kubo's CLI, read through the store (verified against its hash).
	mustGet(t, s, child)
	mustGet(t, s, parent)
	// Kubo follows the link: dag get prints it as {"/": cid}.
	out := d.IPFS(t, "dag", "get", HashToCID(parent.Hash()).String())
	if want := fmt.Sprintf(`{"/":"%s"}`, HashToCID(child.Hash())); !strings.Contains(out, want) {
		t.Fatalf("ipfs dag get %s = %s; want it to contain the link %s", HashToCID(parent.Hash()), out, want)
	}
}

// commitBound bounds a Commit that should fail at once. It is not a
// performance assertion: a correct store answers in milliseconds, and one
// that waits on the network for a block nobody has only ends when its
// context does, which is what the test detects (by the error, not the time).
const commitBound = 5 * time.Second

// A root whose new chunks link to a chunk the node lacks is not committed:
// Commit refuses it promptly with ErrNotFound (it does not wait on the
// network for the missing block until the caller's context ends) and
// leaves the persisted root and its keep alone.
func TestCommitOfRootWithMissingLinkFailsPromptlyWithErrNotFound(t *testing.T) {
	d := kubotest.Start(t)
	rpcNode := connect(t, d)
	offline, _ := startEmbedded(t, false)
	online, _ := startEmbedded(t, true)

	cases := []struct {
		name string
		node *ipfsnode.Node
		move bool // commit over an existing root rather than the first root
	}{
		{"RPC/first root", rpcNode, false},
		{"RPC/moved root", rpcNode, true},
		{"EmbeddedOffline/first root", offline, false},
		{"EmbeddedOffline/moved root", offline, true},
		{"EmbeddedOnline/moved root", online, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the failing cases each wait commitBound
			dir := t.TempDir()
			s := openStore(t, tc.node, dir)
			var last chunks.Hash
			if tc.move {
				base := chunkstest.Chunk(t, 100)
				mustPut(t, s, base)
				mustCommit(t, s, base.Hash(), chunks.Hash{})
				last = base.Hash()
			}
			missing := chunkstest.Chunk(t, 100) // never put anywhere
			present := chunkstest.Chunk(t, 100)
			var links []chunks.Hash
			if !last.IsEmpty() {
				links = append(links, last)
			}
			holey := linkedChunk(t, "holey", append(links, present.Hash(), missing.Hash())...)
			mustPut(t, s, present, holey)

			ctx, cancel := context.WithTimeout(ctxT(t), commitBound)
			defer cancel()
			err := s.Commit(ctx, holey.Hash(), last)
			if err == nil {
				t.Fatalf("Commit of a root linking to a chunk nobody has succeeded")
			}
			if ctx.Err() != nil {
				t.Errorf("Commit of a root linking to a chunk nobody has waited on the network until its context ended (%v): %v; "+
					"want a prompt error wrapping ErrNotFound", ctx.Err(), err)
			} else if !errors.Is(err, chunks.ErrNotFound) {
				t.Errorf("Commit of a root linking to a chunk nobody has: %v; want an error wrapping chunks.ErrNotFound", err)
			}
			fresh := openStoreWith(t, tc.node, Options{Dir: dir, FetchTimeout: -1})
			if r := mustRoot(t, fresh); r != last {
				t.Fatalf("persisted root moved to %s, want it left at %s", r, last)
			}
			if last.IsEmpty() {
				if pins := keepPins(t, tc.node, dir); len(pins) != 0 {
					t.Fatalf("the refused first commit left keep pins: %v", pins)
				}
			} else {
				assertKept(t, tc.node, dir)
			}
		})
	}
}

// --- b, c. Reading over bitswap ------------------------------------------

func TestGetFetchesFromPeerOverBitswap(t *testing.T) {
	nodes := kubotest.StartCluster(t, 2)
	a, b := nodes[0], nodes[1]
	na, nb := connect(t, a), connect(t, b)

	sa := openStore(t, na, t.TempDir())
	kids := []chunks.Chunk{chunkstest.Chunk(t, 100), chunkstest.Chunk(t, 4096), chunkstest.Chunk(t, 70000)}
	top := linkedChunk(t, "top", chunkHashes(kids...)...)
	all := append([]chunks.Chunk{top}, kids...)
	mustPut(t, sa, all...)
	mustCommit(t, sa, top.Hash(), chunks.Hash{})
	for _, c := range all {
		a.IPFS(t, "block", "stat", "--offline", HashToCID(c.Hash()).String())
	}

	dirB := t.TempDir()
	sb := openStoreWith(t, nb, Options{Dir: dirB, FetchTimeout: peerFetchTimeout})
	// B's peer holds every chunk, yet Has and HasMany answer from B alone.
	absent, err := sb.HasMany(ctxT(t), chunkHashes(all...))
	if err != nil {
		t.Fatalf("HasMany on B: %v", err)
	}
	if len(absent) != len(all) {
		t.Fatalf("HasMany on B reports %d of %d chunks absent; the chunks are only on A, so all must be", len(absent), len(all))
	}
	for _, c := range all {
		if !absent.Has(c.Hash()) {
			t.Fatalf("HasMany on B does not list %s as absent", c.Hash())
		}
		if mustHas(t, sb, c.Hash()) {
			t.Fatalf("Has(%s) on B is true before any Get: Has must not ask the network", c.Hash())
		}
	}

	got := mustGet(t, sb, top) // over bitswap
	links := chunkLinks(t, got)
	if !slices.Equal(links, chunkHashes(kids...)) {
		t.Fatalf("links of the fetched root: %v, want %v", links, chunkHashes(kids...))
	}
	var mu sync.Mutex
	fetched := map[chunks.Hash][]byte{}
	err = sb.GetMany(ctxT(t), links, func(c chunks.Chunk) error {
		mu.Lock()
		defer mu.Unlock()
		fetched[c.Hash()] = c.Data()
		return nil
	})
	if err != nil {
		t.Fatalf("GetMany on B: %v", err)
	}
	for _, k := range kids {
		if d, ok := fetched[k.Hash()]; !ok || !bytes.Equal(d, k.Data()) {
			t.Fatalf("GetMany on B: chunk %s fetched=%v with the right data=%v", k.Hash(), ok, bytes.Equal(d, k.Data()))
		}
	}
	var total int64
	for _, c := range all {
		total += int64(c.Size())
	}
	if st := sb.Stats(); st.BytesRead != total || st.GetMisses != 0 || st.Fetches != int64(len(all)) {
		t.Errorf("B's stats after fetching: BytesRead %d (want %d), GetMisses %d (want 0), Fetches %d (want %d)", st.BytesRead, total, st.GetMisses, st.Fetches, len(all))
	}

	// Now B's node holds them: this store, a fresh one (no cache), and B's CLI agree.
	fresh := openStoreWith(t, nb, Options{Dir: dirB, FetchTimeout: -1})
	absent, err = fresh.HasMany(ctxT(t), chunkHashes(all...))
	if err != nil || len(absent) != 0 {
		t.Fatalf("fresh store on B: HasMany absent = %d chunks, %v; want none", len(absent), err)
	}
	for _, c := range all {
		if !mustHas(t, sb, c.Hash()) {
			t.Errorf("Has(%s) on B is false after Get", c.Hash())
		}
		mustGet(t, fresh, c) // FetchTimeout -1: from B's blockstore only
		b.IPFS(t, "block", "stat", "--offline", HashToCID(c.Hash()).String())
	}
}

func TestEmbeddedOnlineNodeExchangesWithDaemon(t *testing.T) {
	d := kubotest.Start(t)
	nd := connect(t, d)
	emb, _ := startEmbedded(t, true)

	ai, err := peer.AddrInfoFromString(d.P2PAddr())
	if err != nil {
		t.Fatalf("parse %q: %v", d.P2PAddr(), err)
	}
	if err := emb.API().Swarm().Connect(ctxT(t), *ai); err != nil {
		t.Fatalf("embedded node cannot connect to the daemon at %s: %v", d.P2PAddr(), err)
	}
	embID, err := emb.PeerID(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the daemon lists the embedded node as a peer", func() (bool, error) {
		return slices.Contains(d.Peers(t), embID.String()), nil
	})

	// Daemon -> embedded.
	sd := openStore(t, nd, t.TempDir())
	leaf := chunkstest.Chunk(t, 5000)
	top := linkedChunk(t, "from-daemon", leaf.Hash())
	mustPut(t, sd, leaf, top)
	mustCommit(t, sd, top.Hash(), chunks.Hash{})

	se := openStoreWith(t, emb, Options{Dir: t.TempDir(), FetchTimeout: peerFetchTimeout})
	if mustHas(t, se, top.Hash()) || mustHas(t, se, leaf.Hash()) {
		t.Fatalf("the embedded store reports chunks it has never fetched")
	}
	got := mustGet(t, se, top)
	mustGet(t, se, chunks.NewChunk(leaf.Data()))
	if l := chunkLinks(t, got); len(l) != 1 || l[0] != leaf.Hash() {
		t.Fatalf("links of the fetched chunk: %v", l)
	}
	for _, c := range []chunks.Chunk{top, leaf} {
		ok, err := emb.Core().Blockstore.Has(ctxT(t), HashToCID(c.Hash()))
		if err != nil || !ok {
			t.Fatalf("embedded blockstore Has(%s) = %v, %v after Get; want true", c.Hash(), ok, err)
		}
	}

	// Embedded -> daemon.
	se2 := openStore(t, emb, t.TempDir())
	mine := chunkstest.Chunk(t, 3000)
	mustPut(t, se2, mine)
	mustCommit(t, se2, mine.Hash(), chunks.Hash{})
	sd2 := openStoreWith(t, nd, Options{Dir: t.TempDir(), FetchTimeout: peerFetchTimeout})
	if mustHas(t, sd2, mine.Hash()) {
		t.Fatalf("the daemon's store reports a chunk only the embedded node has")
	}
	mustGet(t, sd2, mine)
}

// --- d. Restart ----------------------------------------------------------

func TestRootAndChunksSurviveDaemonRestart(t *testing.T) {
	d := kubotest.Start(t)
	n := connect(t, d)
	dir := t.TempDir()
	s := openStore(t, n, dir)
	kids := []chunks.Chunk{chunkstest.Chunk(t, 10), chunkstest.Chunk(t, 4000), chunkstest.Chunk(t, 30000)}
	mid := linkedChunk(t, "mid", kids[1].Hash(), kids[2].Hash())
	top := linkedChunk(t, "top", kids[0].Hash(), mid.Hash())
	all := append([]chunks.Chunk{top, mid}, kids...)
	mustPut(t, s, all...)
	mustCommit(t, s, top.Hash(), chunks.Hash{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	oldAPI := d.APIAddr

	d.Restart(t)
	t.Logf("API %s before the restart, %s after", oldAPI, d.APIAddr)
	n2 := connect(t, d)
	// The daemon kept the keep root's pin (Open would rebuild a missing one).
	if ok, err := (&rpcBackend{n: n2}).pinned(ctxT(t), rootFileOf(t, dir).Keep); !ok || err != nil {
		t.Fatalf("after a restart the keep root is not pinned: %v", err)
	}
	s2 := openStoreWith(t, n2, Options{Dir: dir, FetchTimeout: -1}) // local node only
	if r := mustRoot(t, s2); r != top.Hash() {
		t.Fatalf("root after restart = %s, want %s", r, top.Hash())
	}
	for _, c := range all {
		mustGet(t, s2, c)
	}
	if st := s2.Stats(); st.CacheHits != 0 {
		t.Errorf("a freshly opened store served %d chunks from memory", st.CacheHits)
	}
	assertKept(t, n2, dir)
}

// --- g. Opening on the wrong node ------------------------------------------

func TestOpenOnNodeWithoutRootFailsWithErrWrongNode(t *testing.T) {
	// Connected peers: the root is one bitswap request away, yet Open must
	// look only at its own node.
	nodes := kubotest.StartCluster(t, 2)
	n1, n2 := connect(t, nodes[0]), connect(t, nodes[1])
	dir1 := t.TempDir()
	s := openStore(t, n1, dir1)
	c := chunkstest.Chunk(t, 100)
	mustPut(t, s, c)
	mustCommit(t, s, c.Hash(), chunks.Hash{})

	dir2 := t.TempDir()
	b, err := os.ReadFile(filepath.Join(dir1, "root.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir2, "root.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctxT(t), n2, Options{Dir: dir2, FetchTimeout: testFetchTimeout})
	if err == nil {
		_ = s2.Close()
		t.Fatalf("Open on a node without the root succeeded")
	}
	if !errors.Is(err, ErrWrongNode) {
		t.Fatalf("Open on a node without the root: %v; want an error wrapping ErrWrongNode", err)
	}
	// Open neither pinned nor fetched anything on the second node.
	if pins := keepPins(t, n2, dir2); len(pins) != 0 {
		t.Fatalf("failed Open left keep pins on the second node: %v", pins)
	}
	ok, err := n2.OfflineAPI().Block().Stat(ctxT(t), path.FromCid(HashToCID(c.Hash())))
	if err == nil {
		t.Fatalf("failed Open fetched the root into the second node: %v", ok)
	}
	// And the first node still opens the original directory.
	if r := mustRoot(t, openStore(t, n1, dir1)); r != c.Hash() {
		t.Fatalf("root on the first node = %s, want %s", r, c.Hash())
	}
}

// --- h. Two stores, one directory ---------------------------------------------

func testConcurrentCommitChain(t *testing.T, n *ipfsnode.Node) {
	const writers, perWriter = 2, 20
	dir := t.TempDir()
	stores := make([]*Store, writers)
	for i := range stores {
		stores[i] = openStore(t, n, dir)
	}
	ctx := ctxT(t)
	var mu sync.Mutex
	committed := chunks.HashSet{}
	var g errgroup.Group
	for w, s := range stores {
		g.Go(func() error {
			for i, attempts := 0, 0; i < perWriter; attempts++ {
				if attempts > 100*perWriter {
					return fmt.Errorf("writer %d: %d commits after %d attempts", w, i, attempts)
				}
				last, err := s.Root(ctx)
				if err != nil {
					return err
				}
				var links []chunks.Hash
				if !last.IsEmpty() {
					links = append(links, last)
				}
				c := linkedChunk(t, fmt.Sprintf("w%d-%d", w, i), links...)
				if err := s.Put(ctx, c); err != nil {
					return fmt.Errorf("writer %d: Put: %w", w, err)
				}
				err = s.Commit(ctx, c.Hash(), last)
				if errors.Is(err, chunks.ErrOptimisticLock) {
					if err := s.Rebase(ctx); err != nil {
						return fmt.Errorf("writer %d: Rebase: %w", w, err)
					}
					continue
				}
				if err != nil {
					return fmt.Errorf("writer %d: Commit: %w", w, err)
				}
				mu.Lock()
				committed.Insert(c.Hash())
				mu.Unlock()
				i++
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	var commits, casFailures int64
	for _, s := range stores {
		commits += s.Stats().Commits
		casFailures += s.Stats().CASFailures
	}
	t.Logf("%d commits, %d CAS failures", commits, casFailures)
	if commits != writers*perWriter || len(committed) != writers*perWriter {
		t.Fatalf("%d commits counted, %d distinct roots committed; want %d", commits, len(committed), writers*perWriter)
	}

	fresh := openStoreWith(t, n, Options{Dir: dir, FetchTimeout: -1})
	top := mustRoot(t, fresh)
	if !committed.Has(top) {
		t.Fatalf("final root %s is none of the committed roots", top)
	}
	walked := chunks.HashSet{}
	for h := top; !h.IsEmpty(); {
		if walked.Has(h) {
			t.Fatalf("cycle at %s", h)
		}
		walked.Insert(h)
		c, err := fresh.Get(ctx, h)
		if err != nil {
			t.Fatalf("chain link %d (%s): %v", len(walked), h, err)
		}
		links := chunkLinks(t, c)
		switch len(links) {
		case 0:
			h = chunks.Hash{}
		case 1:
			h = links[0]
		default:
			t.Fatalf("chain link %s has %d links", h, len(links))
		}
	}
	if len(walked) != writers*perWriter {
		t.Fatalf("the chain from the final root has %d links, want %d: commits were lost", len(walked), writers*perWriter)
	}
	for h := range committed {
		if !walked.Has(h) {
			t.Fatalf("committed root %s is not in the chain: its commit was lost", h)
		}
	}
	assertKept(t, n, dir)
}

func TestConcurrentStoresOnOneDirCommitChainRPC(t *testing.T) {
	d := kubotest.Start(t)
	testConcurrentCommitChain(t, connect(t, d))
}

func TestConcurrentStoresOnOneDirCommitChainEmbedded(t *testing.T) {
	n, _ := startEmbedded(t, false)
	testConcurrentCommitChain(t, n)
}

// --- i. Cache bound ------------------------------------------------------------

func TestReadCacheStaysWithinCacheBytes(t *testing.T) {
	const (
		count     = 2000
		size      = 4 << 10
		cacheSize = 1 << 20
	)
	d := kubotest.Start(t)
	n := connect(t, d)
	dir := t.TempDir()
	w := openStore(t, n, dir)
	cs := make([]chunks.Chunk, count)
	for i := range cs {
		cs[i] = chunkstest.Chunk(t, size)
	}
	mustPut(t, w, cs...)
	if err := w.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	r := openStoreWith(t, n, Options{Dir: dir, CacheBytes: cacheSize, FetchTimeout: -1})
	var total int64
	for i, c := range cs {
		mustGet(t, r, c)
		total += int64(c.Size())
		if b := r.CacheBytes(); b > cacheSize {
			t.Fatalf("after reading %d chunks the cache holds %d bytes, over its bound of %d", i+1, b, cacheSize)
		}
	}
	st := r.Stats()
	if st.CacheHits != 0 || st.BytesRead != total {
		t.Fatalf("first pass over distinct chunks: CacheHits %d (want 0), BytesRead %d (want %d)", st.CacheHits, st.BytesRead, total)
	}
	// The cache is used, not just bounded: it is nearly full.
	if b := r.CacheBytes(); b < cacheSize-2*(size+1024) {
		t.Fatalf("cache holds %d bytes after reading %d bytes; want close to its bound %d", b, total, cacheSize)
	}

	// The most recent chunk comes from memory...
	mustGet(t, r, cs[count-1])
	st2 := r.Stats()
	if st2.CacheHits != st.CacheHits+1 || st2.BytesRead != st.BytesRead {
		t.Fatalf("re-reading the latest chunk: CacheHits %d -> %d, BytesRead %d -> %d; want a cache hit",
			st.CacheHits, st2.CacheHits, st.BytesRead, st2.BytesRead)
	}
	// ...the first one was evicted long ago and comes from the node.
	mustGet(t, r, cs[0])
	st3 := r.Stats()
	if st3.CacheHits != st2.CacheHits || st3.BytesRead != st2.BytesRead+int64(cs[0].Size()) {
		t.Fatalf("re-reading the first chunk: CacheHits %d -> %d, BytesRead %d -> %d; want a read from the node",
			st2.CacheHits, st3.CacheHits, st2.BytesRead, st3.BytesRead)
	}
	if b := r.CacheBytes(); b > cacheSize {
		t.Fatalf("cache holds %d bytes, over its bound of %d", b, cacheSize)
	}
}

// --- j. Missing chunks ------------------------------------------------------------

func TestGetOfChunkNobodyHasIsNotFoundAfterFetchTimeout(t *testing.T) {
	d := kubotest.Start(t)
	n := connect(t, d)
	s := openStoreWith(t, n, Options{Dir: t.TempDir(), FetchTimeout: 300 * time.Millisecond})
	missing := chunkstest.Chunk(t, 100).Hash() // never put anywhere

	ctx := ctxT(t)
	_, err := s.Get(ctx, missing)
	if !errors.Is(err, chunks.ErrNotFound) {
		t.Fatalf("Get of a chunk nobody has: %v; want an error wrapping ErrNotFound", err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Fatalf("Get of a chunk nobody has: %v; the fetch timeout must read as not found, not as a context error", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the caller's context ended: %v", ctx.Err())
	}
	if st := s.Stats(); st.GetMisses != 1 {
		t.Errorf("GetMisses = %d, want 1", st.GetMisses)
	}
	// GetMany skips it silently after the same wait.
	err = s.GetMany(ctx, []chunks.Hash{missing}, func(c chunks.Chunk) error {
		return fmt.Errorf("GetMany delivered %s, which nobody has", c.Hash())
	})
	if err != nil {
		t.Fatalf("GetMany of a chunk nobody has: %v; want nil", err)
	}
}

func TestGetCancelledWhileFetchingReturnsCanceled(t *testing.T) {
	d := kubotest.Start(t)
	n := connect(t, d)
	s := openStoreWith(t, n, Options{Dir: t.TempDir(), FetchTimeout: time.Minute})
	missing := chunkstest.Chunk(t, 100).Hash()
	c := HashToCID(missing)

	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	type result struct {
		c   chunks.Chunk
		err error
	}
	done := make(chan result, 1)
	go func() {
		got, err := s.Get(ctx, missing)
		done <- result{got, err}
	}()
	// The Get is waiting on the network once the daemon wants the block.
	pollUntil(t, "the daemon's bitswap wantlist contains "+c.String(), func() (bool, error) {
		select {
		case r := <-done:
			t.Fatalf("Get returned before it was cancelled: %v, %v", r.c.Hash(), r.err)
		default:
		}
		var out struct{ Keys []cid.Cid }
		if err := n.RPC().Request("bitswap/wantlist").Exec(ctxT(t), &out); err != nil {
			return false, err
		}
		return slices.ContainsFunc(out.Keys, c.Equals), nil
	})
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Fatalf("cancelled Get: %v; want context.Canceled", r.err)
		}
		if errors.Is(r.err, chunks.ErrNotFound) {
			t.Fatalf("cancelled Get: %v; a cancellation is not a miss", r.err)
		}
	case <-time.After(pollBound):
		t.Fatalf("Get did not return within %v of its context being cancelled", pollBound)
	}
	if st := s.Stats(); st.GetMisses != 0 {
		t.Errorf("a cancelled Get counted as a miss: GetMisses = %d", st.GetMisses)
	}
}

// The cache's bound is on memory, so what it charges for an entry must
// cover what the entry keeps alive. A chunk read over RPC arrives in a
// bytes.Buffer whose backing array is up to twice the chunk's length (a
// 4 KiB chunk keeps 8 KiB): charging len(data) lets the cache hold about
// twice its bound. The sum of cap() of the slices the cache serves must stay
// within CacheBytes.
func TestReadCacheRetainedMemoryWithinCacheBytes(t *testing.T) {
	const (
		count     = 400
		size      = 4 << 10
		cacheSize = 1 << 20
	)
	d := kubotest.Start(t)
	rpcNode := connect(t, d)
	emb, _ := startEmbedded(t, false)
	for name, n := range map[string]*ipfsnode.Node{"RPC": rpcNode, "Embedded": emb} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			w := openStore(t, n, dir)
			cs := make([]chunks.Chunk, count)
			for i := range cs {
				cs[i] = chunkstest.Chunk(t, size)
			}
			mustPut(t, w, cs...)
			if err := w.Flush(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			r := openStoreWith(t, n, Options{Dir: dir, CacheBytes: cacheSize, FetchTimeout: -1})
			for _, c := range cs {
				mustGet(t, r, c)
			}
			// Walk back from the newest chunk while reads are cache hits: those
			// are the entries the cache holds (hits only reorder, never evict).
			var retained, accounted int64
			cached := 0
			for i := count - 1; i >= 0; i-- {
				before := r.Stats().CacheHits
				got := mustGet(t, r, cs[i])
				if r.Stats().CacheHits == before {
					break // not cached: evicted earlier
				}
				cached++
				retained += int64(cap(got.Data()))
				accounted += int64(len(got.Data()))
			}
			if cached == 0 || cached == count {
				t.Fatalf("%d of %d chunks cached; the test needs the cache to be full and to have evicted", cached, count)
			}
			t.Logf("%d chunks cached: %d bytes of data, %d bytes of backing arrays, CacheBytes() = %d, bound %d",
				cached, accounted, retained, r.CacheBytes(), cacheSize)
			if retained > cacheSize {
				t.Fatalf("the cache keeps %d bytes of backing arrays alive for %d bytes of chunks (%d cached), over its bound of %d bytes",
					retained, accounted, cached, cacheSize)
			}
		})
	}
}

// Two databases (state directories) on one node may reach the same root
// (two replicas in sync, or two new databases making the same first
// commit). Each must keep its own data whatever the other does: moving one
// database's root must not drop the other's.
func TestDatabasesSharingARootOnOneNodeKeepTheirData(t *testing.T) {
	d := kubotest.Start(t)
	rpcNode := connect(t, d)
	emb, _ := startEmbedded(t, false)
	for name, env := range map[string]struct {
		n  *ipfsnode.Node
		gc func(t *testing.T)
	}{
		"RPC": {rpcNode, func(t *testing.T) { d.IPFS(t, "repo", "gc") }},
		"Embedded": {emb, func(t *testing.T) {
			if err := corerepo.GarbageCollect(emb.Core(), ctxT(t)); err != nil {
				t.Fatalf("garbage collection: %v", err)
			}
		}},
	} {
		t.Run(name, func(t *testing.T) {
			n := env.n
			dirA, dirB := t.TempDir(), t.TempDir()
			sA, sB := openStore(t, n, dirA), openStore(t, n, dirB)
			leaf := chunkstest.Chunk(t, 500)
			shared := linkedChunk(t, "shared", leaf.Hash())
			for _, s := range []*Store{sA, sB} {
				mustPut(t, s, leaf, shared)
				mustCommit(t, s, shared.Hash(), chunks.Hash{})
			}
			assertKept(t, n, dirA)
			assertKept(t, n, dirB)

			// A moves on; B stays at the shared root.
			leaf2 := chunkstest.Chunk(t, 600)
			rootA := linkedChunk(t, "a2", leaf2.Hash())
			mustPut(t, sA, leaf2, rootA)
			mustCommit(t, sA, rootA.Hash(), shared.Hash())
			env.gc(t)

			assertKept(t, n, dirA)
			assertKept(t, n, dirB)
			fb, err := Open(ctxT(t), n, Options{Dir: dirB, FetchTimeout: -1})
			if err != nil {
				t.Fatalf("B cannot reopen its database after A moved its root and a GC ran: %v", err)
			}
			defer fb.Close()
			for _, c := range []chunks.Chunk{shared, leaf} {
				if _, err := fb.Get(ctxT(t), c.Hash()); err != nil {
					t.Errorf("B lost chunk %s: %v", c.Hash(), err)
				}
			}
			// B's Open must not have dropped A's root either.
			env.gc(t)
			fa := openStoreWith(t, n, Options{Dir: dirA, FetchTimeout: -1})
			for _, c := range []chunks.Chunk{rootA, leaf2} {
				if _, err := fa.Get(ctxT(t), c.Hash()); err != nil {
					t.Errorf("A lost chunk %s after B reopened and a GC ran: %v", c.Hash(), err)
				}
			}
		})
	}
}
