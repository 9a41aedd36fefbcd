package ipfsstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	gopath "path"
	"strings"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/path"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	iface "github.com/ipfs/kubo/core/coreiface"
	"github.com/ipfs/kubo/core/coreiface/options"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/carv1"
	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// rpcBackend talks to a Kubo daemon over HTTP. Writes go as one CARv1
// stream per batch to dag/import, Kubo's fastest ingest path (it also
// re-hashes every block and checks it is valid DAG-CBOR). Each import holds
// the daemon's pin lock (see importLock), so a garbage collection runs
// before or after a batch, never inside it; the store links the new root
// into MFS before the first batch and writes top down, so every block is
// reachable from MFS when its batch ends.
type rpcBackend struct{ n *ipfsnode.Node }

// importLock is the block every import names as its CAR root, so that
// dag/import (with pin-roots) holds the pin lock for the whole import. It
// stays pinned: one recursive pin of an 18-byte leaf per node, shared by
// every database, the DAG-CBOR map {"noms-ipfs": "import"}.
var importLock = func() blocks.Block {
	data := cborx.AppendText(cborx.AppendText(cborx.AppendHead(nil, cborx.Map, 1), "noms-ipfs"), "import")
	blk, _ := blocks.NewBlockWithCid(data, HashToCID(chunks.Of(data)))
	return blk
}()

func (b *rpcBackend) batchSize() int { return 4096 }

func (b *rpcBackend) write(ctx context.Context, blks []blocks.Block) error {
	if len(blks) == 0 {
		return nil
	}
	size := 64 + len(importLock.RawData()) + 48
	for _, blk := range blks {
		size += len(blk.RawData()) + 48
	}
	// The CAR's root is the import lock block: asked to pin its roots,
	// dag/import holds Kubo's pin lock, which excludes a garbage
	// collection, from the first block to the last (it takes no lock
	// otherwise). Pinning the lock block is O(1): a leaf, pinned already
	// after the first import.
	car := carv1.Append(make([]byte, 0, size), importLock.Cid(), append([]blocks.Block{importLock}, blks...))
	resp, err := b.n.RPC().Request("dag/import").
		Option("pin-roots", true).
		Option("silent", true).
		Option("fast-provide-root", false).
		Option("fast-provide-dag", false).
		FileBody(bytes.NewReader(car)).
		Send(ctx)
	if err != nil {
		return fmt.Errorf("cannot import %d blocks: %w", len(blks), err)
	}
	defer resp.Close()
	if resp.Error != nil {
		return fmt.Errorf("cannot import %d blocks: %w", len(blks), resp.Error)
	}
	// Errors after the header arrive in the body's trailer.
	if _, err := io.Copy(io.Discard, resp.Output); err != nil {
		return fmt.Errorf("cannot import %d blocks: %w", len(blks), err)
	}
	return nil
}

// Kubo's MFS errors reach the client as text only.
const (
	mfsNotExist = "file does not exist"
	mfsExists   = "already has entry by that name"
)

func (b *rpcBackend) protect(ctx context.Context, dir, name string, nd *merkledag.ProtoNode) error {
	blk, err := blocks.NewBlockWithCid(nd.RawData(), nd.Cid())
	if err != nil {
		return err
	}
	// A garbage collection between the write and the copy removes the
	// directory block; the copy, offline, then fails at once and one more
	// round makes it.
	for attempt := 0; ; attempt++ {
		if err := b.write(ctx, []blocks.Block{blk}); err != nil {
			return err
		}
		err := b.n.RPC().Request("files/cp", "/ipfs/"+nd.Cid().String(), gopath.Join(dir, name)).
			Option("parents", true).
			Option("offline", true).
			Exec(ctx, nil)
		if err == nil || strings.Contains(err.Error(), mfsExists) {
			return nil
		}
		if attempt > 0 || ctx.Err() != nil {
			return fmt.Errorf("cannot link %s at %s/%s: %w", nd.Cid(), dir, name, err)
		}
	}
}

func (b *rpcBackend) unprotect(ctx context.Context, dir, name string) error {
	err := b.n.RPC().Request("files/rm", gopath.Join(dir, name)).
		Option("recursive", true).
		Option("force", true).
		Exec(ctx, nil)
	if err != nil {
		return fmt.Errorf("cannot remove MFS entry %s/%s: %w", dir, name, err)
	}
	return nil
}

func (b *rpcBackend) protected(ctx context.Context, dir string) ([]string, error) {
	var res struct{ Entries []struct{ Name string } }
	err := b.n.RPC().Request("files/ls", dir).Option("U", true).Exec(ctx, &res)
	if err != nil {
		if strings.Contains(err.Error(), mfsNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("cannot list MFS directory %s: %w", dir, err)
	}
	names := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		names = append(names, e.Name)
	}
	return names, nil
}

func (b *rpcBackend) unpin(ctx context.Context, c cid.Cid) error {
	err := b.n.OfflineAPI().Pin().Rm(ctx, path.FromCid(c), options.Pin.RmRecursive(true))
	if err != nil {
		return fmt.Errorf("cannot unpin %s: %w", c, err)
	}
	return nil
}

func (b *rpcBackend) pinned(ctx context.Context, name string) ([]cid.Cid, error) {
	// client/rpc's Pin().Ls ignores the response's error and drops names
	// unless asked, so this asks pin/ls directly.
	resp, err := b.n.RPC().Request("pin/ls").
		Option("type", "recursive").
		Option("names", true).
		Option("name", name). // a substring filter; the exact match is below
		Option("stream", true).
		Send(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list pins: %w", err)
	}
	defer resp.Close()
	if resp.Error != nil {
		return nil, fmt.Errorf("cannot list pins: %w", resp.Error)
	}
	var out []cid.Cid
	dec := json.NewDecoder(resp.Output)
	for {
		var p struct{ Cid, Name string }
		if err := dec.Decode(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("cannot list pins: %w", err)
		}
		if p.Name != name {
			continue
		}
		c, err := cid.Decode(p.Cid)
		if err != nil {
			return nil, fmt.Errorf("cannot list pins: bad CID %q: %w", p.Cid, err)
		}
		out = append(out, c)
	}
}

func (b *rpcBackend) has(ctx context.Context, c cid.Cid) (bool, error) {
	_, err := b.n.OfflineAPI().Block().Stat(ctx, path.FromCid(c))
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, err
}

func (b *rpcBackend) getLocal(ctx context.Context, c cid.Cid) ([]byte, error) {
	return readBlock(ctx, b.n.OfflineAPI(), c)
}

func (b *rpcBackend) fetch(ctx context.Context, c cid.Cid) ([]byte, error) {
	return readBlock(ctx, b.n.API(), c)
}

func readBlock(ctx context.Context, api iface.CoreAPI, c cid.Cid) ([]byte, error) {
	r, err := api.Block().Get(ctx, path.FromCid(c))
	if err != nil {
		return nil, err
	}
	// client/rpc fills a bytes.Buffer whose array is up to twice the block;
	// an exact copy keeps the read cache's memory bound honest.
	if buf, ok := r.(*bytes.Buffer); ok {
		return bytes.Clone(buf.Bytes()), nil
	}
	return io.ReadAll(r)
}
