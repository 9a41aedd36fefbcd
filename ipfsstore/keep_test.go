package ipfsstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	gopath "path"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/mfs"
	"github.com/ipfs/boxo/path"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/ipfs/kubo/core/coreiface/options"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/sync/errgroup"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/chunks/chunkstest"
	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
	"github.com/noms-ipfs/noms-ipfs/internal/gctest"
	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// keepEnv is a Kubo node to test the keep on, with a way to ask the node
// itself (not the store) whether it holds a block.
type keepEnv struct {
	name   string
	node   *ipfsnode.Node
	daemon *kubotest.Node // nil for the embedded node
}

func (e keepEnv) holds(t testing.TB, c cid.Cid) bool {
	t.Helper()
	_, err := e.node.OfflineAPI().Block().Stat(ctxT(t), path.FromCid(c))
	if err == nil {
		return true
	}
	if !isNotFound(err) {
		t.Fatalf("block stat %s: %v", c, err)
	}
	return false
}

// assertHeld fails t unless the node holds every chunk of cs.
func (e keepEnv) assertHeld(t testing.TB, what string, cs ...chunks.Chunk) {
	t.Helper()
	var mu sync.Mutex
	var lost []chunks.Hash
	var g errgroup.Group
	g.SetLimit(16)
	for _, c := range cs {
		g.Go(func() error {
			_, err := e.node.OfflineAPI().Block().Stat(ctxT(t), path.FromCid(HashToCID(c.Hash())))
			if err != nil && !isNotFound(err) {
				return fmt.Errorf("block stat %s: %w", c.Hash(), err)
			}
			if err != nil {
				mu.Lock()
				lost = append(lost, c.Hash())
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(lost) > 0 {
		t.Fatalf("%s: %d of %d chunks are gone from the node, e.g. %s", what, len(lost), len(cs), lost[0])
	}
}

// putOutsider writes a block to the node behind the store's back, unpinned:
// a garbage collection must remove it, or the test proves nothing.
func (e keepEnv) putOutsider(t testing.TB) cid.Cid {
	t.Helper()
	c := chunkstest.Chunk(t, 300)
	kuboPut(t, e.node, c.Data(), false)
	return HashToCID(c.Hash())
}

// kuboPut writes data as a block with Kubo's own block put, pinned or not.
func kuboPut(t testing.TB, n *ipfsnode.Node, data []byte, pin bool) cid.Cid {
	t.Helper()
	st, err := n.API().Block().Put(ctxT(t), bytes.NewReader(data),
		options.Block.CidCodec("dag-cbor"), options.Block.Hash(mh.SHA2_512, chunks.HashLen), options.Block.Pin(pin))
	if err != nil {
		t.Fatalf("block put: %v", err)
	}
	return st.Path().RootCid()
}

// mkMFSEntry links nd at the MFS path p, as earlier versions did.
func mkMFSEntry(t testing.TB, e keepEnv, p string, nd *merkledag.ProtoNode) {
	t.Helper()
	if e.daemon != nil {
		e.daemon.IPFSWithInput(t, nd.RawData(), "block", "put", "--cid-codec", "dag-pb")
		e.daemon.IPFS(t, "files", "cp", "-p", "/ipfs/"+nd.Cid().String(), p)
		return
	}
	core := e.node.Core()
	if err := core.DAG.Add(ctxT(t), nd); err != nil {
		t.Fatal(err)
	}
	if err := mfs.Mkdir(core.FilesRoot, gopath.Dir(p), mfs.MkdirOpts{Mkparents: true}); err != nil {
		t.Fatal(err)
	}
	if err := mfs.PutNode(core.FilesRoot, p, nd); err != nil {
		t.Fatal(err)
	}
	if _, err := mfs.FlushPath(ctxT(t), core.FilesRoot, "/"); err != nil {
		t.Fatal(err)
	}
}

func mfsExists(t testing.TB, e keepEnv, p string) bool {
	t.Helper()
	if e.daemon != nil {
		err := e.node.RPC().Request("files/stat", p).Exec(ctxT(t), nil)
		return err == nil
	}
	_, err := mfs.Lookup(e.node.Core().FilesRoot, p)
	return err == nil
}

// keepEnvs starts a daemon and an embedded node with their repos in memory
// where the machine allows (kubotest.TempDir): these tests collect garbage
// often, and what a GC may remove depends on Kubo's locks, not the disk.
func keepEnvs(t *testing.T) []keepEnv {
	d := kubotest.Start(t, kubotest.WithRepo(filepath.Join(kubotest.TempDir(t), "daemon")))
	emb, err := ipfsnode.StartEmbedded(ctxT(t), ipfsnode.EmbeddedConfig{Repo: filepath.Join(kubotest.TempDir(t), "kubo")})
	if err != nil {
		t.Fatalf("start embedded Kubo: %v", err)
	}
	t.Cleanup(func() {
		if err := emb.Close(); err != nil {
			t.Errorf("stop embedded Kubo: %v", err)
		}
	})
	return []keepEnv{{name: "RPC", node: connect(t, d), daemon: d}, {name: "Embedded", node: emb}}
}

// Everything a store writes, committed or only flushed, before and after
// its root moves, outlives garbage collection; a block put behind the
// store's back does not (so the collection ran). The database's pins are
// its keep root and the few it replaced.
func TestGCKeepsEverythingTheStoreWrote(t *testing.T) {
	for _, env := range keepEnvs(t) {
		t.Run(env.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, env.node, dir)
			grandchild := chunkstest.Chunk(t, 1000)
			child1 := linkedChunk(t, "child1", grandchild.Hash())
			child2 := chunkstest.Chunk(t, 2000)
			root1 := linkedChunk(t, "root1", child1.Hash(), child2.Hash())
			mustPut(t, s, grandchild, child1, child2, root1)
			mustCommit(t, s, root1.Hash(), chunks.Hash{})
			flushed := chunkstest.Chunk(t, 500)
			mustPut(t, s, flushed)
			if err := s.Flush(ctxT(t)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			newLeaf := chunkstest.Chunk(t, 700)
			root2 := linkedChunk(t, "root2", child1.Hash(), newLeaf.Hash())
			mustPut(t, s, newLeaf, root2)
			mustCommit(t, s, root2.Hash(), root1.Hash())
			outsider := env.putOutsider(t)

			gctest.Once(t, env.node)
			if env.holds(t, outsider) {
				t.Fatalf("the garbage collection kept an unpinned block: it did not run")
			}
			all := []chunks.Chunk{grandchild, child1, child2, root1, flushed, newLeaf, root2}
			env.assertHeld(t, "after GC", all...)
			assertKept(t, env.node, dir)
			fresh := openStoreWith(t, env.node, Options{Dir: dir, FetchTimeout: -1})
			if r := mustRoot(t, fresh); r != root2.Hash() {
				t.Fatalf("root = %s, want %s", r, root2.Hash())
			}
			for _, c := range all {
				mustGet(t, fresh, c)
			}
			info, err := fresh.Keep(ctxT(t))
			if err != nil || !info.Root.Equals(rootFileOf(t, dir).Keep) || info.Chunks != uint64(len(all)) {
				t.Fatalf("Keep() = %+v, %v; want the recorded keep root naming %d chunks", info, err, len(all))
			}
			if check, err := fresh.CheckKept(ctxT(t)); err != nil || check.Named != len(all) || len(check.Missing) != 0 {
				t.Fatalf("CheckKept = %+v, %v; want %d chunks named, none missing", check, err, len(all))
			}
		})
	}
}

// Auto-flushed chunks are kept from the moment they are written: a GC
// between the flushes and the Commit that finally links them (a large blob
// written in pieces) removes none of them.
func TestGCBetweenAutoFlushAndCommit(t *testing.T) {
	for _, env := range keepEnvs(t) {
		t.Run(env.name, func(t *testing.T) {
			s := openStoreWith(t, env.node, Options{Dir: t.TempDir(), FetchTimeout: -1, FlushChunks: 64})
			var pieces []chunks.Chunk
			var index []chunks.Hash
			for i := range 300 {
				c := chunkstest.Chunk(t, 4096)
				pieces = append(pieces, c)
				mustPut(t, s, c)
				if i%20 == 19 {
					ic := linkedChunk(t, fmt.Sprint("index", i), chunkHashes(pieces[i-19:i+1]...)...)
					pieces = append(pieces, ic)
					index = append(index, ic.Hash())
					mustPut(t, s, ic)
				}
			}
			if st := s.Stats(); st.Written == 0 {
				t.Fatalf("no auto-flush happened: %+v", st)
			}
			gctest.Once(t, env.node)
			top := linkedChunk(t, "blob", index...)
			mustPut(t, s, top)
			mustCommit(t, s, top.Hash(), chunks.Hash{})
			gctest.Once(t, env.node)
			env.assertHeld(t, "after GCs between auto-flush and commit", append(pieces, top)...)
		})
	}
}

// A write that dies at any step (the process killed) loses nothing
// committed: the next Open undoes or finishes it, leaving the last recorded
// root readable, every chunk under it kept through GC, one keep pin, and a
// store that commits again.
func TestWriteThatDiesAtAnyStepLosesNothing(t *testing.T) {
	steps := []string{"intent", "pinned", "written", "recorded"}
	for _, env := range keepEnvs(t) {
		for _, step := range steps {
			t.Run(env.name+"/"+step, func(t *testing.T) {
				dir := t.TempDir()
				s := openStore(t, env.node, dir)
				leaf := chunkstest.Chunk(t, 1500)
				base := linkedChunk(t, "base", leaf.Hash())
				mustPut(t, s, leaf, base)
				mustCommit(t, s, base.Hash(), chunks.Hash{})

				leaf2 := chunkstest.Chunk(t, 2500)
				next := linkedChunk(t, "next", base.Hash(), leaf2.Hash())
				mustPut(t, s, leaf2, next)
				s.crashAt = func(at string) bool { return at == step }
				if err := s.Commit(ctxT(t), next.Hash(), base.Hash()); !errors.Is(err, errCrashed) {
					t.Fatalf("Commit crashing at %q: err = %v", step, err)
				}
				_ = s.Close() // the process is gone; nothing else runs

				want, under := base.Hash(), []chunks.Chunk{base, leaf}
				if slices.Index(steps, step) >= slices.Index(steps, "recorded") {
					want, under = next.Hash(), []chunks.Chunk{next, leaf2, base, leaf}
				}
				r := openStoreWith(t, env.node, Options{Dir: dir, FetchTimeout: -1})
				if got := mustRoot(t, r); got != want {
					t.Fatalf("root after a crash at %q = %s, want %s", step, got, want)
				}
				assertKept(t, env.node, dir)
				gctest.Once(t, env.node)
				env.assertHeld(t, "chunks under the recorded root after the crash and a GC", under...)

				again := chunkstest.Chunk(t, 800)
				top := linkedChunk(t, "again", want, again.Hash())
				mustPut(t, r, leaf2, next, again, top)
				mustCommit(t, r, top.Hash(), want)
				gctest.Once(t, env.node)
				env.assertHeld(t, "after the next commit and a GC", top, again, next, leaf2, base, leaf)
				assertKept(t, env.node, dir)
			})
		}
	}
}

// When no intent says what a dead write pinned (the file torn), Open finds
// the database's stray keep nodes among the node's pins and drops them,
// and only them: another database's keep survives.
func TestOpenSweepsStrayKeepPinsWithoutIntent(t *testing.T) {
	env := keepEnvs(t)[0]
	dir, other := t.TempDir(), t.TempDir()
	so := openStore(t, env.node, other)
	oc := chunkstest.Chunk(t, 100)
	mustPut(t, so, oc)
	mustCommit(t, so, oc.Hash(), chunks.Hash{})

	s := openStore(t, env.node, dir)
	base := chunkstest.Chunk(t, 100)
	mustPut(t, s, base)
	mustCommit(t, s, base.Hash(), chunks.Hash{})
	next := linkedChunk(t, "next", base.Hash())
	mustPut(t, s, next)
	s.crashAt = func(at string) bool { return at == "written" }
	if err := s.Commit(ctxT(t), next.Hash(), base.Hash()); !errors.Is(err, errCrashed) {
		t.Fatalf("Commit: %v", err)
	}
	_ = s.Close()
	if n := len(keepPins(t, env.node, dir)); n != 2 {
		t.Fatalf("the dead write left %d keep pins, want 2 (old and new root)", n)
	}
	if err := os.WriteFile(filepath.Join(dir, intentFileName), []byte(`{"pins": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	openStore(t, env.node, dir)
	assertKept(t, env.node, dir)
	assertKept(t, env.node, other)
}

// The database's keep pins removed by hand (`ipfs pin rm`) are rebuilt at
// the next Open from the chunks under the root, and keep them through GC.
func TestOpenRebuildsAKeepPinRemovedByHand(t *testing.T) {
	for _, env := range keepEnvs(t) {
		t.Run(env.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, env.node, dir)
			// More than two keep leaves' worth, so the rebuilt keep freezes some.
			var all []chunks.Chunk
			var mids []chunks.Hash
			for i := range 2200 { // a multiple of 20: every chunk under the root
				c := chunkstest.Chunk(t, 40)
				all = append(all, c)
				if i%20 == 19 {
					mid := linkedChunk(t, fmt.Sprint("mid", i), chunkHashes(all[len(all)-20:]...)...)
					all = append(all, mid)
					mids = append(mids, mid.Hash())
				}
			}
			var tops []chunks.Hash
			for i := 0; i < len(mids); i += 20 {
				up := linkedChunk(t, fmt.Sprint("up", i), mids[i:min(i+20, len(mids))]...)
				all = append(all, up)
				tops = append(tops, up.Hash())
			}
			top := linkedChunk(t, "top", tops...)
			all = append(all, top)
			mustPut(t, s, all...)
			mustCommit(t, s, top.Hash(), chunks.Hash{})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := newBackend(env.node).unpin(ctxT(t), keepPins(t, env.node, dir)); err != nil {
				t.Fatal(err)
			}
			if n := len(keepPins(t, env.node, dir)); n != 0 {
				t.Fatalf("%d keep pins after removing it by hand", n)
			}
			r := openStore(t, env.node, dir)
			assertKept(t, env.node, dir)
			gctest.Once(t, env.node)
			env.assertHeld(t, "after GC", all...)
			if check, err := r.CheckKept(ctxT(t)); err != nil || check.Named != len(all) || len(check.Missing) != 0 {
				t.Fatalf("CheckKept of the rebuilt keep = %d named, %d missing, %v; want %d named", check.Named, len(check.Missing), err, len(all))
			}
		})
	}
}

// A kept chunk removed by hand (`ipfs block rm`), as a database read on
// demand lacks chunks it never read, does not stop Kubo's GC: the keep
// names chunks by raw CIDs, which GC never reads.
func TestGCRunsWhenKeptChunksAreMissing(t *testing.T) {
	env := keepEnvs(t)[0]
	dir := t.TempDir()
	s := openStore(t, env.node, dir)
	gone, kept := chunkstest.Chunk(t, 100), chunkstest.Chunk(t, 200)
	mid := linkedChunk(t, "mid", gone.Hash())
	top := linkedChunk(t, "top", mid.Hash(), kept.Hash())
	mustPut(t, s, gone, kept, mid, top)
	mustCommit(t, s, top.Hash(), chunks.Hash{})
	env.daemon.IPFS(t, "block", "rm", HashToCID(gone.Hash()).String())
	gctest.Once(t, env.node)
	env.assertHeld(t, "after GC", top, mid, kept)
	if env.holds(t, HashToCID(gone.Hash())) {
		t.Fatalf("the removed block is back")
	}
	check, err := s.CheckKept(ctxT(t))
	if err != nil || check.Named != 4 || len(check.Missing) != 1 || check.Missing[0] != gone.Hash() {
		t.Fatalf("CheckKept = %+v, %v; want 4 named and the removed %s missing", check, err, gone.Hash())
	}
}

// A peer that commits on top of another peer's data holds only the chunks
// it wrote and read; GC on it runs (a recursive pin of its root would make
// every GC fail on the chunks it never fetched) and keeps what it wrote.
func TestGCRunsOverAPartlyLocalDAG(t *testing.T) {
	nodes := kubotest.StartCluster(t, 2)
	na, nb := connect(t, nodes[0]), connect(t, nodes[1])
	sa := openStore(t, na, t.TempDir())
	deep := chunkstest.Chunk(t, 3000)
	aTop := linkedChunk(t, "a", deep.Hash())
	mustPut(t, sa, deep, aTop)
	mustCommit(t, sa, aTop.Hash(), chunks.Hash{})

	dirB := t.TempDir()
	sb := openStoreWith(t, nb, Options{Dir: dirB, FetchTimeout: peerFetchTimeout})
	mustGet(t, sb, aTop) // fetched from A; deep stays on A
	mine := chunkstest.Chunk(t, 400)
	bTop := linkedChunk(t, "b", aTop.Hash(), mine.Hash())
	mustPut(t, sb, mine, bTop)
	mustCommit(t, sb, bTop.Hash(), chunks.Hash{})
	envB := keepEnv{node: nb, daemon: nodes[1]}
	if envB.holds(t, HashToCID(deep.Hash())) {
		t.Fatalf("B holds A's deep chunk; the test needs a partly local DAG")
	}
	gctest.Once(t, nb)
	envB.assertHeld(t, "B's own chunks after GC", bTop, mine)
	assertKept(t, nb, dirB)
}

// WriteKept writes at once, kept, without a commit.
func TestWriteKept(t *testing.T) {
	env := keepEnvs(t)[0]
	dir := t.TempDir()
	s := openStore(t, env.node, dir)
	wrapper := linkedChunk(t, "wrapper", chunkstest.Chunk(t, 10).Hash()) // links a chunk nobody has
	if err := s.WriteKept(ctxT(t), wrapper); err != nil {
		t.Fatalf("WriteKept: %v", err)
	}
	gctest.Once(t, env.node)
	env.assertHeld(t, "after GC", wrapper)
	if r := mustRoot(t, s); !r.IsEmpty() {
		t.Fatalf("WriteKept moved the root to %s", r)
	}
	assertKept(t, env.node, dir)
}

// Stores of earlier versions, kept by an MFS entry
// (/noms-ipfs/<id>/<root>) or by a recursive pin (noms-ipfs/<id>), become
// kept by a keep root at Open; the old protection is removed once the new
// one stands, and the data survives GC.
func TestOpenConvertsStoresOfEarlierVersions(t *testing.T) {
	for _, era := range []string{"MFS entry", "root pin"} {
		for _, env := range keepEnvs(t) {
			t.Run(era+"/"+env.name, func(t *testing.T) {
				api := env.node.API()
				leaf := chunkstest.Chunk(t, 1000)
				mid := linkedChunk(t, "mid", leaf.Hash())
				top := linkedChunk(t, "top", mid.Hash())
				for _, c := range []chunks.Chunk{leaf, mid, top} {
					kuboPut(t, env.node, c.Data(), false)
				}
				dir, id := t.TempDir(), "0123456789abcdef"
				old := fmt.Sprintf(`{"id": %q, "root": %q}`, id, top.Hash())
				if err := os.WriteFile(filepath.Join(dir, rootFileName), []byte(old), 0o600); err != nil {
					t.Fatal(err)
				}
				lock := cborx.AppendText(cborx.AppendText(cborx.AppendHead(nil, cborx.Map, 1), "noms-ipfs"), "import")
				if c := kuboPut(t, env.node, lock, true); !c.Equals(legacyImportLock) {
					t.Fatalf("the old import lock block is %s, want %s", c, legacyImportLock)
				}
				switch era {
				case "MFS entry":
					nd := merkledag.NodeWithData(ft.FolderPBData())
					if err := nd.AddRawLink("root", &ipld.Link{Cid: HashToCID(top.Hash())}); err != nil {
						t.Fatal(err)
					}
					mkMFSEntry(t, env, "/noms-ipfs/"+id+"/"+top.Hash().String(), nd)
				case "root pin":
					if err := api.Pin().Add(ctxT(t), path.FromCid(HashToCID(top.Hash())), options.Pin.Name("noms-ipfs/"+id)); err != nil {
						t.Fatal(err)
					}
				}

				s := openStoreWith(t, env.node, Options{Dir: dir, FetchTimeout: -1})
				if r := mustRoot(t, s); r != top.Hash() {
					t.Fatalf("root = %s, want %s", r, top.Hash())
				}
				if st := rootFileOf(t, dir); st.Format != formatKeep || !st.Keep.Defined() {
					t.Fatalf("root file after conversion: %+v", st)
				}
				assertKept(t, env.node, dir)
				for name, cs := range nodeRecursivePins(t, env.node) {
					for _, c := range cs {
						if name == "noms-ipfs/"+id || c.Equals(legacyImportLock) || c.Equals(HashToCID(top.Hash())) {
							t.Fatalf("an earlier version's pin %q (%s) is still there", name, c)
						}
					}
				}
				if mfsExists(t, env, "/noms-ipfs") {
					t.Fatalf("the earlier version's MFS directory /noms-ipfs is still there")
				}
				gctest.Once(t, env.node)
				env.assertHeld(t, "after conversion and GC", top, mid, leaf)
			})
		}
	}
}

// Each write replaces the keep root; the replaced ones are unpinned in
// batches, so a database's pins stay few however long it runs, and a GC
// reclaims the replaced roots' blocks.
func TestReplacedKeepRootsAreUnpinnedInBatches(t *testing.T) {
	env := keepEnvs(t)[0]
	dir := t.TempDir()
	s := openStore(t, env.node, dir)
	var last chunks.Hash
	for i := range 3 * retireBatch {
		c := linkedChunk(t, fmt.Sprint("c", i))
		mustPut(t, s, c)
		mustCommit(t, s, c.Hash(), last)
		last = c.Hash()
		if n := len(keepPins(t, env.node, dir)); n > retireBatch+1 {
			t.Fatalf("after %d commits the database has %d keep pins, want at most %d", i+1, n, retireBatch+1)
		}
	}
	assertKept(t, env.node, dir)
	if removed := gctest.Once(t, env.node); removed < retireBatch {
		t.Fatalf("GC removed %d blocks; want at least the %d unpinned keep roots", removed, retireBatch)
	}
	check, err := s.CheckKept(ctxT(t))
	if err != nil || check.Named != 3*retireBatch || len(check.Missing) != 0 {
		t.Fatalf("CheckKept = %+v, %v", check, err)
	}
}

// A keep of more than one leaf (and, past keepFanout leaves, one level up)
// decodes to the names that went in, and the GC keeps every one.
func TestKeepTreeFreezesLeavesAndLevels(t *testing.T) {
	r := &keepRoot{db: "test"}
	var all []chunks.Hash
	var frozen int
	for i := 0; i < keepLeafSize*keepFanout+keepLeafSize+7; i += 5000 {
		n := min(5000, keepLeafSize*keepFanout+keepLeafSize+7-i)
		hs := make([]chunks.Hash, n)
		for j := range hs {
			hs[j] = chunks.Of([]byte(fmt.Sprint(i + j)))
		}
		all = append(all, hs...)
		var nodes []blocks.Block
		r, nodes = r.add(hs)
		frozen += len(nodes)
	}
	if len(r.levels) != 2 || len(r.levels[1]) != 1 || len(r.levels[0]) != 1 || len(r.tail) != 7 {
		t.Fatalf("keep of %d names: %d levels (%d level-1 nodes, %d leaves), tail %d", len(all), len(r.levels), len(r.levels[1]), len(r.levels[0]), len(r.tail))
	}
	if want := keepFanout + 1 + 1; frozen != want {
		t.Fatalf("%d nodes frozen, want %d leaves and 1 level node", frozen, want)
	}
	nd, err := decodeKeepNode(r.block().RawData())
	if err != nil || nd.kind != kindRoot || nd.root.count != uint64(len(all)) || !slices.Equal(nd.root.tail, r.tail) {
		t.Fatalf("decoded root: %+v, %v", nd, err)
	}
}

// Keep nodes are read back from the node, and in a sweep from whatever
// else is pinned in the chunk CID form: any bytes decode to a node or an
// error, never a panic, and a root re-encodes to the same bytes.
func FuzzDecodeKeepNode(f *testing.F) {
	r, _ := (&keepRoot{db: "fuzz"}).add([]chunks.Hash{chunks.Of([]byte("a")), chunks.Of([]byte("b"))})
	f.Add(r.block().RawData())
	f.Add(encodeKeepList("fuzz", kindLeaf, "chunks", rawLinks([]chunks.Hash{chunks.Of(nil)})))
	f.Add(encodeKeepList("fuzz", kindLevel, "nodes", []cid.Cid{r.block().Cid()}))
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		nd, err := decodeKeepNode(data)
		if err != nil {
			return
		}
		if nd.kind == kindRoot {
			if again := nd.root.block().RawData(); !bytes.Equal(again, data) {
				t.Fatalf("root re-encodes differently:\n%x\n%x", data, again)
			}
		}
	})
}

// A write of another process that dies is undone by the next write of a
// store that stayed open on the same directory, not only by an Open.
func TestOpenStoreUndoesAnotherProcessDeadWrite(t *testing.T) {
	env := keepEnvs(t)[0]
	dir := t.TempDir()
	dead, live := openStore(t, env.node, dir), openStore(t, env.node, dir)
	base := chunkstest.Chunk(t, 100)
	mustPut(t, dead, base)
	mustCommit(t, dead, base.Hash(), chunks.Hash{})
	doomed := linkedChunk(t, "doomed", base.Hash())
	mustPut(t, dead, doomed)
	dead.crashAt = func(at string) bool { return at == "written" }
	if err := dead.Commit(ctxT(t), doomed.Hash(), base.Hash()); !errors.Is(err, errCrashed) {
		t.Fatalf("Commit: %v", err)
	}
	if n := len(keepPins(t, env.node, dir)); n != 2 {
		t.Fatalf("the dead write left %d keep pins, want 2", n)
	}
	if err := live.Rebase(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	next := linkedChunk(t, "next", base.Hash())
	mustPut(t, live, next)
	mustCommit(t, live, next.Hash(), base.Hash())
	assertKept(t, env.node, dir)
	gctest.Once(t, env.node)
	env.assertHeld(t, "after the live store's commit and a GC", next, base)
}
