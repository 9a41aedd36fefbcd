package ipfsstore

import (
	"container/list"
	"sync"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// entryOverhead approximates the memory of one cache entry beyond its data
// (list element, map slot, hash), so that hash-only entries count too.
const entryOverhead = 96

// cache is a least-recently-used set of chunks bounded by bytes. An entry
// with nil data only records that the node holds the chunk, which lets Has
// answer without a round trip.
type cache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ll    *list.List
	items map[chunks.Hash]*list.Element
}

type cacheEntry struct {
	h    chunks.Hash
	data []byte
}

func newCache(maxBytes int64) *cache {
	return &cache{max: maxBytes, ll: list.New(), items: make(map[chunks.Hash]*list.Element)}
}

// get returns the chunk's data; ok is false when it is not cached with data.
func (c *cache) get(h chunks.Hash) (data []byte, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.items[h]
	if !found {
		return nil, false
	}
	ent := e.Value.(*cacheEntry)
	if ent.data == nil {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return ent.data, true
}

// has reports whether h is known to be in the node.
func (c *cache) has(h chunks.Hash) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, found := c.items[h]
	if found {
		c.ll.MoveToFront(e)
	}
	return found
}

// add records h, with its data if data is not nil.
func (c *cache) add(h chunks.Hash, data []byte) {
	cost := int64(cap(data)) + entryOverhead
	if cost > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, found := c.items[h]; found {
		ent := e.Value.(*cacheEntry)
		if ent.data == nil && data != nil {
			ent.data = data
			c.size += int64(cap(data))
		}
		c.ll.MoveToFront(e)
	} else {
		c.items[h] = c.ll.PushFront(&cacheEntry{h: h, data: data})
		c.size += cost
	}
	for c.size > c.max {
		e := c.ll.Back()
		ent := e.Value.(*cacheEntry)
		c.ll.Remove(e)
		delete(c.items, ent.h)
		c.size -= int64(cap(ent.data)) + entryOverhead
	}
}

// bytes returns the memory the cache accounts for.
func (c *cache) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
