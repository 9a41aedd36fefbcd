package ipfsstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ipfs/boxo/path"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	iface "github.com/ipfs/kubo/core/coreiface"
	"github.com/ipfs/kubo/core/coreiface/options"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// rpcBackend talks to a Kubo daemon over HTTP. Writes go as one CARv1
// stream per batch to dag/import, Kubo's fastest ingest path (it also
// re-hashes every block and checks it is valid DAG-CBOR).
//
// An import cannot hold the daemon's pin lock until the pin moves, so a
// garbage collection between the two could drop fresh blocks. Kubo's pinner
// then asks the network for them (its --offline flag does not reach the
// pinner), so the pin move is bounded by pinTimeout, after which the batch
// is written again and the move retried once. The store has already checked
// that every link resolves, so a pin move waits only in that race.
type rpcBackend struct{ n *ipfsnode.Node }

// pinTimeout bounds one pin move over RPC. Moves walk only what changed
// since the last root, so even large commits take seconds.
var pinTimeout = 5 * time.Minute

func (b *rpcBackend) batchSize() int { return 4096 }

func (b *rpcBackend) persist(ctx context.Context, blks []blocks.Block, from, to cid.Cid, name string) error {
	if err := b.importCAR(ctx, blks); err != nil {
		return err
	}
	if to == from || !to.Defined() {
		return nil
	}
	err := b.movePin(ctx, from, to, name)
	if err != nil && ctx.Err() == nil && len(blks) > 0 {
		if err := b.importCAR(ctx, blks); err != nil {
			return err
		}
		err = b.movePin(ctx, from, to, name)
	}
	return err
}

func (b *rpcBackend) importCAR(ctx context.Context, blks []blocks.Block) error {
	if len(blks) == 0 {
		return nil
	}
	size := 64
	for _, blk := range blks {
		size += len(blk.RawData()) + 48
	}
	car := appendCARv1(make([]byte, 0, size), blks[0].Cid(), blks)
	resp, err := b.n.RPC().Request("dag/import").
		Option("pin-roots", false).
		Option("silent", true).
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

func (b *rpcBackend) movePin(ctx context.Context, from, to cid.Cid, name string) error {
	ctx, cancel := context.WithTimeout(ctx, pinTimeout)
	defer cancel()
	pin := b.n.OfflineAPI().Pin()
	if from.Defined() {
		err := pin.Update(ctx, path.FromCid(from), path.FromCid(to), options.Pin.Unpin(false))
		if err == nil {
			return nil
		}
		if isNotFound(err) {
			return fmt.Errorf("cannot move pin %s -> %s: %w", from, to, err)
		}
		// from is not pinned (lost or removed by hand): pin to in full.
	}
	if err := pin.Add(ctx, path.FromCid(to), options.Pin.Recursive(true), options.Pin.Name(name)); err != nil {
		return fmt.Errorf("cannot pin %s: %w", to, err)
	}
	return nil
}

// repin pins c recursively; Kubo walks the DAG, checking it is complete.
func (b *rpcBackend) repin(ctx context.Context, c cid.Cid, name string) error {
	return b.movePin(ctx, cid.Undef, c, name)
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
