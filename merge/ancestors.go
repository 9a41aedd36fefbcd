package merge

import (
	"context"
	"strings"
	"sync"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// Option tunes Commits, Into and CommitWithMerge.
type Option func(*options)

type options struct {
	ancestors *AncestorCache
}

func collect(opts []Option) options {
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// WithAncestorCache makes merges look up and remember their virtual
// ancestors in c. Writers that merge each other's merges make criss-cross
// histories, and every merge across one builds the same virtual ancestor
// from the same merge bases (recursive merges of old values): a long-lived
// merger such as a sync loop saves that work with a cache. One cache
// serves one chunk store.
func WithAncestorCache(c *AncestorCache) Option {
	return func(o *options) { o.ancestors = c }
}

// AncestorCache remembers virtual ancestors by their merge bases. It is
// safe for concurrent use. Entries are checked before use: a value whose
// root chunk the store no longer holds (a garbage collection removed the
// unreferenced virtual ancestor) is built again.
type AncestorCache struct {
	mu    sync.Mutex
	max   int
	m     map[string]value.Value
	order []string // insertion order, for eviction
}

// NewAncestorCache returns a cache of at most n virtual ancestors (each is
// a value header: tens of bytes).
func NewAncestorCache(n int) *AncestorCache {
	return &AncestorCache{max: max(n, 1), m: make(map[string]value.Value)}
}

func ancestorKey(bases []chunks.Hash) string {
	var b strings.Builder
	for _, h := range bases {
		b.Write(h[:])
	}
	return b.String()
}

func (c *AncestorCache) get(ctx context.Context, st chunks.ChunkStore, bases []chunks.Hash) (value.Value, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	v, ok := c.m[ancestorKey(bases)]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	if root, has := collectionRoot(v); has && !root.IsEmpty() {
		if ok, err := st.Has(ctx, root); err != nil || !ok {
			return nil, false
		}
	}
	return v, true
}

func (c *AncestorCache) put(bases []chunks.Hash, v value.Value) {
	if c == nil {
		return
	}
	if _, cacheable := collectionRoot(v); !cacheable {
		return
	}
	k := ancestorKey(bases)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	for len(c.order) >= c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
	c.m[k] = v
	c.order = append(c.order, k)
}

// collectionRoot returns the chunk under which a cached value lives, and
// whether the value can be cached: collections (checked through their
// root) and values without chunks. A struct may hold collections whose
// roots would all need checking, so structs are not cached.
func collectionRoot(v value.Value) (chunks.Hash, bool) {
	switch v := v.(type) {
	case value.Map:
		return v.Root(), true
	case value.Set:
		return v.Root(), true
	case value.List:
		return v.Root(), true
	case value.Blob:
		return v.Root(), true
	case value.Struct, nil:
		return chunks.Hash{}, false
	default:
		return chunks.Hash{}, true
	}
}
