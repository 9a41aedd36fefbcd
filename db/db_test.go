package db

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
	"github.com/noms-ipfs/noms-ipfs/value"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// stores are the chunk stores every database test runs on: memory, and
// ipfsstore on an embedded Kubo node.
func stores(t *testing.T) map[string]func(t *testing.T) chunks.ChunkStore {
	return map[string]func(t *testing.T) chunks.ChunkStore{
		"memory": func(t *testing.T) chunks.ChunkStore { return chunks.NewMemoryStore() },
		"ipfs-embedded": func(t *testing.T) chunks.ChunkStore {
			n, err := ipfsnode.StartEmbedded(ctxT(t), ipfsnode.EmbeddedConfig{Repo: filepath.Join(t.TempDir(), "kubo")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = n.Close() })
			return openIPFSStore(t, n)
		},
		"ipfs-rpc": func(t *testing.T) chunks.ChunkStore {
			n, err := ipfsnode.Connect(ctxT(t), kubotest.Start(t).APIAddr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = n.Close() })
			return openIPFSStore(t, n)
		},
	}
}

func openIPFSStore(t *testing.T, n *ipfsnode.Node) chunks.ChunkStore {
	s, err := ipfsstore.Open(ctxT(t), n, ipfsstore.Options{Dir: t.TempDir(), FetchTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func forEachStore(t *testing.T, fn func(t *testing.T, d *Database)) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) { fn(t, New(open(t))) })
	}
}

func meta(msg string) value.Struct {
	s, err := value.NewStruct("Meta", map[string]value.Value{"message": value.String(msg)})
	if err != nil {
		panic(err)
	}
	return s
}

func mustCommit(t *testing.T, d *Database, ds string, v value.Value, parents ...chunks.Hash) Commit {
	t.Helper()
	opts := CommitOptions{Meta: meta(fmt.Sprint(v))}
	if parents != nil {
		opts.Parents = parents
	}
	c, err := d.Commit(ctxT(t), ds, v, opts)
	if err != nil {
		t.Fatalf("commit %v to %s: %v", v, ds, err)
	}
	return c
}

func TestCommitAndHead(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *Database) {
		ctx := ctxT(t)
		if _, err := d.Head(ctx, "todo"); !errors.Is(err, ErrNoHead) {
			t.Fatalf("Head of a new dataset: %v, want ErrNoHead", err)
		}
		c1 := mustCommit(t, d, "todo", value.String("milk"))
		if c1.Height != 1 || len(c1.Parents) != 0 {
			t.Fatalf("first commit: height %d, parents %v", c1.Height, c1.Parents)
		}
		c2 := mustCommit(t, d, "todo", value.Int(2))
		if c2.Height != 2 || len(c2.Parents) != 1 || c2.Parents[0] != c1.Hash {
			t.Fatalf("second commit: height %d, parents %v", c2.Height, c2.Parents)
		}
		h, err := d.Head(ctx, "todo")
		if err != nil || h.Hash != c2.Hash || !value.Equal(h.Value, value.Int(2)) {
			t.Fatalf("Head = %+v, %v", h, err)
		}
		if m, _ := h.Meta.Get("message"); !value.Equal(m, value.String("2")) {
			t.Fatalf("meta = %v", h.Meta)
		}
		mustCommit(t, d, "a/b-c_d.e", value.Bool(true))
		list, err := d.Datasets(ctx)
		if err != nil || len(list) != 2 || list[0].Name != "a/b-c_d.e" || list[1].Name != "todo" || list[1].Head != c2.Hash {
			t.Fatalf("Datasets = %+v, %v", list, err)
		}
		if err := d.Delete(ctx, "todo"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Head(ctx, "todo"); !errors.Is(err, ErrNoHead) {
			t.Fatalf("Head after Delete: %v", err)
		}
		if err := d.Delete(ctx, "todo"); !errors.Is(err, ErrNoHead) {
			t.Fatalf("Delete of a missing dataset: %v", err)
		}
		if _, err := d.ReadCommit(ctx, c2.Hash); err != nil {
			t.Fatalf("deleted dataset's commit unreadable: %v", err)
		}
		for _, bad := range []string{"", "a b", "é", "x:y"} {
			if _, err := d.Commit(ctx, bad, value.Int(1), CommitOptions{}); !errors.Is(err, ErrInvalidName) {
				t.Fatalf("Commit to %q: %v", bad, err)
			}
		}
	})
}

func TestFastForwardAndSetHead(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *Database) {
		ctx := ctxT(t)
		base := mustCommit(t, d, "main", value.Int(1))
		next := mustCommit(t, d, "feature", value.Int(2), base.Hash)
		if err := d.FastForward(ctx, "main", next.Hash); err != nil {
			t.Fatalf("FastForward to a descendant: %v", err)
		}
		other := mustCommit(t, d, "other", value.Int(3), base.Hash)
		if err := d.FastForward(ctx, "main", other.Hash); !errors.Is(err, ErrMergeNeeded) {
			t.Fatalf("FastForward to a sibling: %v, want ErrMergeNeeded", err)
		}
		if err := d.FastForward(ctx, "main", base.Hash); !errors.Is(err, ErrMergeNeeded) {
			t.Fatalf("FastForward backwards: %v, want ErrMergeNeeded", err)
		}
		if err := d.SetHead(ctx, "main", other.Hash); err != nil {
			t.Fatal(err)
		}
		if h, _ := d.Head(ctx, "main"); h.Hash != other.Hash {
			t.Fatalf("SetHead did not move the head")
		}
		if _, err := d.Commit(ctx, "main", value.Int(9), CommitOptions{Parents: []chunks.Hash{next.Hash}}); !errors.Is(err, ErrMergeNeeded) {
			t.Fatalf("Commit on a non-descendant of the head: %v, want ErrMergeNeeded", err)
		}
		if err := d.SetHead(ctx, "main", chunks.Of([]byte("nothing"))); !errors.Is(err, chunks.ErrNotFound) {
			t.Fatalf("SetHead to a missing commit: %v", err)
		}
	})
}

// Two writers on one storage that both start from the same head: exactly one
// moves it; the other gets ErrOptimisticLock, and no commit is lost.
func TestConcurrentWritersNeverLoseACommit(t *testing.T) {
	storage := chunks.NewMemoryStorage()
	ctx := ctxT(t)
	base := mustCommit(t, New(storage.NewStore()), "ds", value.Int(0))
	const writers = 8
	var wins, locks atomic.Int32
	var wg sync.WaitGroup
	results := make([]Commit, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := New(storage.NewStore())
			c, err := d.Commit(ctx, "ds", value.Int(int64(i+1)), CommitOptions{Parents: []chunks.Hash{base.Hash}})
			switch {
			case err == nil:
				wins.Add(1)
				results[i] = c
			case errors.Is(err, ErrOptimisticLock), errors.Is(err, ErrMergeNeeded):
				locks.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 || locks.Load() != writers-1 {
		t.Fatalf("%d commits won and %d were refused; want 1 and %d", wins.Load(), locks.Load(), writers-1)
	}
	head, _ := New(storage.NewStore()).Head(ctx, "ds")
	found := false
	for _, c := range results {
		found = found || c.Hash == head.Hash
	}
	if !found {
		t.Fatalf("head %s is none of the winners", head.Hash)
	}
}

// Writers of different datasets never get in each other's way.
func TestConcurrentWritersOfOtherDatasetsRetry(t *testing.T) {
	storage := chunks.NewMemoryStorage()
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := New(storage.NewStore())
			for j := 0; j < 10; j++ {
				if _, err := d.Commit(ctx, fmt.Sprint("ds", i), value.Int(int64(j)), CommitOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	list, err := New(storage.NewStore()).Datasets(ctx)
	if err != nil || len(list) != 8 {
		t.Fatalf("Datasets = %v, %v", list, err)
	}
	for _, ds := range list {
		c, _ := New(storage.NewStore()).ReadCommit(ctx, ds.Head)
		if c.Height != 10 {
			t.Fatalf("%s has height %d, want 10: a commit was lost", ds.Name, c.Height)
		}
	}
}

// Collections deep enough to have several levels round-trip through every
// store, committed and read back through a fresh Database.
func TestCollectionsOnEveryStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, d *Database) {
		ctx := ctxT(t)
		st := d.Store()
		mb := value.NewMapBuilder(ctx, st)
		for i := 0; i < 20000; i++ {
			if err := mb.Add(value.String(fmt.Sprintf("k%06d", i)), value.Int(int64(i))); err != nil {
				t.Fatal(err)
			}
		}
		m, err := mb.Map()
		if err != nil {
			t.Fatal(err)
		}
		l, err := value.NewList(ctx, st, value.String("a"), m)
		if err != nil {
			t.Fatal(err)
		}
		c1 := mustCommit(t, d, "coll", l)
		m2, err := m.Set(ctx, st, value.String("k010000"), value.String("changed"))
		if err != nil {
			t.Fatal(err)
		}
		l2, err := l.Splice(ctx, st, 1, 1, m2)
		if err != nil {
			t.Fatal(err)
		}
		c2 := mustCommit(t, d, "coll", l2)

		fresh := New(d.Store())
		head, err := fresh.Head(ctx, "coll")
		if err != nil || head.Hash != c2.Hash {
			t.Fatalf("Head = %v, %v", head.Hash, err)
		}
		got, err := head.Value.(value.List).Get(ctx, st, 1)
		if err != nil {
			t.Fatal(err)
		}
		v, found, err := got.(value.Map).Get(ctx, st, value.String("k010000"))
		if err != nil || !found || !value.Equal(v, value.String("changed")) {
			t.Fatalf("read back %v, %v, %v", v, found, err)
		}
		var diffs int
		err = fresh.Diff(ctx, c1.Hash, c2.Hash, func(value.Difference) error { diffs++; return nil })
		if err != nil || diffs != 1 {
			t.Fatalf("Diff of commits: %d differences, %v; want 1 (the one map entry inside the list)", diffs, err)
		}
	})
}
