package syncer

import (
	"context"
	"fmt"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

// fetchingStore is the chunk store the syncer merges through. A merge of
// another writer's head writes new chunks (the merged value's changed
// nodes) that link to that writer's chunks the merge never had to read:
// subtrees only one side changed. In shared mode those chunks are not in
// the local node, and ipfsstore refuses to move its root over new chunks
// whose links it cannot find locally. So before a root moves,
// fetchingStore fetches every chunk that the chunks put since link to and
// that the node lacks, from the network, bounded by the caller's context.
// Nothing more: ipfsstore keeps its root with a best-effort MFS entry, so
// the rest of the adopted DAG stays where it is until something reads it.
type fetchingStore struct {
	chunks.ChunkStore

	mu    sync.Mutex
	links chunks.HashSet // links of chunks put and not yet known to be local
}

func newFetchingStore(cs chunks.ChunkStore) *fetchingStore {
	return &fetchingStore{ChunkStore: cs, links: chunks.HashSet{}}
}

// Put records the chunk's links, then puts it.
func (f *fetchingStore) Put(ctx context.Context, c chunks.Chunk) error {
	if err := f.ChunkStore.Put(ctx, c); err != nil {
		return err
	}
	var hs []chunks.Hash
	_ = dagcbor.Links(c.Data(), func(l cid.Cid) error {
		if h, err := chunks.HashFromCID(l); err == nil {
			hs = append(hs, h)
		}
		return nil
	})
	if len(hs) > 0 {
		f.mu.Lock()
		for _, h := range hs {
			f.links.Insert(h)
		}
		f.mu.Unlock()
	}
	return nil
}

// Commit fetches the missing linked chunks, then moves the root.
func (f *fetchingStore) Commit(ctx context.Context, current, last chunks.Hash) error {
	if current != last {
		if err := f.fetchLinks(ctx); err != nil {
			return fmt.Errorf("cannot commit root %s: %w", current, err)
		}
	}
	return f.ChunkStore.Commit(ctx, current, last)
}

func (f *fetchingStore) fetchLinks(ctx context.Context) error {
	f.mu.Lock()
	want := make([]chunks.Hash, 0, len(f.links))
	for h := range f.links {
		want = append(want, h)
	}
	f.mu.Unlock()
	if len(want) == 0 {
		return nil
	}
	absent, err := f.ChunkStore.HasMany(ctx, want)
	if err != nil {
		return err
	}
	if len(absent) > 0 {
		missing := make([]chunks.Hash, 0, len(absent))
		for h := range absent {
			missing = append(missing, h)
		}
		err := f.ChunkStore.GetMany(ctx, missing, func(c chunks.Chunk) error {
			delete(absent, c.Hash()) // GetMany serialises its callbacks
			return nil
		})
		if err != nil {
			return fmt.Errorf("cannot fetch linked chunks: %w", err)
		}
		if len(absent) > 0 {
			for h := range absent {
				return fmt.Errorf("%d linked chunks found neither locally nor on the network, e.g. %s: %w", len(absent), h, chunks.ErrNotFound)
			}
		}
	}
	f.mu.Lock()
	for _, h := range want {
		delete(f.links, h)
	}
	f.mu.Unlock()
	return nil
}
