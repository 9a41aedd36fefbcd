package db

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/gctest"
	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// atRoot is a read-only view of a store as of an earlier root.
type atRoot struct {
	chunks.ChunkStore
	root chunks.Hash
}

func (s atRoot) Root(context.Context) (chunks.Hash, error) { return s.root, nil }

// Kubo's garbage collector running in a tight loop beside 1,000 commits
// removes nothing committed. Afterwards every root the store committed is
// in the node and names the commit made with it; Kubo itself walks the
// whole DAG under the last root (refs -r) from its own blocks; and the
// library reads every commit of the history and its value.
func TestGCLoopBesideCommitsLosesNothing(t *testing.T) {
	const commits = 1000
	for _, backend := range []string{"rpc", "embedded"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var n *ipfsnode.Node
			var err error
			repo := filepath.Join(kubotest.TempDir(t), "kubo")
			if backend == "rpc" {
				n, err = ipfsnode.Connect(ctx, kubotest.Start(t, kubotest.WithRepo(repo)).APIAddr)
			} else {
				n, err = ipfsnode.StartEmbedded(ctx, ipfsnode.EmbeddedConfig{Repo: repo})
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = n.Close() })
			dir := t.TempDir()
			st, err := ipfsstore.Open(ctx, n, ipfsstore.Options{Dir: dir, FetchTimeout: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			d := New(st)

			loop := gctest.Start(t, n)
			m, err := value.NewMap(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			roots := make([]chunks.Hash, commits)
			heads := make([]chunks.Hash, commits)
			for i := range commits {
				if m, err = m.Set(ctx, st, key(i), value.Int(int64(i))); err != nil {
					t.Fatalf("edit %d: %v", i, err)
				}
				c, err := d.Commit(ctx, "todo", m, CommitOptions{})
				if err != nil {
					t.Fatalf("commit %d beside GC: %v", i, err)
				}
				heads[i] = c.Hash
				if roots[i], err = st.Root(ctx); err != nil {
					t.Fatal(err)
				}
			}
			runs, removed := loop.Stop(t)
			t.Logf("%d commits beside %d garbage collections, which removed %d blocks", commits, runs, removed)
			if runs < 10 {
				t.Fatalf("only %d garbage collections ran beside %d commits: the test proves little", runs, commits)
			}
			gctest.Once(t, n)

			refs, err := gctest.Refs(ctx, n, roots[commits-1].CID())
			if err != nil {
				t.Fatalf("Kubo cannot walk the DAG under the last root from its own blocks: %v", err)
			}
			t.Logf("Kubo walked %d blocks under the last root", refs)

			fresh, err := ipfsstore.Open(ctx, n, ipfsstore.Options{Dir: dir, FetchTimeout: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			if check, err := fresh.CheckKept(ctx); err != nil || len(check.Missing) != 0 {
				t.Fatalf("chunks the store kept are gone: %d of %d missing (%v)", len(check.Missing), check.Named, err)
			}
			for i, r := range roots {
				head, err := New(atRoot{fresh, r}).Head(ctx, "todo")
				if err != nil || head.Hash != heads[i] {
					t.Fatalf("committed root %d (%s): head %s, %v; want commit %s", i, r, head.Hash, err, heads[i])
				}
			}
			fd := New(fresh)
			i := commits - 1
			for c, err := range fd.History(ctx, heads[commits-1]) {
				if err != nil {
					t.Fatalf("history at commit %d: %v", i, err)
				}
				if c.Hash != heads[i] {
					t.Fatalf("history step %d is %s, want %s", commits-1-i, c.Hash, heads[i])
				}
				mv := c.Value.(value.Map)
				v, ok, err := mv.Get(ctx, fresh, key(i))
				if err != nil || !ok || v != value.Int(int64(i)) || mv.Len() != uint64(i+1) {
					t.Fatalf("value of commit %d: %d entries, %s = %v (%v, %v)", i, mv.Len(), key(i), v, ok, err)
				}
				i--
			}
			if i != -1 {
				t.Fatalf("history ended %d commits early", i+1)
			}
			seen := 0
			for e, err := range m.All(ctx, fresh, nil) {
				if err != nil {
					t.Fatalf("reading the last map: %v", err)
				}
				if e.Key != key(seen) {
					t.Fatalf("entry %d of the last map is %v, want %v", seen, e.Key, key(seen))
				}
				seen++
			}
			if seen != commits {
				t.Fatalf("the last map has %d entries, want %d", seen, commits)
			}
		})
	}
}

func key(i int) value.String { return value.String(fmt.Sprintf("k%04d", i)) }

// A large blob auto-flushes most of its chunks long before the commit that
// links them; garbage collections between the flushes and the commit, and
// after it, remove none of them: the blob reads back byte for byte.
func TestGCBetweenAutoFlushAndCommitOfABlob(t *testing.T) {
	const size = 24 << 20
	for _, backend := range []string{"rpc", "embedded"} {
		t.Run(backend, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			repo := filepath.Join(kubotest.TempDir(t), "kubo")
			var n *ipfsnode.Node
			var err error
			if backend == "rpc" {
				n, err = ipfsnode.Connect(ctx, kubotest.Start(t, kubotest.WithRepo(repo)).APIAddr)
			} else {
				n, err = ipfsnode.StartEmbedded(ctx, ipfsnode.EmbeddedConfig{Repo: repo})
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = n.Close() })
			dir := t.TempDir()
			st, err := ipfsstore.Open(ctx, n, ipfsstore.Options{Dir: dir, FetchTimeout: -1, FlushChunks: 1024})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			data := make([]byte, size)
			_, _ = rand.NewChaCha8([32]byte{1}).Read(data)
			blob, err := value.NewBlob(ctx, st, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if s := st.Stats(); s.Written < 2*1024 || s.Pending == 0 {
				t.Fatalf("the blob did not auto-flush several batches and leave some pending: %+v", s)
			}
			removed := gctest.Once(t, n)
			if _, err := New(st).Commit(ctx, "files", blob, CommitOptions{}); err != nil {
				t.Fatalf("commit after a GC removed %d blocks: %v", removed, err)
			}
			gctest.Once(t, n)
			// Read through a fresh store: the writer's cache would hide a loss.
			fresh, err := ipfsstore.Open(ctx, n, ipfsstore.Options{Dir: dir, FetchTimeout: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer fresh.Close()
			root, err := fresh.Root(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := gctest.Refs(ctx, n, root.CID()); err != nil {
				t.Fatalf("Kubo cannot walk the DAG under the root from its own blocks: %v", err)
			}
			got, err := io.ReadAll(blob.Reader(ctx, fresh))
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("the blob reads back %d of %d bytes, equal %v: %v", len(got), len(data), bytes.Equal(got, data), err)
			}
			if check, err := fresh.CheckKept(ctx); err != nil || len(check.Missing) != 0 || check.Named < 4*1024 {
				t.Fatalf("CheckKept = %d named, %d missing, %v", check.Named, len(check.Missing), err)
			}
		})
	}
}
