package prolly

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
)

// Editing walks the old tree top-down, handing the chunker the new tree's
// sequence: subtrees without edits go whole (chunker.pass) whenever the
// chunker is empty at their level and below, that is when the new
// chunking has fallen back in step with the old one; otherwise they are
// opened and their children (down to leaf entries, with the edits merged
// in) are fed one by one. So re-chunking starts at the first node an edit
// touches, runs past the last edit until a new cut lands on an old one, and
// is repeated level by level up to the root; all edits share one walk and
// only nodes on the paths to edits are read or written.
//
// One case needs a second walk: a lone entry (LoneEntrySize) at the start
// of a leaf cuts the leaf before it, so that boundary depends on what
// follows it. If an edit changes that first entry while the previous leaf
// went by whole, the walk stops (errRestart) and runs again with a "touch"
// edit that also opens the previous leaf. New nodes are buffered until the
// walk succeeds, so the abandoned walk writes nothing.

// errRestart asks the editor's caller to walk again with one more touch.
var errRestart = errors.New("prolly: restart with the previous leaf opened")

// restartHook, if set (by tests), is called on every restart.
var restartHook func()

func restarted() {
	if restartHook != nil {
		restartHook()
	}
}

// maxRestarts bounds the walks of one edit; each restart opens one more
// leaf, and a well-formed tree needs at most one per edited leaf.
const maxRestarts = 1000

type editor struct {
	ctx   context.Context
	st    Store
	shape Shape
	cmp   Compare
	ch    *chunker
	w     *bufferedWriter

	// Indexed edits: remove `remove` items (bytes) at `at`, insert there.
	at, remove uint64
	insItems   [][]byte
	insBytes   []byte
	inserted   bool
	oldCount   uint64
	touches    []uint64 // positions whose leaves must be opened
	lastPassAt uint64   // old position of the last item of the last passed subtree

	// Lone-entry check: armed when a leaf starting with a lone entry is
	// opened right after a whole subtree went by.
	risk         bool
	riskFirst    item
	riskTouchKey []byte
	riskTouchPos uint64
}

func newEditor(ctx context.Context, st Store, shape Shape, cmp Compare) *editor {
	w := &bufferedWriter{}
	return &editor{ctx: ctx, st: st, shape: shape, cmp: cmp, ch: newChunker(ctx, st, w, shape), w: w}
}

// finish ends the sequence and writes the new nodes.
func (e *editor) finish() (Tree, error) {
	e.risk = false // the end of the sequence is a boundary anyway
	root, n, err := e.ch.done()
	if err != nil {
		return Tree{}, err
	}
	if err := e.w.flush(e.ctx, e.st); err != nil {
		return Tree{}, err
	}
	return Tree{Shape: e.shape, Root: root, Count: n}, nil
}

// pass hands a whole subtree of the old tree to the chunker at level l.
func (e *editor) pass(l int, r ref) error {
	if e.risk {
		return errRestart
	}
	return e.ch.pass(l, r)
}

// feed hands one leaf entry to the chunker.
func (e *editor) feed(key, val []byte) error {
	if e.risk {
		same := bytes.Equal(key, e.riskFirst.key) && bytes.Equal(val, e.riskFirst.val)
		if !same && len(key)+len(val) < e.ch.cfg.loneEntry {
			return errRestart
		}
		e.risk = false
	}
	return e.ch.addEntry(key, val)
}

// openLeaf arms the lone-entry check for leaf n.
func (e *editor) openLeaf(n *node) {
	if !e.ch.lastPass || len(n.items) == 0 {
		return
	}
	first := n.items[0]
	if len(first.key)+len(first.val) >= e.ch.cfg.loneEntry {
		e.risk = true
		e.riskFirst = first
		e.riskTouchKey = e.ch.lastPassKey
		e.riskTouchPos = e.lastPassAt
	}
}

// load reads the node r refers to and checks it against r.
func (e *editor) load(r ref, level int) (*node, error) {
	n, err := loadNode(e.ctx, e.st, r.link, e.shape, level)
	if err != nil {
		return nil, err
	}
	if err := checkRef(n, r, e.shape); err != nil {
		return nil, err
	}
	return n, nil
}

// checkRef checks that node n is what its parent says: same count and,
// for ordered shapes, same last key.
func checkRef(n *node, r ref, shape Shape) error {
	if n.total != r.count {
		return fmt.Errorf("cannot use node %s: %w: it holds %d entries, its parent counts %d", r.link, ErrCorrupt, n.total, r.count)
	}
	if shape.ordered() && r.key != nil && !bytes.Equal(n.items[len(n.items)-1].key, r.key) {
		return fmt.Errorf("cannot use node %s: %w: its last key differs from its parent's", r.link, ErrCorrupt)
	}
	return nil
}

// kedit is an Edit, or a touch: open the leaf holding Key, change nothing.
type kedit struct {
	Edit
	touch bool
}

// Apply applies edits, sorted by key and unique, to a Map or Set: each
// inserts or replaces its key, or deletes it. Nodes are rewritten only on
// the paths to the edits (plus the few where the chunking shifts), so one
// edit writes about one node per level.
func Apply(ctx context.Context, st Store, t Tree, cmp Compare, edits []Edit) (Tree, error) {
	if err := checkOrdered(t, cmp, "edit"); err != nil {
		return Tree{}, err
	}
	ks := make([]kedit, len(edits))
	for i, ed := range edits {
		if err := checkItem(ed.Key, "key"); err != nil {
			return Tree{}, fmt.Errorf("cannot apply edit %d: %w", i, err)
		}
		if t.Shape == MapShape && !ed.Delete {
			if err := checkItem(ed.Value, "map value"); err != nil {
				return Tree{}, fmt.Errorf("cannot apply edit %d: %w", i, err)
			}
		}
		if i > 0 && cmp(edits[i-1].Key, ed.Key) >= 0 {
			return Tree{}, fmt.Errorf("cannot apply edit %d: %w", i, ErrOrder)
		}
		ks[i] = kedit{Edit: ed}
		if t.Shape == SetShape {
			ks[i].Value = nil
		}
	}
	if len(ks) == 0 {
		return t, nil
	}
	for range maxRestarts {
		e := newEditor(ctx, st, t.Shape, cmp)
		nt, err := e.applyOrdered(t, ks)
		if !errors.Is(err, errRestart) {
			if err != nil {
				return Tree{}, fmt.Errorf("cannot apply %d edits to %s: %w", len(edits), t.Shape, err)
			}
			return nt, nil
		}
		restarted()
		i, found := slices.BinarySearchFunc(ks, e.riskTouchKey, func(k kedit, key []byte) int { return cmp(k.Key, key) })
		if found {
			return Tree{}, fmt.Errorf("cannot apply edits to %s: %w: keys out of order", t.Shape, ErrCorrupt)
		}
		ks = slices.Insert(ks, i, kedit{Edit: Edit{Key: e.riskTouchKey}, touch: true})
	}
	return Tree{}, fmt.Errorf("cannot apply edits to %s: %w: chunking does not settle", t.Shape, ErrCorrupt)
}

func (e *editor) applyOrdered(t Tree, edits []kedit) (Tree, error) {
	if t.Root.IsEmpty() {
		for _, ed := range edits {
			if !ed.Delete && !ed.touch {
				if err := e.feed(ed.Key, ed.Value); err != nil {
					return Tree{}, err
				}
			}
		}
		return e.finish()
	}
	root, err := loadNode(e.ctx, e.st, t.Root, t.Shape, -1)
	if err != nil {
		return Tree{}, err
	}
	if root.total != t.Count {
		return Tree{}, fmt.Errorf("%w: root holds %d entries, tree counts %d", ErrCorrupt, root.total, t.Count)
	}
	if err := e.orderedNode(root, edits); err != nil {
		return Tree{}, err
	}
	return e.finish()
}

// ordered visits the subtree r (root at level) with the edits in its range.
func (e *editor) ordered(r ref, level int, edits []kedit) error {
	if len(edits) == 0 && e.ch.emptyUpTo(level) {
		return e.pass(level+1, r)
	}
	n, err := e.load(r, level)
	if err != nil {
		return err
	}
	return e.orderedNode(n, edits)
}

func (e *editor) orderedNode(n *node, edits []kedit) error {
	if n.level == 0 {
		return e.orderedLeaf(n, edits)
	}
	for i := range n.items {
		c := &n.items[i]
		k := len(edits) // the last child takes keys past the end too
		if i < len(n.items)-1 {
			k = sort.Search(len(edits), func(j int) bool { return e.cmp(edits[j].Key, c.key) > 0 })
		}
		if err := e.ordered(ref{key: c.key, link: c.link, count: c.count}, n.level-1, edits[:k]); err != nil {
			return err
		}
		edits = edits[k:]
	}
	return nil
}

// orderedLeaf merges a leaf's entries with its edits.
func (e *editor) orderedLeaf(n *node, edits []kedit) error {
	e.openLeaf(n)
	items := n.items
	i := 0
	for _, ed := range edits {
		c := 1 // the edit's key is past every entry left
		for i < len(items) {
			if c = e.cmp(items[i].key, ed.Key); c >= 0 {
				break
			}
			if err := e.feed(items[i].key, items[i].val); err != nil {
				return err
			}
			i++
			c = 1
		}
		switch {
		case c == 0 && ed.touch:
			if err := e.feed(items[i].key, items[i].val); err != nil {
				return err
			}
		case !ed.Delete && !ed.touch:
			if err := e.feed(ed.Key, ed.Value); err != nil {
				return err
			}
		}
		if c == 0 {
			i++
		}
	}
	for ; i < len(items); i++ {
		if err := e.feed(items[i].key, items[i].val); err != nil {
			return err
		}
	}
	return nil
}

// Splice removes `remove` items of a List at index at and inserts items
// there: Splice(t, t.Count, 0, items) appends.
func Splice(ctx context.Context, st Store, t Tree, at, remove uint64, insert [][]byte) (Tree, error) {
	if err := checkTree(t, isList, "splice"); err != nil {
		return Tree{}, err
	}
	if err := checkSplice(t, at, remove); err != nil {
		return Tree{}, err
	}
	for i, v := range insert {
		if err := checkItem(v, "list item"); err != nil {
			return Tree{}, fmt.Errorf("cannot splice item %d: %w", i, err)
		}
	}
	if remove == 0 && len(insert) == 0 {
		return t, nil
	}
	var touches []uint64
	for range maxRestarts {
		e := newEditor(ctx, st, t.Shape, nil)
		e.at, e.remove, e.insItems, e.touches = at, remove, insert, touches
		nt, err := e.applyIndexed(t)
		if !errors.Is(err, errRestart) {
			if err != nil {
				return Tree{}, fmt.Errorf("cannot splice list at %d: %w", at, err)
			}
			return nt, nil
		}
		restarted()
		touches = append(touches, e.riskTouchPos)
	}
	return Tree{}, fmt.Errorf("cannot splice list: %w: chunking does not settle", ErrCorrupt)
}

// SpliceBlob removes `remove` bytes of a Blob at offset at and inserts
// insert there.
func SpliceBlob(ctx context.Context, st Store, t Tree, at, remove uint64, insert []byte) (Tree, error) {
	if err := checkTree(t, isBlob, "splice bytes of"); err != nil {
		return Tree{}, err
	}
	if err := checkSplice(t, at, remove); err != nil {
		return Tree{}, err
	}
	if remove == 0 && len(insert) == 0 {
		return t, nil
	}
	e := newEditor(ctx, st, t.Shape, nil)
	e.at, e.remove, e.insBytes = at, remove, insert
	nt, err := e.applyIndexed(t)
	if err != nil {
		return Tree{}, fmt.Errorf("cannot splice blob at %d: %w", at, err)
	}
	return nt, nil
}

func checkSplice(t Tree, at, remove uint64) error {
	if at > t.Count || remove > t.Count-at {
		return fmt.Errorf("cannot remove %d at %d from a %s of %d: %w", remove, at, t.Shape, t.Count, ErrOutOfRange)
	}
	return nil
}

func (e *editor) applyIndexed(t Tree) (Tree, error) {
	e.oldCount = t.Count
	if !t.Root.IsEmpty() {
		root, err := loadNode(e.ctx, e.st, t.Root, t.Shape, -1)
		if err != nil {
			return Tree{}, err
		}
		if err := checkRef(root, ref{link: t.Root, count: t.Count}, t.Shape); err != nil {
			return Tree{}, err
		}
		if err := e.indexedNode(root, 0); err != nil {
			return Tree{}, err
		}
	}
	if !e.inserted { // empty tree
		if err := e.insert(); err != nil {
			return Tree{}, err
		}
	}
	return e.finish()
}

func (e *editor) insert() error {
	e.inserted = true
	if e.shape == BlobShape {
		return e.ch.addBytes(e.insBytes)
	}
	for _, v := range e.insItems {
		if err := e.feed(nil, v); err != nil {
			return err
		}
	}
	return nil
}

// affects reports whether the edit changes the subtree covering [s, end).
func (e *editor) affects(s, end uint64) bool {
	if e.remove > 0 && s < e.at+e.remove && e.at < end {
		return true
	}
	if e.insertsIn(s, end) {
		return true
	}
	return e.touched(s, end)
}

// touched reports whether a touch falls in [s, end).
func (e *editor) touched(s, end uint64) bool {
	for _, t := range e.touches {
		if s <= t && t < end {
			return true
		}
	}
	return false
}

// insertsIn reports whether the insertion, not yet made, goes into the
// subtree covering [s, end): at a position inside it, or at its end if
// that is the end of the tree (append).
func (e *editor) insertsIn(s, end uint64) bool {
	return !e.inserted && s <= e.at && (e.at < end || (e.at == end && end == e.oldCount))
}

// indexed visits the subtree r (root at level) starting at position start.
func (e *editor) indexed(r ref, level int, start uint64) error {
	end := start + r.count
	if start >= e.at && end <= e.at+e.remove && !e.insertsIn(start, end) && !e.touched(start, end) {
		return nil // removed whole: no need to read it
	}
	if !e.affects(start, end) && e.ch.emptyUpTo(level) {
		e.lastPassAt = start + r.count - 1
		return e.pass(level+1, r)
	}
	n, err := e.load(r, level)
	if err != nil {
		return err
	}
	return e.indexedNode(n, start)
}

func (e *editor) indexedNode(n *node, start uint64) error {
	if n.level > 0 {
		for _, c := range n.items {
			if err := e.indexed(ref{link: c.link, count: c.count}, n.level-1, start); err != nil {
				return err
			}
			start += c.count
		}
		return nil
	}
	end := start + n.total
	clamp := func(p uint64) uint64 { return min(max(p, start), end) - start }
	keepBefore, keepAfter := clamp(e.at), clamp(e.at+e.remove)
	here := e.insertsIn(start, end)
	if e.shape == BlobShape {
		if err := e.ch.addBytes(n.blob[:keepBefore]); err != nil {
			return err
		}
		if here {
			if err := e.insert(); err != nil {
				return err
			}
		}
		return e.ch.addBytes(n.blob[keepAfter:])
	}
	e.openLeaf(n)
	for _, it := range n.items[:keepBefore] {
		if err := e.feed(nil, it.val); err != nil {
			return err
		}
	}
	if here {
		if err := e.insert(); err != nil {
			return err
		}
	}
	for _, it := range n.items[keepAfter:] {
		if err := e.feed(nil, it.val); err != nil {
			return err
		}
	}
	return nil
}
