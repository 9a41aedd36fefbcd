package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/internal/gctest"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// A new user's loop: `noms-ipfs set todo k<i> <i>` again and again while
// `ipfs repo gc` loops on the same daemon (it once deleted the database
// root within 30 sets). Every set lands: show prints them all, log lists
// them, and Kubo walks the whole DAG under the root from its own blocks.
func TestDatasetSetLoopBesideRepoGC(t *testing.T) {
	d := onDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	n, err := ipfsnode.Connect(ctx, d.APIAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	loop := gctest.Start(t, n)
	const sets = 60
	for i := range sets {
		mustCLI(t, "", "set", "todo", fmt.Sprintf("k%02d", i), fmt.Sprint(i))
	}
	runs, _ := loop.Stop(t)
	t.Logf("%d sets beside %d garbage collections", sets, runs)
	if runs < 5 {
		t.Fatalf("only %d garbage collections ran beside %d sets: the test proves little", runs, sets)
	}
	gctest.Once(t, n)

	var got map[string]int
	if err := json.Unmarshal(show(t, "todo").Value, &got); err != nil {
		t.Fatal(err)
	}
	for i := range sets {
		if v, ok := got[fmt.Sprintf("k%02d", i)]; !ok || v != i {
			t.Fatalf("show todo: k%02d = %d, %v; want %d (value %v)", i, v, ok, i, got)
		}
	}
	if entries := logOf(t, "todo"); len(entries) != sets {
		t.Fatalf("log todo lists %d commits, want %d", len(entries), sets)
	}
	var st statusResult
	if err := json.Unmarshal([]byte(mustCLI(t, "", "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	root, err := cid.Decode(st.RootCID)
	if err != nil {
		t.Fatalf("status root_cid %q: %v", st.RootCID, err)
	}
	refs, err := gctest.Refs(ctx, n, root)
	if err != nil {
		t.Fatalf("Kubo cannot walk the DAG under the root: %v", err)
	}
	if st.Keep == "" || st.KeptChunks < uint64(refs) {
		t.Fatalf("status: keep %q naming %d chunks, for %d blocks under the root", st.Keep, st.KeptChunks, refs)
	}
}
