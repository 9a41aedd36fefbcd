package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
)

// onDaemon isolates the test and points every command at a fresh Kubo
// daemon, found through $IPFS_API as Kubo's own client finds it.
func onDaemon(t *testing.T) *kubotest.Node {
	t.Helper()
	isolate(t)
	d := kubotest.Start(t)
	t.Setenv("IPFS_API", d.APIAddr)
	return d
}

// showOutput is what show --json prints.
type showOutput struct {
	Dataset string          `json:"dataset"`
	Commit  string          `json:"commit"`
	CID     string          `json:"cid"`
	Height  uint64          `json:"height"`
	Value   json.RawMessage `json:"value"`
}

// show runs show --json with args and returns its output, the value
// compacted.
func show(t *testing.T, args ...string) showOutput {
	t.Helper()
	out := mustCLI(t, "", append([]string{"show", "--json"}, args...)...)
	var res showOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("show --json printed %q: %v", out, err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, res.Value); err != nil {
		t.Fatal(err)
	}
	res.Value = buf.Bytes()
	return res
}

// write runs commit, set or delete with --json and parses the result.
func write(t *testing.T, stdin string, args ...string) writeResult {
	t.Helper()
	out := mustCLI(t, stdin, append(args, "--json")...)
	var res writeResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%s --json printed %q: %v", args[0], out, err)
	}
	return res
}

func logOf(t *testing.T, args ...string) []logEntry {
	t.Helper()
	out := mustCLI(t, "", append([]string{"log", "--json"}, args...)...)
	var entries []logEntry
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("log --json line %q: %v", sc.Text(), err)
		}
		entries = append(entries, e)
	}
	return entries
}

func TestDatasetCommitShowRoundTrip(t *testing.T) {
	d := onDaemon(t)
	doc := `{"title": "trip", "budget": 1250.50, "days": 4, "booked": false,
		"stops": [{"city": "Lyon", "nights": 2, "sights": ["Fourvière", "Vieux Lyon"]},
		          {"city": "Annecy", "nights": 2, "sights": []}],
		"notes": {"big": 9007199254740993, "ratio": 1.0, "empty": {}, "quote": "say \"hi\" <&>"}}`
	res := write(t, "", "commit", "trip", doc, "--message", "first plan")
	if res.Dataset != "trip" || res.Outcome != "committed" || res.Height != 1 || len(res.Parents) != 0 ||
		!strings.HasPrefix(res.CID, "bafy") || res.Commit == "" {
		t.Fatalf("commit --json: %+v", res)
	}
	// Keys sorted, integers exact, 1.0 still a Float, no HTML escaping.
	want := `{"booked":false,"budget":1250.5,"days":4,"notes":{"big":9007199254740993,"empty":{},"quote":"say \"hi\" <&>","ratio":1.0},` +
		`"stops":[{"city":"Lyon","nights":2,"sights":["Fourvière","Vieux Lyon"]},{"city":"Annecy","nights":2,"sights":[]}],"title":"trip"}`
	got := show(t, "trip")
	if string(got.Value) != want || got.Commit != res.Commit || got.CID != res.CID || got.Dataset != "trip" || got.Height != 1 {
		t.Fatalf("show --json = %+v (value %s), want value\n%s", got, got.Value, want)
	}
	// Without --json: the value alone, indented.
	var indented bytes.Buffer
	if err := json.Indent(&indented, []byte(want), "", "  "); err != nil {
		t.Fatal(err)
	}
	if text := mustCLI(t, "", "show", "trip"); text != indented.String()+"\n" {
		t.Fatalf("show =\n%s\nwant\n%s", text, indented.String())
	}
	// The commit is a DAG-CBOR block in the daemon, readable by Kubo itself.
	if dag := d.IPFS(t, "dag", "get", res.CID); !strings.Contains(dag, `"commit"`) {
		t.Fatalf("ipfs dag get %s = %.200s", res.CID, dag)
	}

	// A second commit from stdin; the first stays readable by hash and CID.
	res2 := write(t, `[1, 2.5, "three", {"/": {"bytes": "AAEC"}}]`, "commit", "trip", "-")
	if res2.Height != 2 || len(res2.Parents) != 1 || res2.Parents[0] != res.Commit {
		t.Fatalf("second commit: %+v", res2)
	}
	if got := show(t, "trip"); string(got.Value) != `[1,2.5,"three",{"/":{"bytes":"AAEC"}}]` {
		t.Fatalf("after the second commit: %s", got.Value)
	}
	for _, ref := range []string{"#" + res.Commit, res.CID} {
		if got := show(t, ref); string(got.Value) != want || got.Dataset != "" || got.Commit != res.Commit {
			t.Fatalf("show %s = %+v", ref, got)
		}
	}
	// Values written by commit are ordinary chunks too: put's links work.
	if got := mustCLI(t, "", "commit", "links", `{"first": {"/": "`+res.CID+`"}}`); !strings.Contains(got, "links: committed") {
		t.Fatalf("commit of a link printed %q", got)
	}
	if got := show(t, "links"); string(got.Value) != `{"first":{"/":"`+res.CID+`"}}` {
		t.Fatalf("link round trip: %s", got.Value)
	}
}

// The README's shared todo list, from the CLI alone.
func TestDatasetSetDeleteTodoList(t *testing.T) {
	onDaemon(t)
	r := write(t, "", "set", "todo", "milk", `{"done": false}`)
	if r.Outcome != "committed" || r.Height != 1 || r.Key != "milk" {
		t.Fatalf("set on a new dataset: %+v", r)
	}
	write(t, "", "set", "todo", "eggs", `{"done": false, "qty": 12}`)
	write(t, `{"done": true}`, "set", "todo", "milk", "-", "-m", "bought milk")
	if got := show(t, "todo"); string(got.Value) != `{"eggs":{"done":false,"qty":12},"milk":{"done":true}}` {
		t.Fatalf("todo after three sets: %s", got.Value)
	}
	text := mustCLI(t, "", "delete", "todo", "eggs")
	if !strings.HasPrefix(text, "todo: committed ") || !strings.Contains(text, "(height 4)") || !strings.Contains(text, "cid: bafy") {
		t.Fatalf("delete printed %q", text)
	}
	if got := show(t, "todo"); string(got.Value) != `{"milk":{"done":true}}` || got.Height != 4 {
		t.Fatalf("todo after delete: %+v %s", got, got.Value)
	}
	// Keys are any text; the value any JSON.
	write(t, "", "set", "todo", "café au lait / 2", `"later"`)
	if got := show(t, "todo"); string(got.Value) != `{"café au lait / 2":"later","milk":{"done":true}}` {
		t.Fatalf("todo with an odd key: %s", got.Value)
	}

	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing key", []string{"delete", "todo", "eggs"}, exitNotFound, `no key "eggs" in dataset "todo"`},
		{"missing dataset", []string{"delete", "nosuch", "eggs"}, exitNotFound, `no dataset "nosuch"`},
		{"not a map", []string{"set", "list", "k", "1"}, exitUsage, `dataset "list" holds a List, not a Map`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "not a map" {
				mustCLI(t, "", "commit", "list", "[1]")
			}
			code, _, errs := cli(t, "", tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, tc.code, tc.msg)
			}
		})
	}
	if got := show(t, "todo"); got.Height != 5 {
		t.Fatalf("failed edits moved the head: %+v", got)
	}
}

func TestDatasetLog(t *testing.T) {
	onDaemon(t)
	var commits []writeResult
	for i, msg := range []string{"one", "two\nwith a body", ""} {
		args := []string{"set", "log", fmt.Sprintf("k%d", i), fmt.Sprint(i)}
		if msg != "" {
			args = append(args, "--message", msg)
		}
		commits = append(commits, write(t, "", args...))
	}
	entries := logOf(t, "log")
	if len(entries) != 3 {
		t.Fatalf("log --json: %d entries, want 3: %+v", len(entries), entries)
	}
	for i, e := range entries {
		c := commits[2-i] // newest first
		if e.Commit != c.Commit || e.CID != c.CID || e.Height != uint64(3-i) || e.Merge {
			t.Errorf("entry %d: %+v, want commit %s at height %d", i, e, c.Commit, 3-i)
		}
		if i < 2 && (len(e.Parents) != 1 || e.Parents[0] != commits[1-i].Commit) {
			t.Errorf("entry %d parents %v", i, e.Parents)
		}
	}
	if entries[0].Message != "" || entries[1].Message != "two\nwith a body" || entries[2].Message != "one" || entries[0].Meta != nil ||
		string(entries[1].Meta) != `{"message":"two\nwith a body"}` || len(entries[2].Parents) != 0 {
		t.Errorf("messages and meta: %+v", entries)
	}
	if got := logOf(t, "log", "-n", "2"); len(got) != 2 || got[0].Commit != commits[2].Commit {
		t.Errorf("log -n 2: %+v", got)
	}
	// From an older commit by hash: its own history only.
	if got := logOf(t, "#"+commits[1].Commit); len(got) != 2 || got[0].Commit != commits[1].Commit {
		t.Errorf("log of a commit: %+v", got)
	}

	text := mustCLI(t, "", "log", "log")
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("log printed %d lines:\n%s", len(lines), text)
	}
	for i, want := range []string{
		commits[2].Commit + "  height 3    1 parent",
		commits[1].Commit + "  height 2    1 parent      two …",
		commits[0].Commit + "  height 1    first commit  one",
	} {
		if lines[i] != want {
			t.Errorf("log line %d = %q, want %q", i, lines[i], want)
		}
	}
}

func TestDatasetErrorsAndExitCodes(t *testing.T) {
	onDaemon(t)
	mustCLI(t, "", "commit", "exists", `{"a": 1}`)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"show unknown", "", []string{"show", "nosuch"}, exitNotFound, `no dataset "nosuch" in database "default"`},
		{"log unknown", "", []string{"log", "nosuch"}, exitNotFound, `no dataset "nosuch"`},
		{"show other db", "", []string{"show", "exists", "--db", "other"}, exitNotFound, `no dataset "exists" in database "other"`},
		{"bad name commit", "", []string{"commit", "a b", "1"}, exitUsage, `invalid dataset name "a b"`},
		{"bad name set", "", []string{"set", "a:b", "k", "1"}, exitUsage, "invalid dataset name"},
		{"bad name delete", "", []string{"delete", "", "k"}, exitUsage, "invalid dataset name"},
		{"bad name show", "", []string{"show", "no such!"}, exitUsage, "invalid dataset name"},
		{"bad name log", "", []string{"log", "a b"}, exitUsage, "invalid dataset name"},
		{"bad json", "", []string{"commit", "x", "{bad"}, exitUsage, "invalid JSON"},
		{"bad json stdin", "[1,", []string{"set", "x", "k", "-"}, exitUsage, "unexpected EOF"},
		{"empty stdin", "", []string{"commit", "x", "-"}, exitUsage, "no value"},
		{"null", "", []string{"commit", "x", "null"}, exitUsage, "no null"},
		{"nested null", "", []string{"set", "x", "k", `{"a": [1, null]}`}, exitUsage, `at key "a"`},
		{"duplicate key", "", []string{"commit", "x", `{"a": 1, "a": 2}`}, exitUsage, `duplicate key "a"`},
		{"huge number", "", []string{"commit", "x", "1e999"}, exitUsage, "out of range"},
		{"bad link", "", []string{"commit", "x", `{"/": "nope"}`}, exitUsage, "not a CID"},
		{"too deep", "", []string{"commit", "x", strings.Repeat("[", 300) + strings.Repeat("]", 300)}, exitUsage, "nested deeper than 256"},
		{"commit args", "", []string{"commit", "x"}, exitUsage, "commit takes a dataset and a JSON value"},
		{"set args", "", []string{"set", "x", "k"}, exitUsage, "set takes a dataset, a key and a JSON value"},
		{"delete args", "", []string{"delete", "x"}, exitUsage, "delete takes a dataset and a key"},
		{"show args", "", []string{"show"}, exitUsage, "show takes a dataset or commit"},
		{"log count", "", []string{"log", "exists", "-n", "-1"}, exitUsage, "want a count"},
		{"bad flag", "", []string{"log", "exists", "-n", "many"}, exitUsage, "invalid argument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := cli(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, tc.code, tc.msg)
			}
		})
	}
	// None of the failures wrote anything.
	if got := logOf(t, "exists"); len(got) != 1 {
		t.Fatalf("log after failures: %+v", got)
	}
	if code, _, _ := cli(t, "", "show", "x"); code != exitNotFound {
		t.Fatalf("a failed write created dataset x (show exit %d)", code)
	}
}

// Two people keep a shared todo list from the CLI: each home on its own
// daemon runs `noms-ipfs sync`, both set different keys at the same time,
// and both ends converge on the same merged map.
func TestDatasetSetConcurrentTwoDaemons(t *testing.T) {
	isolate(t)
	nodes := kubotest.StartCluster(t, 2)
	a, b := nodes[0], nodes[1]
	homeA, homeB := t.TempDir(), t.TempDir()
	const dbName = "todo"
	ka := strings.TrimSpace(a.IPFS(t, "key", "gen", "--type=ed25519", "--ipns-base=b58mh", "noms-ipfs-"+dbName))
	kb := strings.TrimSpace(b.IPFS(t, "key", "gen", "--type=ed25519", "--ipns-base=b58mh", "noms-ipfs-"+dbName))
	on := func(home, api string, args ...string) []string {
		return append([]string{"--home", home, "--api", api, "--db", dbName}, args...)
	}
	showOn := func(home, api string) (showOutput, string) {
		code, out, errs := cli(t, "", on(home, api, "show", "--json", "list")...)
		if code != exitOK {
			return showOutput{}, fmt.Sprintf("exit %d: %s", code, errs)
		}
		var res showOutput
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			return showOutput{}, out
		}
		var buf bytes.Buffer
		_ = json.Compact(&buf, res.Value)
		res.Value = buf.Bytes()
		return res, string(res.Value)
	}

	var base writeResult
	if err := json.Unmarshal([]byte(mustCLI(t, "", on(homeA, a.APIAddr, "set", "--json", "list", "milk", "1")...)), &base); err != nil {
		t.Fatal(err)
	}
	syncA := runBackground(t, on(homeA, a.APIAddr, "sync", "--allow", kb, "--announce", "1s")...)
	syncB := runBackground(t, on(homeB, b.APIAddr, "sync", "--allow", ka, "--announce", "1s")...)
	testwait.Until(t, 30*time.Second, "B to have A's list", func() (bool, string) {
		got, state := showOn(homeB, b.APIAddr)
		return string(got.Value) == `{"milk":1}`, state + "\n" + syncB.out.String() + syncB.errs.String()
	})

	// Both write at once, different keys.
	var wg sync.WaitGroup
	var codeA, codeB int
	var outA, outB, errA, errB string
	wg.Go(func() { codeA, outA, errA = cli(t, "", on(homeA, a.APIAddr, "set", "--json", "list", "eggs", "2")...) })
	wg.Go(func() {
		codeB, outB, errB = cli(t, "", on(homeB, b.APIAddr, "set", "--json", "list", "bread", `{"loaves": 3}`)...)
	})
	wg.Wait()
	if codeA != exitOK || codeB != exitOK {
		t.Fatalf("concurrent sets: A exit %d %s; B exit %d %s", codeA, errA, codeB, errB)
	}
	var resA, resB writeResult
	if err := errors.Join(json.Unmarshal([]byte(outA), &resA), json.Unmarshal([]byte(outB), &resB)); err != nil {
		t.Fatalf("set --json printed %q and %q: %v", outA, outB, err)
	}

	const want = `{"bread":{"loaves":3},"eggs":2,"milk":1}`
	testwait.Until(t, 60*time.Second, "both ends to show the merged list at the same commit", func() (bool, string) {
		ga, sa := showOn(homeA, a.APIAddr)
		gb, sb := showOn(homeB, b.APIAddr)
		ok := string(ga.Value) == want && string(gb.Value) == want && ga.Commit == gb.Commit
		return ok, fmt.Sprintf("A %s at %s; B %s at %s\nA's sync:\n%s\nB's sync:\n%s", sa, ga.Commit, sb, gb.Commit,
			syncA.out.String()+syncA.errs.String(), syncB.out.String()+syncB.errs.String())
	})
	// Both sets normally commit on the same base, and sync merges them; on
	// a slow machine one side may have seen the other's first, and then
	// there is nothing to merge.
	entries := logOf(t, on(homeB, b.APIAddr, "list")...)
	concurrent := resA.Height == 2 && resB.Height == 2 && resA.Parents[0] == base.Commit && resB.Parents[0] == base.Commit
	if concurrent && (len(entries) != 4 || !entries[0].Merge || len(entries[0].Parents) != 2) {
		t.Fatalf("B's log after a concurrent edit: %+v", entries)
	}
	if !concurrent {
		t.Logf("the two sets were not concurrent after all: %+v, %+v", resA, resB)
	}
	if code := syncA.stop(t); code != exitOK {
		t.Errorf("A's sync exited %d: %s", code, syncA.errs.String())
	}
	if code := syncB.stop(t); code != exitOK {
		t.Errorf("B's sync exited %d: %s", code, syncB.errs.String())
	}
}
