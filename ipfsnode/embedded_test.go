package ipfsnode_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// The context StartEmbedded is given bounds nothing after the start: a
// node started under a context that then ends (a command's, cancelled by
// Ctrl-C before the final flush) still serves until Close.
func TestEmbeddedNodeOutlivesItsStartContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	n, err := ipfsnode.StartEmbedded(ctx, ipfsnode.EmbeddedConfig{Repo: filepath.Join(t.TempDir(), "kubo")})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	cancel()
	// Kubo stops a node whose lifetime context ended in a goroutine of its
	// own: give it the time to, were it going to.
	time.Sleep(200 * time.Millisecond)

	use, stop := context.WithTimeout(context.Background(), time.Minute)
	defer stop()
	p, err := n.API().Block().Put(use, bytes.NewReader([]byte("still here")))
	if err != nil {
		t.Fatalf("put on the node after its start context ended: %v", err)
	}
	if _, err := n.OfflineAPI().Block().Get(use, p.Path()); err != nil {
		t.Fatalf("get on the node after its start context ended: %v", err)
	}
}
