package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/merge"
	"github.com/noms-ipfs/noms-ipfs/syncer"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// syncBuffer is an output buffer a running command writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// background runs the CLI until stop, which cancels it as SIGINT would
// and returns its exit code.
type background struct {
	out, errs syncBuffer
	cancel    context.CancelFunc
	done      chan struct{}
	exit      int
}

func runBackground(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bg := &background{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(bg.done)
		bg.exit = run(ctx, args, strings.NewReader(""), &bg.out, &bg.errs)
	}()
	t.Cleanup(func() { bg.stop(t) })
	return bg
}

// stop cancels the command and returns its exit code; it may be called
// again.
func (bg *background) stop(t *testing.T) int {
	t.Helper()
	bg.cancel()
	select {
	case <-bg.done:
		return bg.exit
	case <-time.After(time.Minute):
		t.Fatalf("noms-ipfs did not stop within a minute of SIGINT\nstdout: %s\nstderr: %s", bg.out.String(), bg.errs.String())
		return -1
	}
}

// settleArgs parses sync's flags as the CLI would and settles them.
func settleArgs(t *testing.T, home string, args ...string) (syncSettings, *globalOptions, error) {
	t.Helper()
	g := &globalOptions{Home: home}
	opts := &syncOptions{}
	cmd := &cobra.Command{Use: "sync"}
	g.AddFlags(cmd.Flags())
	opts.AddFlags(cmd.Flags())
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	if err := g.complete(); err != nil {
		t.Fatal(err)
	}
	set, err := opts.settle(cmd, g)
	return set, g, err
}

const (
	keyA = "12D3KooWBrz5aoukBCdp91wxDxwGmdmtnHySw7U1hcbdbXgW1YFJ"
	keyB = "12D3KooWNhy6B8iY4cFUS7AgTcX7nhWZEPqKUshnTyXPdhC53XzJ"
)

func TestSyncSettingsPrecedence(t *testing.T) {
	home := isolate(t)
	for _, k := range []string{envDatasets, envMode, envAllow, envOpen, envAnnounce, envPolicy, envKey, envPeers, envSyncConfig, envDB} {
		t.Setenv(k, "")
	}
	// Defaults.
	set, g, err := settleArgs(t, home, "--open")
	if err != nil {
		t.Fatal(err)
	}
	if set.mode != syncer.Shared || set.policyID != "auto" || set.key != "noms-ipfs-default" || len(set.datasets) != 0 || !set.open || g.DB != "default" {
		t.Errorf("defaults: %+v db=%s", set, g.DB)
	}
	// The config file fills what flags and environment leave unset.
	cfg := `{"db": "todo", "mode": "replicate", "allow": ["` + keyA + `"], "datasets": ["a", "b"], "announce": "3s", "policy": "ours", "peers": ["/ip4/127.0.0.1/tcp/4001/p2p/` + keyB + `"]}`
	if err := os.WriteFile(filepath.Join(home, "sync.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	set, g, err = settleArgs(t, home)
	if err != nil {
		t.Fatal(err)
	}
	if set.mode != syncer.Replicate || set.policyID != "ours" || g.DB != "todo" || set.key != "noms-ipfs-todo" ||
		len(set.allowed) != 1 || set.allowed[0].String() != keyA || strings.Join(set.datasets, ",") != "a,b" ||
		set.announce != 3*time.Second || len(set.peers) != 1 || set.peers[0].ID.String() != keyB {
		t.Errorf("from the config file: %+v db=%s", set, g.DB)
	}
	// Environment beats the file; flags beat both.
	t.Setenv(envMode, "shared")
	t.Setenv(envDatasets, "x, y")
	t.Setenv(envPolicy, "theirs")
	set, _, err = settleArgs(t, home, "--policy", "fail", "--dataset", "z")
	if err != nil {
		t.Fatal(err)
	}
	if set.mode != syncer.Shared || set.policyID != "fail" || strings.Join(set.datasets, ",") != "z" {
		t.Errorf("env and flags: %+v", set)
	}
	// An explicit config file must exist.
	if _, _, err := settleArgs(t, home, "--open", "--config", filepath.Join(home, "nope.json")); err == nil {
		t.Errorf("missing --config file accepted")
	}
}

func TestSyncUsageErrors(t *testing.T) {
	home := isolate(t)
	bad := filepath.Join(home, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"mood": "happy"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		msg  string
	}{
		{"no writers", []string{"sync"}, "--allow"},
		{"bad allow", []string{"sync", "--allow", "bob"}, "not a peer ID"},
		{"bad mode", []string{"sync", "--open", "--mode", "mirror"}, "unknown sync mode"},
		{"bad policy", []string{"sync", "--open", "--policy", "coin"}, "unknown merge policy"},
		{"bad dataset", []string{"sync", "--open", "--dataset", "a b"}, "invalid dataset name"},
		{"bad peer", []string{"sync", "--open", "--peer", "/ip4/1.2.3.4/tcp/1"}, "/p2p/"},
		{"bad duration", []string{"sync", "--open", "--announce", "soon"}, "invalid argument"},
		{"unknown config key", []string{"sync", "--open", "--config", bad}, "unknown field"},
		{"args", []string{"sync", "--open", "extra"}, "takes no arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := cli(t, "", tc.args...)
			if code != exitUsage || !strings.Contains(errs, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, exitUsage, tc.msg)
			}
		})
	}
}

// commitVia commits key=val to the dataset of the database in home on the
// daemon, as an application sharing the store with `noms-ipfs sync` would.
func commitVia(t *testing.T, home, api, dbName, dataset, key string, val int64) chunks.Hash {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g := &globalOptions{Home: home, API: api, DB: dbName, out: &bytes.Buffer{}}
	if err := g.complete(); err != nil {
		t.Fatal(err)
	}
	s, err := g.openSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := db.New(s.store)
	var m value.Map
	var base chunks.Hash
	if head, err := d.Head(ctx, dataset); err == nil {
		base, m = head.Hash, head.Value.(value.Map)
	} else if m, err = value.NewMap(ctx, s.store); err != nil {
		t.Fatal(err)
	}
	if m, err = m.Set(ctx, s.store, value.String(key), value.Int(val)); err != nil {
		t.Fatal(err)
	}
	res, err := merge.CommitWithMerge(ctx, d, dataset, m, merge.CommitOptions{Base: base}, merge.Deterministic)
	if err != nil {
		t.Fatal(err)
	}
	return res.Commit.Hash
}

// statusOf runs `status --json` against the daemon.
func statusOf(t *testing.T, home, api, dbName string) statusResult {
	t.Helper()
	out := mustCLI(t, "", "--home", home, "--api", api, "--db", dbName, "status", "--json")
	var st statusResult
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json printed %q: %v", out, err)
	}
	return st
}

func headIn(st statusResult, dataset string) string {
	for _, ds := range st.Datasets {
		if ds.Name == dataset {
			return ds.Head
		}
	}
	return ""
}

// Two writers on two daemons sync a dataset both ways through `noms-ipfs
// sync`; one of them replicates. Stopping them is graceful.
func TestSyncTwoDaemons(t *testing.T) {
	isolate(t)
	nodes := kubotest.StartCluster(t, 2)
	a, b := nodes[0], nodes[1]
	homeA, homeB := t.TempDir(), t.TempDir()
	const dbName = "cli"
	// The operators create their keys first and exchange them.
	ka := strings.TrimSpace(a.IPFS(t, "key", "gen", "--type=ed25519", "--ipns-base=b58mh", "noms-ipfs-"+dbName))
	kb := strings.TrimSpace(b.IPFS(t, "key", "gen", "--type=ed25519", "--ipns-base=b58mh", "noms-ipfs-"+dbName))

	h1 := commitVia(t, homeA, a.APIAddr, dbName, "todo", "milk", 1)
	if code, out, errs := cli(t, "", "--home", homeA, "--api", a.APIAddr, "--db", dbName, "status", "--check"); code != exitError || !strings.Contains(errs, "no sync of database") {
		t.Errorf("status --check before any sync: exit %d, %q %q", code, out, errs)
	}
	syncA := runBackground(t, "--home", homeA, "--api", a.APIAddr, "--db", dbName, "sync", "--allow", kb, "--announce", "1s")
	syncB := runBackground(t, "--home", homeB, "--api", b.APIAddr, "--db", dbName, "sync", "--allow", ka, "--announce", "1s",
		"--mode", "replicate", "--json")

	testwait.Until(t, 30*time.Second, "B adopting A's head", func() (bool, string) {
		got := headIn(statusOf(t, homeB, b.APIAddr, dbName), "todo")
		return got == h1.String(), got + "\n" + syncB.out.String() + syncB.errs.String()
	})
	// B's application commits; B's sync sees the root move and publishes it.
	h2 := commitVia(t, homeB, b.APIAddr, dbName, "todo", "eggs", 2)
	testwait.Until(t, 30*time.Second, "A adopting B's head", func() (bool, string) {
		got := headIn(statusOf(t, homeA, a.APIAddr, dbName), "todo")
		return got == h2.String(), got + "\n" + syncA.out.String() + syncA.errs.String()
	})

	outA := syncA.out.String()
	for _, want := range []string{"this writer's key: " + ka, "--allow " + ka, "fast-forward  todo", "published     root"} {
		if !strings.Contains(outA, want) {
			t.Errorf("A's progress lacks %q:\n%s", want, outA)
		}
	}
	// --json: one JSON object per line.
	sc := bufio.NewScanner(strings.NewReader(syncB.out.String()))
	var msgs []string
	for sc.Scan() {
		var line struct {
			Msg    string `json:"msg"`
			Writer string `json:"writer"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("B's --json output has a line that is not JSON: %q", sc.Text())
		}
		msgs = append(msgs, line.Msg)
		if line.Msg == "started" && line.Writer != kb {
			t.Errorf("B started as writer %s, want %s", line.Writer, kb)
		}
	}
	for _, want := range []string{"started", "pinned", "fast-forward", "published"} {
		if !strings.Contains(strings.Join(msgs, " "), want) {
			t.Errorf("B's --json events lack %q: %v", want, msgs)
		}
	}

	// status shows the key, the other writer and the counters.
	testwait.Until(t, 10*time.Second, "B's status file to show A synced", func() (bool, string) {
		st := statusOf(t, homeB, b.APIAddr, dbName)
		if st.Sync == nil {
			return false, "no sync status"
		}
		for _, w := range st.Sync.Writers {
			if w.Writer == ka && w.Synced && w.Root != "" {
				return st.Key == kb && st.Sync.Running && st.Sync.Sync.Pins >= 1 && st.Sync.Heads.Accepted >= 1, ""
			}
		}
		return false, mustCLI(t, "", "--home", homeB, "--api", b.APIAddr, "--db", dbName, "status")
	})
	text := mustCLI(t, "", "--home", homeB, "--api", b.APIAddr, "--db", dbName, "status")
	for _, want := range []string{"writer key: " + kb, "sync:      running", "mode replicate", "writer:    " + ka, "announcements:", "sync counters:", "dataset:   todo"} {
		if !strings.Contains(text, want) {
			t.Errorf("status lacks %q:\n%s", want, text)
		}
	}

	// The health check passes while sync runs, and fails once it stopped.
	if code, out, errs := cli(t, "", "--home", homeA, "--api", a.APIAddr, "--db", dbName, "status", "--check"); code != exitOK || !strings.Contains(out, "running") {
		t.Errorf("status --check while sync runs: exit %d, %q %q", code, out, errs)
	}

	// SIGINT: both stop cleanly and say so.
	if code := syncA.stop(t); code != exitOK {
		t.Errorf("A exited %d: %s", code, syncA.errs.String())
	}
	if code := syncB.stop(t); code != exitOK {
		t.Errorf("B exited %d: %s", code, syncB.errs.String())
	}
	if !strings.Contains(syncA.out.String(), "stopped: ") {
		t.Errorf("A did not report stopping:\n%s", syncA.out.String())
	}
	if st := statusOf(t, homeA, a.APIAddr, dbName); st.Sync == nil || st.Sync.Running {
		t.Errorf("A's status after stop: %+v", st.Sync)
	}
	if code, out, errs := cli(t, "", "--home", homeA, "--api", a.APIAddr, "--db", dbName, "status", "--check"); code != exitError || !strings.Contains(errs, "not running") {
		t.Errorf("status --check after sync stopped: exit %d, %q %q", code, out, errs)
	}
}

// The embedded node runs online for sync: it starts, prints its key, serves
// its RPC API so that other commands on the same home use the node while
// the repo is locked (a value they commit is published by the running
// sync), and stops on SIGINT, removing the api file.
func TestSyncEmbedded(t *testing.T) {
	home := isolate(t)
	bg := runBackground(t, "--home", home, "--embedded", "sync", "--open", "--db", "solo")
	testwait.Until(t, time.Minute, "the embedded sync to start", func() (bool, string) {
		out := bg.out.String()
		return strings.Contains(out, "this writer's key: 12D3KooW") && strings.Contains(out, "node API: /ip4/127.0.0.1/tcp/"), out + bg.errs.String()
	})
	apiFile := filepath.Join(home, "kubo", "api")
	if _, err := os.Stat(apiFile); err != nil {
		t.Fatalf("the running embedded sync wrote no api file: %v", err)
	}
	put := mustCLI(t, "", "--home", home, "--embedded", "--db", "solo", "put", "--set-root", `{"while": "sync runs"}`)
	root := strings.Fields(put)[0]
	testwait.Until(t, 30*time.Second, "the running sync to publish the root put by another command", func() (bool, string) {
		return strings.Contains(bg.out.String(), "published     root "+root), bg.out.String()
	})
	if code := bg.stop(t); code != exitOK {
		t.Fatalf("exit %d: %s", code, bg.errs.String())
	}
	if _, err := os.Stat(apiFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the api file outlived the embedded sync: %v", err)
	}
	out := mustCLI(t, "", "--home", home, "--embedded", "--db", "solo", "status")
	if !strings.Contains(out, "writer key: 12D3KooW") || !strings.Contains(out, "sync:      stopped") {
		t.Errorf("status after an embedded sync:\n%s", out)
	}
}
