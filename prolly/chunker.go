package prolly

import (
	"context"
	"fmt"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// chunker turns a sequence of leaf entries (or blob bytes) into a tree,
// one levelState per level: each level collects items until the boundary
// rule cuts, writes the node and hands its reference to the level above.
//
// Editors feed it the new tree's sequence as a mix of single entries and
// whole unchanged subtrees of the old tree (pass): a subtree can be passed
// only while every level at and below its own is empty, that is when the
// new chunking has just cut where the old one did, so the subtree's nodes
// are exactly the ones the new chunking would make.
type chunker struct {
	ctx    context.Context
	st     Store
	w      writer
	shape  Shape
	cfg    *config
	levels []*levelState
	total  uint64 // entries (bytes) in the sequence so far

	scratch []byte // hash input buffer

	// lastPass is set when the most recent thing in the sequence is a
	// passed subtree, whose last key is lastPassKey (editors use this).
	lastPass    bool
	lastPassKey []byte
}

// levelState is the node being built at one level.
type levelState struct {
	body   []byte // encoded items (blob leaf: the bytes)
	n      int    // entries or children in body
	nItems int    // CBOR items in body
	count  uint64 // entries (bytes) under the node

	keyOff, keyEnd int // ordered shapes: the last key in body

	lastLink   chunks.Hash // the last child added (internal levels)
	lastPassed bool        // ... came from chunker.pass
	seen       bool        // the level has received an item, ever
	fp         uint64      // blob leaves: gear fingerprint
}

// writer receives every node the chunker makes. Chunks are made with
// chunks.NewChunk, so stores need not hash them again to verify them.
type writer interface {
	write(ctx context.Context, c chunks.Chunk) error
}

// directWriter puts nodes into the store as they are made.
type directWriter struct{ st Store }

func (w directWriter) write(ctx context.Context, c chunks.Chunk) error {
	return w.st.Put(ctx, c)
}

// bufferedWriter keeps nodes until flush, so an editor that has to start
// over leaves nothing behind, and a node made twice is put once.
type bufferedWriter struct {
	order []chunks.Chunk
	seen  chunks.HashSet
}

func (w *bufferedWriter) write(_ context.Context, c chunks.Chunk) error {
	if w.seen == nil {
		w.seen = chunks.NewHashSet()
	}
	if !w.seen.Has(c.Hash()) {
		w.seen.Insert(c.Hash())
		w.order = append(w.order, c)
	}
	return nil
}

func (w *bufferedWriter) flush(ctx context.Context, st Store) error {
	for _, c := range w.order {
		if err := st.Put(ctx, c); err != nil {
			return fmt.Errorf("cannot write node %s: %w", c.Hash(), err)
		}
	}
	w.order, w.seen = nil, nil
	return nil
}

func newChunker(ctx context.Context, st Store, w writer, shape Shape) *chunker {
	return &chunker{ctx: ctx, st: st, w: w, shape: shape, cfg: cfg}
}

func (c *chunker) level(l int) *levelState {
	for len(c.levels) <= l {
		c.levels = append(c.levels, &levelState{})
	}
	return c.levels[l]
}

// emptyUpTo reports whether levels 0..l hold no items: the sequence so far
// ends on a boundary at all of them.
func (c *chunker) emptyUpTo(l int) bool {
	for i := 0; i <= l && i < len(c.levels); i++ {
		if len(c.levels[i].body) > 0 {
			return false
		}
	}
	return true
}

// addEntry appends a leaf entry of a Map (key, val), Set (key) or List
// (val). The bytes are copied.
func (c *chunker) addEntry(key, val []byte) error {
	lv := c.level(0)
	size := len(key) + len(val)
	lone := size >= c.cfg.loneEntry
	if lone && len(lv.body) > 0 {
		if err := c.flush(0); err != nil {
			return err
		}
	}
	s0 := len(lv.body)
	identity := key
	switch c.shape {
	case MapShape:
		lv.keyOff = len(lv.body)
		lv.body = append(lv.body, key...)
		lv.keyEnd = len(lv.body)
		lv.body = append(lv.body, val...)
		lv.nItems += 2
	case SetShape:
		lv.keyOff = len(lv.body)
		lv.body = append(lv.body, key...)
		lv.keyEnd = len(lv.body)
		lv.nItems++
	default:
		lv.body = append(lv.body, val...)
		lv.nItems++
		identity = val
	}
	lv.n++
	lv.count++
	lv.seen = true
	c.total++
	c.lastPass = false
	if lone || len(lv.body) >= c.cfg.maxNode || c.cutAfter(0, identity, s0, len(lv.body)) {
		return c.flush(0)
	}
	return nil
}

// addBytes appends blob bytes.
func (c *chunker) addBytes(p []byte) error {
	lv := c.level(0)
	c.lastPass = false
	for len(p) > 0 {
		used, cut, fp := c.cfg.gearCut(p, len(lv.body), lv.fp)
		lv.body = append(lv.body, p[:used]...)
		lv.count += uint64(used)
		lv.fp = fp
		lv.seen = true
		c.total += uint64(used)
		p = p[used:]
		if cut {
			if err := c.flush(0); err != nil {
				return err
			}
		}
	}
	return nil
}

// ref is a reference to a node as its parent holds it.
type ref struct {
	key   []byte // ordered shapes: the node's last key
	link  chunks.Hash
	count uint64
}

// pass appends a whole subtree of the old tree whose root is at level l-1
// as an item of level l. The caller has checked emptyUpTo(l-1).
func (c *chunker) pass(l int, r ref) error {
	c.total += r.count
	c.lastPass = true
	c.lastPassKey = r.key
	return c.addChild(l, r, true)
}

// addChild appends a reference to a level l-1 node to level l.
func (c *chunker) addChild(l int, r ref, passed bool) error {
	lv := c.level(l)
	s0 := len(lv.body)
	if c.shape.ordered() {
		lv.keyOff = len(lv.body)
		lv.body = append(lv.body, r.key...)
		lv.keyEnd = len(lv.body)
		lv.nItems++
	}
	lv.body = appendLink(lv.body, r.link)
	lv.body = appendHead(lv.body, majorUint, r.count)
	lv.nItems += 2
	lv.n++
	if lv.count+r.count < lv.count {
		return fmt.Errorf("cannot add child %s: %w: counts overflow", r.link, ErrCorrupt)
	}
	lv.count += r.count
	lv.lastLink = r.link
	lv.lastPassed = passed
	lv.seen = true
	// At least two children per node, so each level has at most half as
	// many nodes as the one below and building always ends, whatever the
	// size of the items.
	if lv.n >= 2 && (len(lv.body) >= c.cfg.maxNode || c.cutAfter(l, c.internalIdentity(r), s0, len(lv.body))) {
		return c.flush(l)
	}
	return nil
}

// writeNode encodes and writes the node pending at level l and resets it.
func (c *chunker) writeNode(l int) (ref, error) {
	lv := c.levels[l]
	blobLeaf := l == 0 && c.shape == BlobShape
	ch := chunks.NewChunk(encodeNode(l, blobLeaf, lv.nItems, lv.body))
	h := ch.Hash()
	if err := c.w.write(c.ctx, ch); err != nil {
		return ref{}, fmt.Errorf("cannot write level-%d node: %w", l, err)
	}
	r := ref{link: h, count: lv.count}
	if c.shape.ordered() {
		// The parent copies the key before body is reused.
		r.key = lv.body[lv.keyOff:lv.keyEnd]
	}
	lv.body, lv.n, lv.nItems, lv.count, lv.fp = lv.body[:0], 0, 0, 0, 0
	return r, nil
}

// flush cuts the node pending at level l and adds it to level l+1.
func (c *chunker) flush(l int) error {
	r, err := c.writeNode(l)
	if err != nil {
		return err
	}
	return c.addChild(l+1, r, false)
}

// seenAbove reports whether any level above l has received an item: if
// not, everything at level l is still pending and forms its only node.
func (c *chunker) seenAbove(l int) bool {
	for i := l + 1; i < len(c.levels); i++ {
		if c.levels[i].seen {
			return true
		}
	}
	return false
}

// done ends the sequence: every level's pending items become its last
// node, up to the lowest level that has a single node, which is the root
// (so a tree's root depends only on its contents). It returns the root and
// the number of entries (bytes).
func (c *chunker) done() (chunks.Hash, uint64, error) {
	for l := 0; ; l++ {
		lv := c.level(l)
		if !c.seenAbove(l) {
			switch {
			case len(lv.body) == 0:
				return chunks.Hash{}, 0, nil
			case l > 0 && lv.n == 1:
				root, err := c.collapse(lv.lastLink, l-1, lv.lastPassed)
				return root, c.total, err
			}
			r, err := c.writeNode(l)
			return r.link, c.total, err
		}
		if len(lv.body) > 0 {
			if err := c.flush(l); err != nil {
				return chunks.Hash{}, 0, err
			}
		}
	}
}

// collapse returns the root of a tree whose top node, at level, is h:
// while that node has a single child, the child is the root. Only a node
// passed whole from an old tree can have one child here (nodes the chunker
// cuts have two or more, except a level's last, which never ends up alone
// at the top), so only those are read.
func (c *chunker) collapse(h chunks.Hash, level int, passed bool) (chunks.Hash, error) {
	for passed && level > 0 {
		n, err := loadNode(c.ctx, c.st, h, c.shape, level)
		if err != nil {
			return chunks.Hash{}, err
		}
		if len(n.items) != 1 {
			break
		}
		h = n.items[0].link
		level--
	}
	return h, nil
}

// loadNode reads and decodes the node h, which must be at level (or any
// level if level < 0).
func loadNode(ctx context.Context, st Store, h chunks.Hash, shape Shape, level int) (*node, error) {
	ch, err := st.Get(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s node %s: %w", shape, h, err)
	}
	n, err := decodeNode(ch.Data(), shape)
	if err != nil {
		return nil, fmt.Errorf("cannot decode %s node %s: %w", shape, h, err)
	}
	if level >= 0 && n.level != level {
		return nil, fmt.Errorf("cannot use %s node %s: %w: level %d where level %d belongs", shape, h, ErrCorrupt, n.level, level)
	}
	return n, nil
}

// internalIdentity returns the bytes hashed to cut after child r at an
// internal level: its last key in ordered trees, its link in indexed ones
// (see config.go for why).
func (c *chunker) internalIdentity(r ref) []byte {
	if c.shape.ordered() {
		return r.key
	}
	return r.link[:]
}
