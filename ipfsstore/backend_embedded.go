package ipfsstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	gopath "path"

	"github.com/ipfs/boxo/mfs"
	pin "github.com/ipfs/boxo/pinning/pinner"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// embeddedBackend writes straight into an in-process node's blockstore and
// pinner.
type embeddedBackend struct{ n *ipfsnode.Node }

func (b *embeddedBackend) batchSize() int { return 4096 }

func (b *embeddedBackend) write(ctx context.Context, blks []blocks.Block) error {
	if len(blks) == 0 {
		return nil
	}
	if err := b.n.Core().Blocks.AddBlocks(ctx, blks); err != nil {
		return fmt.Errorf("cannot write %d blocks: %w", len(blks), err)
	}
	return nil
}

// pinBlocks does what Kubo's block/put with pin does, for all of blks under
// one hold of the pin lock.
func (b *embeddedBackend) pinBlocks(ctx context.Context, name string, blks []blocks.Block) error {
	if len(blks) == 0 {
		return nil
	}
	node := b.n.Core()
	defer node.Blockstore.PinLock(ctx).Unlock(ctx)
	for _, blk := range blks {
		if err := node.Blocks.AddBlock(ctx, blk); err != nil {
			return fmt.Errorf("cannot write keep block %s: %w", blk.Cid(), err)
		}
		if err := node.Pinning.PinWithMode(ctx, blk.Cid(), pin.Recursive, name); err != nil {
			return fmt.Errorf("cannot pin keep block %s: %w", blk.Cid(), err)
		}
	}
	if err := node.Pinning.Flush(ctx); err != nil {
		return fmt.Errorf("cannot save pins: %w", err)
	}
	return nil
}

func (b *embeddedBackend) unpin(ctx context.Context, cs []cid.Cid) error {
	if len(cs) == 0 {
		return nil
	}
	node := b.n.Core()
	defer node.Blockstore.PinLock(ctx).Unlock(ctx)
	for _, c := range cs {
		if err := node.Pinning.Unpin(ctx, c, true); err != nil && !errors.Is(err, pin.ErrNotPinned) {
			return fmt.Errorf("cannot unpin %s: %w", c, err)
		}
	}
	if err := node.Pinning.Flush(ctx); err != nil {
		return fmt.Errorf("cannot save pins: %w", err)
	}
	return nil
}

func (b *embeddedBackend) pinned(ctx context.Context, c cid.Cid) (bool, error) {
	_, ok, err := b.n.Core().Pinning.IsPinnedWithType(ctx, c, pin.Recursive)
	if err != nil {
		return false, fmt.Errorf("cannot check the pin of %s: %w", c, err)
	}
	return ok, nil
}

func (b *embeddedBackend) recursivePins(ctx context.Context) ([]namedPin, error) {
	var out []namedPin
	for p := range b.n.Core().Pinning.RecursiveKeys(ctx, true) {
		if p.Err != nil {
			return nil, fmt.Errorf("cannot list pins: %w", p.Err)
		}
		out = append(out, namedPin{cid: p.Pin.Key, name: p.Pin.Name})
	}
	return out, nil
}

func (b *embeddedBackend) removeMFS(ctx context.Context, p string) error {
	root := b.n.Core().FilesRoot
	parent, name := gopath.Split(p)
	parent = gopath.Clean(parent)
	fsn, err := mfs.Lookup(root, parent)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot look up MFS path %s: %w", parent, err)
	}
	d, ok := fsn.(*mfs.Directory)
	if !ok {
		return nil
	}
	if err := d.Unlink(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot remove MFS path %s: %w", p, err)
	}
	if names, err := d.ListNames(ctx); err == nil && len(names) == 0 && parent != "/" {
		grand, base := gopath.Split(parent)
		if g, err := mfs.Lookup(root, gopath.Clean(grand)); err == nil {
			if gd, ok := g.(*mfs.Directory); ok {
				_ = gd.Unlink(base)
			}
		}
	}
	if _, err := mfs.FlushPath(ctx, root, "/"); err != nil {
		return fmt.Errorf("cannot flush MFS: %w", err)
	}
	return nil
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
