package prolly

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// Diff calls emit with every difference between two Maps or two Sets, in
// key order. It walks both trees top-down, level by level: children with
// equal links hold equal entries and are skipped without being read; the
// others are grouped into runs that cover the same key range in both trees
// (content-defined boundaries fall back in step right after a change) and
// only those are opened. So it reads about (number of changes × depth)
// nodes. An error from emit stops Diff and is returned as is. The slices
// in a Change share memory with the store's chunks: do not modify them.
func Diff(ctx context.Context, st Store, from, to Tree, cmp Compare, emit func(Change) error) error {
	if err := checkOrdered(from, cmp, "diff"); err != nil {
		return err
	}
	if err := checkOrdered(to, cmp, "diff"); err != nil {
		return err
	}
	if from.Shape != to.Shape {
		return fmt.Errorf("cannot diff a %s with a %s: %w", from.Shape, to.Shape, ErrShape)
	}
	if emit == nil {
		return errors.New("cannot diff: nil emit function")
	}
	if from.Root == to.Root {
		return nil
	}
	d := &differ{ctx: ctx, st: st, shape: from.Shape, cmp: cmp, emit: emit, roots: map[chunks.Hash]*node{}}
	var as, bs []ref
	la, lb := -1, -1
	if !from.Root.IsEmpty() {
		n, err := loadNode(ctx, st, from.Root, from.Shape, -1)
		if err != nil {
			return err
		}
		as, la = []ref{{link: from.Root, count: from.Count}}, n.level
		d.roots[from.Root] = n
	}
	if !to.Root.IsEmpty() {
		n, err := loadNode(ctx, st, to.Root, to.Shape, -1)
		if err != nil {
			return err
		}
		bs, lb = []ref{{link: to.Root, count: to.Count}}, n.level
		d.roots[to.Root] = n
	}
	// Bring both sides to the same level by opening the taller one.
	for ; la > lb && la > 0; la-- {
		var err error
		if as, err = d.expand(as, la); err != nil {
			return err
		}
	}
	for ; lb > la && lb > 0; lb-- {
		var err error
		if bs, err = d.expand(bs, lb); err != nil {
			return err
		}
	}
	level := max(la, lb)
	if level < 0 {
		return nil
	}
	return d.diffLevel(as, bs, level)
}

type differ struct {
	ctx   context.Context
	st    Store
	shape Shape
	cmp   Compare
	emit  func(Change) error
	roots map[chunks.Hash]*node // the two roots, read once
}

func (d *differ) load(r ref, l int) (*node, error) {
	if n := d.roots[r.link]; n != nil && n.level == l {
		return n, checkRef(n, r, d.shape)
	}
	n, err := loadNode(d.ctx, d.st, r.link, d.shape, l)
	if err != nil {
		return nil, err
	}
	return n, checkRef(n, r, d.shape)
}

// expand returns the children of the level-l nodes rs.
func (d *differ) expand(rs []ref, l int) ([]ref, error) {
	var out []ref
	for _, r := range rs {
		n, err := d.load(r, l)
		if err != nil {
			return nil, err
		}
		for _, c := range n.items {
			out = append(out, ref{key: c.key, link: c.link, count: c.count})
		}
	}
	return out, nil
}

// lastKeyCmp orders the last keys of two subtrees; a nil key (a root)
// covers everything to the end.
func (d *differ) lastKeyCmp(a, b ref) int {
	switch {
	case a.key == nil && b.key == nil:
		return 0
	case a.key == nil:
		return 1
	case b.key == nil:
		return -1
	}
	return d.cmp(a.key, b.key)
}

// diffLevel compares two runs of level-l subtrees covering the same keys.
func (d *differ) diffLevel(as, bs []ref, l int) error {
	i, j := 0, 0
	for i < len(as) || j < len(bs) {
		if i < len(as) && j < len(bs) && as[i].link == bs[j].link {
			i, j = i+1, j+1
			continue
		}
		// Grow a group on both sides until their last keys meet: then both
		// cover the same range and the next subtrees start in step.
		gi, gj := i, j
		if i < len(as) {
			i++
		}
		if j < len(bs) {
			j++
		}
		for {
			if i == gi || j == gj { // one side has nothing left: take the rest
				i, j = len(as), len(bs)
				break
			}
			c := d.lastKeyCmp(as[i-1], bs[j-1])
			if c == 0 {
				break
			}
			if c < 0 {
				if i == len(as) {
					j = len(bs)
					break
				}
				i++
			} else {
				if j == len(bs) {
					i = len(as)
					break
				}
				j++
			}
		}
		if err := d.ctx.Err(); err != nil {
			return err
		}
		if l == 0 {
			if err := d.diffLeaves(as[gi:i], bs[gj:j]); err != nil {
				return err
			}
			continue
		}
		ca, err := d.expand(as[gi:i], l)
		if err != nil {
			return err
		}
		cb, err := d.expand(bs[gj:j], l)
		if err != nil {
			return err
		}
		if err := d.diffLevel(ca, cb, l-1); err != nil {
			return err
		}
	}
	return nil
}

// leafSeq reads the entries of a run of leaves one leaf at a time.
type leafSeq struct {
	d    *differ
	refs []ref
	n    *node
	i    int
}

// peek returns the current entry, or nil at the end.
func (s *leafSeq) peek() (*item, error) {
	for s.n == nil || s.i >= len(s.n.items) {
		if len(s.refs) == 0 {
			return nil, nil
		}
		n, err := s.d.load(s.refs[0], 0)
		if err != nil {
			return nil, err
		}
		s.n, s.i, s.refs = n, 0, s.refs[1:]
	}
	return &s.n.items[s.i], nil
}

// diffLeaves merges the entries of two runs of leaves.
func (d *differ) diffLeaves(as, bs []ref) error {
	a, b := &leafSeq{d: d, refs: as}, &leafSeq{d: d, refs: bs}
	for {
		x, err := a.peek()
		if err != nil {
			return err
		}
		y, err := b.peek()
		if err != nil {
			return err
		}
		var c int
		switch {
		case x == nil && y == nil:
			return nil
		case x == nil:
			c = 1
		case y == nil:
			c = -1
		default:
			c = d.cmp(x.key, y.key)
		}
		switch {
		case c < 0:
			err = d.emit(Change{Kind: Removed, Key: x.key, Old: x.val})
			a.i++
		case c > 0:
			err = d.emit(Change{Kind: Added, Key: y.key, New: y.val})
			b.i++
		default:
			if !bytes.Equal(x.val, y.val) {
				err = d.emit(Change{Kind: Modified, Key: x.key, Old: x.val, New: y.val})
			}
			a.i++
			b.i++
		}
		if err != nil {
			return err
		}
	}
}
