package ipfsstore

import (
	"context"
	"fmt"

	pin "github.com/ipfs/boxo/pinning/pinner"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// embeddedBackend writes straight into an in-process node's blockstore and
// pinner. It holds the node's pin lock from the first block written to the
// pin move, so a concurrent garbage collection can never see new blocks
// unpinned.
//
// The root pin moves with PinWithMode, which records the pin without
// walking the DAG. Kubo's own Update would walk it (boxo's DiffEnumerate
// pairs links by name, so it follows a commit's parent link down the whole
// history and then walks the first commit's value in full: O(history + data)
// per commit). Skipping the walk is safe because the store has already
// checked that every link of every chunk it wrote resolves locally
// (Store.resolveLinks), and everything older is under the previous pin.
type embeddedBackend struct{ n *ipfsnode.Node }

func (b *embeddedBackend) batchSize() int { return 4096 }

func (b *embeddedBackend) persist(ctx context.Context, blks []blocks.Block, from, to cid.Cid, name string) error {
	node := b.n.Core()
	defer node.Blockstore.PinLock(ctx).Unlock(ctx)
	if len(blks) > 0 {
		if err := node.Blocks.AddBlocks(ctx, blks); err != nil {
			return fmt.Errorf("cannot write %d blocks: %w", len(blks), err)
		}
	}
	if to == from || !to.Defined() {
		return nil
	}
	if err := node.Pinning.PinWithMode(ctx, to, pin.Recursive, name); err != nil {
		return fmt.Errorf("cannot pin %s: %w", to, err)
	}
	return node.Pinning.Flush(ctx)
}

// repin pins c recursively after walking its whole DAG, checking that every
// block is present: for repairs at Open, where nothing vouches for the DAG.
func (b *embeddedBackend) repin(ctx context.Context, c cid.Cid, name string) error {
	node := b.n.Core()
	defer node.Blockstore.PinLock(ctx).Unlock(ctx)
	nd, err := node.DAG.Get(ctx, c)
	if err != nil {
		return fmt.Errorf("cannot read %s to pin it: %w", c, err)
	}
	if err := node.Pinning.Pin(ctx, nd, true, name); err != nil {
		return fmt.Errorf("cannot pin %s: %w", c, err)
	}
	return node.Pinning.Flush(ctx)
}

func (b *embeddedBackend) unpin(ctx context.Context, c cid.Cid) error {
	node := b.n.Core()
	defer node.Blockstore.PinLock(ctx).Unlock(ctx)
	if err := node.Pinning.Unpin(ctx, c, true); err != nil {
		return fmt.Errorf("cannot unpin %s: %w", c, err)
	}
	return node.Pinning.Flush(ctx)
}

func (b *embeddedBackend) pinned(ctx context.Context, name string) ([]cid.Cid, error) {
	var out []cid.Cid
	for p := range b.n.Core().Pinning.RecursiveKeys(ctx, true) {
		if p.Err != nil {
			return nil, fmt.Errorf("cannot list pins: %w", p.Err)
		}
		if p.Pin.Name == name {
			out = append(out, p.Pin.Key)
		}
	}
	return out, nil
}

func (b *embeddedBackend) has(ctx context.Context, c cid.Cid) (bool, error) {
	return b.n.Core().Blockstore.Has(ctx, c)
}

func (b *embeddedBackend) getLocal(ctx context.Context, c cid.Cid) ([]byte, error) {
	blk, err := b.n.Core().Blockstore.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	return blk.RawData(), nil
}

func (b *embeddedBackend) fetch(ctx context.Context, c cid.Cid) ([]byte, error) {
	blk, err := b.n.Core().Blocks.GetBlock(ctx, c)
	if err != nil {
		return nil, err
	}
	return blk.RawData(), nil
}
