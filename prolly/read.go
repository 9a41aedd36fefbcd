package prolly

import (
	"context"
	"fmt"
	"sort"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// Get returns the value stored under key in a Map (found reports whether
// key is present; for a Set value is nil). It reads one node per level.
func Get(ctx context.Context, st Store, t Tree, cmp Compare, key []byte) (value []byte, found bool, err error) {
	if err := checkOrdered(t, cmp, "look up a key in"); err != nil {
		return nil, false, err
	}
	if t.Root.IsEmpty() {
		return nil, false, nil
	}
	h, level := t.Root, -1
	for {
		n, err := loadNode(ctx, st, h, t.Shape, level)
		if err != nil {
			return nil, false, err
		}
		i := sort.Search(len(n.items), func(i int) bool { return cmp(n.items[i].key, key) >= 0 })
		if i == len(n.items) {
			return nil, false, nil // key is beyond the last one
		}
		if n.level == 0 {
			if cmp(n.items[i].key, key) != 0 {
				return nil, false, nil
			}
			return n.items[i].val, true, nil
		}
		h, level = n.items[i].link, n.level-1
	}
}

// Has reports whether a Map or Set holds key.
func Has(ctx context.Context, st Store, t Tree, cmp Compare, key []byte) (bool, error) {
	_, found, err := Get(ctx, st, t, cmp, key)
	return found, err
}

func checkOrdered(t Tree, cmp Compare, op string) error {
	if err := checkTree(t, isOrdered, op); err != nil {
		return err
	}
	if cmp == nil {
		return fmt.Errorf("cannot %s a %s without a Compare: %w", op, t.Shape, ErrShape)
	}
	return nil
}

// At returns the entry at index i: the i-th item of a List, or the entry
// of rank i (0 = smallest key) of a Map or Set. It reads one node per
// level, choosing children by the counts internal nodes keep.
func At(ctx context.Context, st Store, t Tree, i uint64) (Entry, error) {
	if err := checkTree(t, isEntries, "index"); err != nil {
		return Entry{}, err
	}
	if i >= t.Count {
		return Entry{}, fmt.Errorf("cannot get entry %d of a %s of %d: %w", i, t.Shape, t.Count, ErrOutOfRange)
	}
	it := IterAt(ctx, st, t, i)
	e, ok := it.Next()
	if !ok {
		if it.Err() != nil {
			return Entry{}, it.Err()
		}
		return Entry{}, fmt.Errorf("cannot get entry %d of a %s of %d: %w: tree holds fewer entries than its count", i, t.Shape, t.Count, ErrCorrupt)
	}
	return e, nil
}

// Iterator walks a tree's entries in order, reading one leaf at a time.
// Use: for e, ok := it.Next(); ok; e, ok = it.Next() {...}; then check Err.
type Iterator struct {
	ctx   context.Context
	st    Store
	shape Shape
	path  []frame // root first; the last is a leaf
	err   error
	done  bool
}

// frame is a position in one node: for internal nodes the child being
// walked, for leaves the next entry.
type frame struct {
	n *node
	i int
}

// Iter returns an iterator over a Map or Set from the first entry whose
// key is >= from (from the start if from is nil).
func Iter(ctx context.Context, st Store, t Tree, cmp Compare, from []byte) *Iterator {
	it := &Iterator{ctx: ctx, st: st, shape: t.Shape}
	if err := checkOrdered(t, cmp, "iterate"); err != nil {
		it.err = err
		return it
	}
	it.seek(t.Root, func(n *node) int {
		if from == nil {
			return 0
		}
		return sort.Search(len(n.items), func(i int) bool { return cmp(n.items[i].key, from) >= 0 })
	})
	return it
}

// IterAt returns an iterator over any tree but a Blob from index i (see At).
func IterAt(ctx context.Context, st Store, t Tree, i uint64) *Iterator {
	it := &Iterator{ctx: ctx, st: st, shape: t.Shape}
	if err := checkTree(t, isEntries, "iterate"); err != nil {
		it.err = err
		return it
	}
	if i >= t.Count {
		it.done = true
		return it
	}
	rest := i
	it.seek(t.Root, func(n *node) int {
		if n.level == 0 {
			if rest >= uint64(len(n.items)) {
				it.err = fmt.Errorf("cannot find entry %d: %w: leaf holds %d entries where its parent counts more", i, ErrCorrupt, len(n.items))
				return len(n.items)
			}
			return int(rest)
		}
		for k := range n.items {
			if rest < n.items[k].count {
				return k
			}
			rest -= n.items[k].count
		}
		it.err = fmt.Errorf("cannot find entry %d: %w: index beyond the counts of node children", i, ErrCorrupt)
		return len(n.items)
	})
	return it
}

// seek descends from root, choosing in each node the index pick returns;
// an index past the end means the position is past the end of the tree.
func (it *Iterator) seek(root chunks.Hash, pick func(*node) int) {
	if root.IsEmpty() {
		it.done = true
		return
	}
	h, level := root, -1
	for {
		n, err := loadNode(it.ctx, it.st, h, it.shape, level)
		if err != nil {
			it.err = err
			return
		}
		i := pick(n)
		if it.err != nil {
			return
		}
		it.path = append(it.path, frame{n, i})
		if n.level == 0 {
			return
		}
		if i >= len(n.items) {
			it.done = true
			return
		}
		h, level = n.items[i].link, n.level-1
	}
}

// Next returns the next entry, or false at the end or on error (see Err).
func (it *Iterator) Next() (Entry, bool) {
	for !it.done && it.err == nil {
		leaf := &it.path[len(it.path)-1]
		if leaf.i < len(leaf.n.items) {
			e := entryOf(it.shape, &leaf.n.items[leaf.i])
			leaf.i++
			return e, true
		}
		it.nextLeaf()
	}
	return Entry{}, false
}

// nextLeaf moves to the first entry of the following leaf.
func (it *Iterator) nextLeaf() {
	if err := it.ctx.Err(); err != nil {
		it.err = err
		return
	}
	// Climb to the nearest ancestor with a child left.
	d := len(it.path) - 2
	for d >= 0 && it.path[d].i+1 >= len(it.path[d].n.items) {
		d--
	}
	if d < 0 {
		it.done = true
		return
	}
	it.path[d].i++
	it.path = it.path[:d+1]
	for {
		parent := it.path[len(it.path)-1]
		n, err := loadNode(it.ctx, it.st, parent.n.items[parent.i].link, it.shape, parent.n.level-1)
		if err != nil {
			it.err = err
			return
		}
		it.path = append(it.path, frame{n, 0})
		if n.level == 0 {
			return
		}
	}
}

// Err returns the error that stopped the iteration, if any.
func (it *Iterator) Err() error { return it.err }

func entryOf(shape Shape, it *item) Entry {
	switch shape {
	case MapShape:
		return Entry{Key: it.key, Value: it.val}
	case SetShape:
		return Entry{Key: it.key}
	}
	return Entry{Value: it.val}
}
