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

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/path"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	iface "github.com/ipfs/kubo/core/coreiface"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/carv1"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// rpcBackend talks to a Kubo daemon over HTTP. Writes go as one CARv1
// stream per batch to dag/import without pinning, Kubo's fastest ingest
// path (it also re-hashes every block and checks it is valid DAG-CBOR);
// the keep root that names them is pinned first with block/put.
type rpcBackend struct{ n *ipfsnode.Node }

func (b *rpcBackend) batchSize() int { return 4096 }

func (b *rpcBackend) write(ctx context.Context, blks []blocks.Block) error {
	if len(blks) == 0 {
		return nil
	}
	size := 64
	for _, blk := range blks {
		size += len(blk.RawData()) + 48
	}
	car := carv1.Append(make([]byte, 0, size), blks[0].Cid(), blks)
	resp, err := b.n.RPC().Request("dag/import").
		Option("pin-roots", false).
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

// pinBlocks sends every block in one block/put request with pin: Kubo
// puts and pins each in turn, under its pin lock, without walking (Kubo's
// PinWithMode). The pins are unnamed: block/put takes no name.
func (b *rpcBackend) pinBlocks(ctx context.Context, _ string, blks []blocks.Block) error {
	if len(blks) == 0 {
		return nil
	}
	entries := make([]files.DirEntry, len(blks))
	for i, blk := range blks {
		entries[i] = files.FileEntry("", files.NewBytesFile(blk.RawData()))
	}
	resp, err := b.n.RPC().Request("block/put").
		Option("pin", true).
		Option("cid-codec", "dag-cbor").
		Option("mhtype", "sha2-512").
		Option("mhlen", chunks.HashLen).
		Body(files.NewMultiFileReader(files.NewSliceDirectory(entries), false, false)).
		Send(ctx)
	if err != nil {
		return fmt.Errorf("cannot pin %d keep blocks: %w", len(blks), err)
	}
	defer resp.Close()
	if resp.Error != nil {
		return fmt.Errorf("cannot pin %d keep blocks: %w", len(blks), resp.Error)
	}
	dec := json.NewDecoder(resp.Output)
	for i := 0; ; i++ {
		var out struct{ Key string }
		if err := dec.Decode(&out); err != nil {
			if errors.Is(err, io.EOF) && i == len(blks) {
				return nil
			}
			return fmt.Errorf("cannot pin %d keep blocks: %d answered: %w", len(blks), i, err)
		}
		if i >= len(blks) || out.Key != blks[i].Cid().String() {
			return fmt.Errorf("cannot pin keep blocks: Kubo stored block %d as %s, want %s", i, out.Key, blks[min(i, len(blks)-1)].Cid())
		}
	}
}

// Kubo's errors reach the client as text only.
const (
	mfsNotExist  = "file does not exist"
	notPinned    = "not pinned"
	rpcNotPinned = "is not pinned"
)

func (b *rpcBackend) unpin(ctx context.Context, cs []cid.Cid) error {
	if len(cs) == 0 {
		return nil
	}
	// The CIDs travel in the URL: a few hundred per request.
	for len(cs) > 0 {
		n := min(len(cs), 256)
		args := make([]string, n)
		for i, c := range cs[:n] {
			args[i] = c.String()
		}
		cs = cs[n:]
		// pin/rm stops at the first CID that is not pinned; then one at a time.
		err := b.rmPins(ctx, args...)
		if err == nil {
			continue
		}
		if !strings.Contains(err.Error(), notPinned) {
			return err
		}
		for _, a := range args {
			if err := b.rmPins(ctx, a); err != nil && !strings.Contains(err.Error(), notPinned) {
				return err
			}
		}
	}
	return nil
}

func (b *rpcBackend) rmPins(ctx context.Context, args ...string) error {
	err := b.n.RPC().Request("pin/rm", args...).Option("recursive", true).Option("offline", true).Exec(ctx, nil)
	if err != nil {
		return fmt.Errorf("cannot unpin %d keep blocks: %w", len(args), err)
	}
	return nil
}

func (b *rpcBackend) pinned(ctx context.Context, c cid.Cid) (bool, error) {
	var res struct{ Keys map[string]any }
	err := b.n.RPC().Request("pin/ls", c.String()).Option("type", "recursive").Option("offline", true).Exec(ctx, &res)
	if err != nil {
		if strings.Contains(err.Error(), rpcNotPinned) {
			return false, nil
		}
		return false, fmt.Errorf("cannot check the pin of %s: %w", c, err)
	}
	return len(res.Keys) > 0, nil
}

func (b *rpcBackend) recursivePins(ctx context.Context) ([]namedPin, error) {
	// client/rpc's Pin().Ls ignores the response's error, so this asks
	// pin/ls directly.
	resp, err := b.n.RPC().Request("pin/ls").
		Option("type", "recursive").
		Option("names", true).
		Option("stream", true).
		Send(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list pins: %w", err)
	}
	defer resp.Close()
	if resp.Error != nil {
		return nil, fmt.Errorf("cannot list pins: %w", resp.Error)
	}
	var out []namedPin
	dec := json.NewDecoder(resp.Output)
	for {
		var p struct{ Cid, Name string }
		if err := dec.Decode(&p); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("cannot list pins: %w", err)
		}
		c, err := cid.Decode(p.Cid)
		if err != nil {
			return nil, fmt.Errorf("cannot list pins: bad CID %q: %w", p.Cid, err)
		}
		out = append(out, namedPin{cid: c, name: p.Name})
	}
}

func (b *rpcBackend) removeMFS(ctx context.Context, p string) error {
	err := b.n.RPC().Request("files/rm", p).Option("recursive", true).Option("force", true).Exec(ctx, nil)
	if err != nil && !strings.Contains(err.Error(), mfsNotExist) {
		return fmt.Errorf("cannot remove MFS path %s: %w", p, err)
	}
	parent := gopath.Dir(p)
	if parent == "/" {
		return nil
	}
	var res struct{ Entries []struct{ Name string } }
	if err := b.n.RPC().Request("files/ls", parent).Exec(ctx, &res); err != nil || len(res.Entries) > 0 {
		return nil // gone already, or still in use by other databases
	}
	if err := b.n.RPC().Request("files/rm", parent).Option("recursive", true).Exec(ctx, nil); err != nil && !strings.Contains(err.Error(), mfsNotExist) {
		return fmt.Errorf("cannot remove MFS path %s: %w", parent, err)
	}
	return nil
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
