package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
)

// cli runs the CLI in-process and returns its exit code and output.
func cli(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func mustCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := cli(t, stdin, args...)
	if code != exitOK {
		t.Fatalf("noms-ipfs %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// isolate keeps the CLI away from the user's daemon and home.
func isolate(t *testing.T) string {
	home := t.TempDir()
	t.Setenv("NOMS_IPFS_HOME", home)
	t.Setenv("IPFS_API", "")
	t.Setenv("IPFS_PATH", t.TempDir()) // no api file: no daemon found
	return home
}

type putOutput struct {
	Chunks []struct{ Hash, CID string }
	Root   string
	Node   string
}

func TestPutGetRoundTripEmbedded(t *testing.T) {
	isolate(t)
	out := mustCLI(t, "", "put", "--json", `{"hello": "world", "n": [1, 2.5, true, null]}`)
	var res putOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("put --json printed %q: %v", out, err)
	}
	if len(res.Chunks) != 1 || !strings.HasPrefix(res.Node, "embedded Kubo") {
		t.Fatalf("put result: %+v", res)
	}
	// Canonical DAG-JSON: keys sorted, as DAG-CBOR stores them.
	want := `{"hello":"world","n":[1,2.5,true,null]}` + "\n"
	if got := mustCLI(t, "", "get", res.Chunks[0].Hash); got != want {
		t.Fatalf("get by hash = %q, want %q", got, want)
	}
	if got := mustCLI(t, "", "get", res.Chunks[0].CID); got != want {
		t.Fatalf("get by CID = %q, want %q", got, want)
	}
}

func TestPutSetRootAndLinks(t *testing.T) {
	isolate(t)
	var leaf putOutput
	_ = json.Unmarshal([]byte(mustCLI(t, "", "put", "--json", `"leaf"`)), &leaf)
	parent := `{"child": {"/": "` + leaf.Chunks[0].CID + `"}}`
	var res putOutput
	_ = json.Unmarshal([]byte(mustCLI(t, parent, "put", "--json", "--set-root")), &res)
	if res.Root != res.Chunks[0].Hash {
		t.Fatalf("root = %s, want %s", res.Root, res.Chunks[0].Hash)
	}
	if got := mustCLI(t, "", "get", "root"); !strings.Contains(got, leaf.Chunks[0].CID) {
		t.Fatalf("get root = %q, want a link to %s", got, leaf.Chunks[0].CID)
	}
	var st statusResult
	if err := json.Unmarshal([]byte(mustCLI(t, "", "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Root != res.Root || !st.Embedded || st.Database != "default" || st.PeerID == "" {
		t.Fatalf("status = %+v", st)
	}
	// Another database on the same node has its own root.
	if got := mustCLI(t, "", "status", "--db", "other"); !strings.Contains(got, "(empty)") {
		t.Fatalf("status of a new database = %q", got)
	}
}

func TestPutGetThroughDaemon(t *testing.T) {
	isolate(t)
	d := kubotest.Start(t)
	out := mustCLI(t, "", "--api", d.APIAddr, "put", `{"via": "rpc"}`)
	hash := strings.Fields(out)[0]
	// The block is in the daemon itself: Kubo's own CLI can read it as DAG-JSON.
	cidText := strings.Fields(out)[1]
	if got := d.IPFS(t, "dag", "get", cidText); !strings.Contains(got, `"via":"rpc"`) {
		t.Fatalf("ipfs dag get %s = %q", cidText, got)
	}
	t.Setenv("IPFS_API", d.APIAddr) // found like Kubo's own client finds it
	if got := mustCLI(t, "", "get", hash); got != `{"via":"rpc"}`+"\n" {
		t.Fatalf("get = %q", got)
	}
	if got := mustCLI(t, "", "status"); !strings.Contains(got, "Kubo RPC at") || !strings.Contains(got, d.PeerID) {
		t.Fatalf("status = %q", got)
	}
}

func TestErrorsAndExitCodes(t *testing.T) {
	isolate(t)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		msg   string
	}{
		{"bad json", "", []string{"put", "{bad"}, exitUsage, "invalid DAG-JSON"},
		{"bad codec", "", []string{"put", "--input-codec", "xml", "1"}, exitUsage, "unknown --input-codec"},
		{"not dag-cbor", "\xff\xff", []string{"put", "--input-codec", "dag-cbor"}, exitUsage, "invalid chunk"},
		{"bad hash", "", []string{"get", "xyz"}, exitUsage, "neither a chunk hash nor a chunk CID"},
		{"foreign cid", "", []string{"get", "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"}, exitUsage, "neither"},
		{"missing chunk", "", []string{"get", "s13bo1knd3tt1ubu3b89o3ib78m7gpbb"}, exitNotFound, "chunk not found"},
		{"no root", "", []string{"get", "root"}, exitNotFound, "has no root"},
		{"unknown flag", "", []string{"status", "--nope"}, exitUsage, "unknown flag"},
		{"bad db", "", []string{"status", "--db", "../x"}, exitUsage, "invalid database name"},
		{"api and embedded", "", []string{"status", "--api", "/ip4/127.0.0.1/tcp/1", "--embedded"}, exitUsage, "exclude"},
		{"dead daemon", "", []string{"status", "--api", "/ip4/127.0.0.1/tcp/1"}, exitError, "does not answer"},
		{"get args", "", []string{"get"}, exitUsage, "one hash"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := cli(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, tc.code, tc.msg)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	if got := mustCLI(t, "", "version"); !strings.HasPrefix(got, "noms-ipfs ") {
		t.Fatalf("version = %q", got)
	}
}
