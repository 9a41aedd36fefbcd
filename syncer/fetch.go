package syncer

import (
	"context"
	"errors"
	"fmt"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// fetchingStore is the chunk store the syncer merges through. A merge of
// another writer's head writes new chunks (the merged value's changed
// nodes) that link to that writer's chunks the merge never had to read:
// subtrees only one side changed. In shared mode those chunks are not in
// the local node, and a store refuses to move its root over links to
// chunks it does not hold. So when a commit is refused for that reason,
// fetchingStore fetches exactly the chunks the refusal names from the
// network, bounded by the caller's context, and tries again. Nothing more:
// the rest of the adopted DAG stays where it is until something reads it.
type fetchingStore struct {
	chunks.ChunkStore
}

func newFetchingStore(cs chunks.ChunkStore) *fetchingStore { return &fetchingStore{ChunkStore: cs} }

// maxFetchRounds bounds the fetch-and-retry rounds of one Commit; each
// round fetches every link the store named, so one is the rule.
const maxFetchRounds = 4

// Commit moves the root, fetching the linked chunks the store lacks.
func (f *fetchingStore) Commit(ctx context.Context, current, last chunks.Hash) error {
	for round := 0; ; round++ {
		err := f.ChunkStore.Commit(ctx, current, last)
		var dangling *chunks.DanglingLinksError
		if !errors.As(err, &dangling) || round == maxFetchRounds {
			return err
		}
		if err := f.fetch(ctx, dangling); err != nil {
			return fmt.Errorf("cannot commit root %s: %w", current, err)
		}
	}
}

// fetch reads every chunk the refusal names; reading one stores it in the
// node. A link that is not a chunk, or that nobody has, fails the commit.
func (f *fetchingStore) fetch(ctx context.Context, d *chunks.DanglingLinksError) error {
	want := make([]chunks.Hash, 0, len(d.Missing))
	for _, l := range d.Missing {
		h, err := chunks.HashFromCID(l)
		if err != nil {
			return fmt.Errorf("%w: link %s is not a chunk", chunks.ErrNotFound, l)
		}
		want = append(want, h)
	}
	absent := chunks.HashSet{}
	for _, h := range want {
		absent.Insert(h)
	}
	err := f.ChunkStore.GetMany(ctx, want, func(c chunks.Chunk) error {
		delete(absent, c.Hash()) // GetMany serialises its callbacks
		return nil
	})
	if err != nil {
		return fmt.Errorf("cannot fetch linked chunks: %w", err)
	}
	for h := range absent {
		return fmt.Errorf("%d linked chunks found neither locally nor on the network, e.g. %s: %w", len(absent), h, chunks.ErrNotFound)
	}
	return nil
}
