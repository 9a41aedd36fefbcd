package ipfsstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	gopath "path"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/mfs"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// embeddedBackend writes straight into an in-process node's blockstore and
// MFS. Each write holds the node's pin lock, which excludes a garbage
// collection for its duration, so the blocks of one batch land together.
type embeddedBackend struct{ n *ipfsnode.Node }

func (b *embeddedBackend) batchSize() int { return 4096 }

func (b *embeddedBackend) write(ctx context.Context, blks []blocks.Block) error {
	if len(blks) == 0 {
		return nil
	}
	node := b.n.Core()
	defer node.Blockstore.PinLock(ctx).Unlock(ctx)
	if err := node.Blocks.AddBlocks(ctx, blks); err != nil {
		return fmt.Errorf("cannot write %d blocks: %w", len(blks), err)
	}
	return nil
}

func (b *embeddedBackend) protect(ctx context.Context, dir, name string, nd *merkledag.ProtoNode) error {
	node := b.n.Core()
	// Under the pin lock no GC can drop nd between its write and its link.
	defer node.Blockstore.PinLock(ctx).Unlock(ctx)
	if err := node.DAG.Add(ctx, nd); err != nil {
		return fmt.Errorf("cannot write root directory %s: %w", nd.Cid(), err)
	}
	if err := mfs.Mkdir(node.FilesRoot, dir, mfs.MkdirOpts{Mkparents: true}); err != nil {
		return fmt.Errorf("cannot create MFS directory %s: %w", dir, err)
	}
	err := mfs.PutNode(node.FilesRoot, gopath.Join(dir, name), nd)
	if err != nil && !errors.Is(err, mfs.ErrDirExists) {
		return fmt.Errorf("cannot link %s at %s/%s: %w", nd.Cid(), dir, name, err)
	}
	if _, err := mfs.FlushPath(ctx, node.FilesRoot, dir); err != nil {
		return fmt.Errorf("cannot flush MFS directory %s: %w", dir, err)
	}
	return nil
}

func (b *embeddedBackend) mfsDir(dir string) (*mfs.Directory, error) {
	fsn, err := mfs.Lookup(b.n.Core().FilesRoot, dir)
	if err != nil {
		return nil, err
	}
	d, ok := fsn.(*mfs.Directory)
	if !ok {
		return nil, fmt.Errorf("MFS path %s is not a directory", dir)
	}
	return d, nil
}

func (b *embeddedBackend) unprotect(ctx context.Context, dir, name string) error {
	d, err := b.mfsDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := d.Unlink(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cannot remove MFS entry %s/%s: %w", dir, name, err)
	}
	if _, err := mfs.FlushPath(ctx, b.n.Core().FilesRoot, dir); err != nil {
		return fmt.Errorf("cannot flush MFS directory %s: %w", dir, err)
	}
	return nil
}

func (b *embeddedBackend) protected(ctx context.Context, dir string) ([]string, error) {
	d, err := b.mfsDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names, err := d.ListNames(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot list MFS directory %s: %w", dir, err)
	}
	return names, nil
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
