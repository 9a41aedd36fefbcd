package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// withDB opens the default database of the isolated home on the embedded
// node, as the CLI does, and runs fn on it: the CLI has no command to write
// values yet, so tests build their datasets through the library.
func withDB(t *testing.T, home string, fn func(ctx context.Context, d *db.Database)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g := &globalOptions{Home: home, Embedded: true, out: io.Discard}
	if err := g.complete(); err != nil {
		t.Fatal(err)
	}
	s, err := g.openSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}()
	fn(ctx, db.New(s.store))
}

func testMap(t *testing.T, ctx context.Context, d *db.Database, kvs ...any) value.Map {
	t.Helper()
	var es []value.MapEntry
	for j := 0; j < len(kvs); j += 2 {
		es = append(es, value.MapEntry{Key: value.String(kvs[j].(string)), Value: value.Int(kvs[j+1].(int))})
	}
	m, err := value.NewMap(ctx, d.Store(), es...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// diverge makes datasets left and right from a common base {a: 1}.
func diverge(t *testing.T, home string, left, right []any) (base, l, r chunks.Hash) {
	withDB(t, home, func(ctx context.Context, d *db.Database) {
		b, err := d.Commit(ctx, "left", testMap(t, ctx, d, "a", 1), db.CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lc, err := d.Commit(ctx, "left", testMap(t, ctx, d, left...), db.CommitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rc, err := d.Commit(ctx, "right", testMap(t, ctx, d, right...), db.CommitOptions{Parents: []chunks.Hash{b.Hash}})
		if err != nil {
			t.Fatal(err)
		}
		base, l, r = b.Hash, lc.Hash, rc.Hash
	})
	return base, l, r
}

func headOf(t *testing.T, home, ds string) (c db.Commit, entries map[string]int64) {
	withDB(t, home, func(ctx context.Context, d *db.Database) {
		var err error
		if c, err = d.Head(ctx, ds); err != nil {
			t.Fatal(err)
		}
		entries = map[string]int64{}
		if m, ok := c.Value.(value.Map); ok {
			for e, err := range m.All(ctx, d.Store(), nil) {
				if err != nil {
					t.Fatal(err)
				}
				entries[string(e.Key.(value.String))] = int64(e.Value.(value.Int))
			}
		}
	})
	return c, entries
}

func TestMergeDatasets(t *testing.T) {
	home := isolate(t)
	_, l, r := diverge(t, home, []any{"a", 1, "l", 1}, []any{"a", 1, "r", 2})

	var res mergeResult
	out := mustCLI(t, "", "merge", "--embedded", "--json", "left", "right", "--into", "left")
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("merge --json printed %q: %v", out, err)
	}
	if res.Result != "merged" || res.Left != l.String() || res.Right != r.String() || len(res.Bases) != 1 {
		t.Fatalf("result %+v", res)
	}
	head, entries := headOf(t, home, "left")
	want := []chunks.Hash{l, r}
	slices.SortFunc(want, chunks.Hash.Compare)
	if head.Hash.String() != res.Commit || !slices.Equal(head.Parents, want) {
		t.Fatalf("head %+v, want the merge of %v", head, want)
	}
	if entries["a"] != 1 || entries["l"] != 1 || entries["r"] != 2 || len(entries) != 3 {
		t.Fatalf("merged value %v", entries)
	}

	// Again: nothing to do. The other way round: a fast-forward of right.
	if got := mustCLI(t, "", "merge", "--embedded", "left", "right", "--into", "left"); !strings.Contains(got, "already contains") {
		t.Fatalf("second merge printed %q", got)
	}
	got := mustCLI(t, "", "merge", "--embedded", "right", "left", "--into", "right")
	if !strings.Contains(got, "fast-forward: right is now at "+head.Hash.String()) {
		t.Fatalf("merge into right printed %q", got)
	}
	if rh, _ := headOf(t, home, "right"); rh.Hash != head.Hash {
		t.Fatal("right did not fast-forward to the merge")
	}
}

func TestMergeConflicts(t *testing.T) {
	home := isolate(t)
	_, l, _ := diverge(t, home, []any{"a", 2, "b", 1, "l", 1}, []any{"a", 3, "b", 2, "r", 1})

	code, out, errs := cli(t, "", "merge", "--embedded", "left", "right", "--into", "left")
	if code != exitConflict || !strings.Contains(errs, "2 unresolved conflict(s)") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{`CONFLICT: 2 path(s)`, `["a"]: both sides changed the Int differently`, "ancestor: 1", "left:     2", "right:    3", `["b"]`, "ancestor: (absent)"} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if h, _ := headOf(t, home, "left"); h.Hash != l {
		t.Fatal("a failed merge moved the head")
	}

	// --json lists the conflicts as data; the command's error carries
	// exitConflict.
	cmd := newRootCommand()
	var stdout bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"merge", "--embedded", "--json", "left", "right", "--into", "left"})
	err := cmd.ExecuteContext(context.Background())
	if c, ok := exitCodeOf(err); !ok || c != exitConflict {
		t.Fatalf("error %v asks for exit %d (%v), want %d", err, c, ok, exitConflict)
	}
	var res mergeResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("merge --json printed %q: %v", stdout.String(), err)
	}
	if res.Result != "conflict" || len(res.Conflicts) != 2 || res.Conflicts[0].Path != `["a"]` ||
		*res.Conflicts[0].Ancestor != "1" || *res.Conflicts[0].Left != "2" || *res.Conflicts[0].Right != "3" ||
		res.Conflicts[1].Path != `["b"]` || res.Conflicts[1].Ancestor != nil {
		t.Fatalf("result %+v", res)
	}

	// Policies resolve them.
	mustCLI(t, "", "merge", "--embedded", "left", "right", "--into", "theirs", "--policy", "theirs")
	if _, e := headOf(t, home, "theirs"); e["a"] != 3 || e["b"] != 2 || e["l"] != 1 || e["r"] != 1 {
		t.Fatalf("theirs: %v", e)
	}
	// auto is symmetric: either order gives the same commit.
	var x, y mergeResult
	_ = json.Unmarshal([]byte(mustCLI(t, "", "merge", "--embedded", "--json", "left", "right", "--into", "x", "--policy", "auto")), &x)
	_ = json.Unmarshal([]byte(mustCLI(t, "", "merge", "--embedded", "--json", "right", "left", "--into", "y", "--policy", "auto")), &y)
	if x.Commit == "" || x.Commit != y.Commit {
		t.Fatalf("auto merges: %+v and %+v", x, y)
	}
	if _, e := headOf(t, home, "x"); e["a"] != 3 || e["b"] != 2 {
		t.Fatalf("auto: %v", e)
	}
	mustCLI(t, "", "merge", "--embedded", "left", "right", "--into", "left", "--policy", "ours")
	if _, e := headOf(t, home, "left"); e["a"] != 2 || e["b"] != 1 || e["l"] != 1 || e["r"] != 1 {
		t.Fatalf("ours: %v", e)
	}
}

func TestMergeErrorsAndExitCodes(t *testing.T) {
	home := isolate(t)
	_, l, r := diverge(t, home, []any{"a", 2}, []any{"a", 1, "r", 1})
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no into", []string{"merge", "left", "right"}, exitUsage, "--into <dataset> is required"},
		{"bad into", []string{"merge", "left", "right", "--into", "a b"}, exitUsage, "invalid dataset name"},
		{"bad policy", []string{"merge", "left", "right", "--into", "x", "--policy", "coin"}, exitUsage, "unknown merge policy"},
		{"one arg", []string{"merge", "left", "--into", "x"}, exitUsage, "two datasets or commits"},
		{"no such dataset", []string{"merge", "--embedded", "left", "nosuch", "--into", "x"}, exitNotFound, `no dataset "nosuch"`},
		{"garbage", []string{"merge", "--embedded", "left", "no such!", "--into", "x"}, exitUsage, "neither a dataset name nor a commit hash"},
		{"missing commit", []string{"merge", "--embedded", "left", "#s13bo1knd3tt1ubu3b89o3ib78m7gpbb", "--into", "x"}, exitNotFound, "not found"},
		{"into diverged", []string{"merge", "--embedded", "left", "left", "--into", "right"}, exitError, "has commits the result lacks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := cli(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, tc.code, tc.msg)
			}
		})
	}
	// Commits by hash ('#' prefix) and by CID, into a new dataset.
	out := mustCLI(t, "", "merge", "--embedded", "--json", "#"+l.String(), ipfsstore.HashToCID(r).String(), "--into", "new")
	var res mergeResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Result != "merged" || res.Dataset != "new" {
		t.Fatalf("result %+v (%v)", res, err)
	}
	if h, e := headOf(t, home, "new"); h.Hash.String() != res.Commit || e["a"] != 2 || e["r"] != 1 {
		t.Fatalf("new: %s %v", h.Hash, e)
	}
}
