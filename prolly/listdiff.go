package prolly

import (
	"context"
	"errors"
	"fmt"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// ListSplice is one difference between two Lists: at index At of the old
// list, Removed items were replaced by Added, which stand at index From of
// the new list.
type ListSplice struct {
	At, Removed uint64
	Added       [][]byte
	From        uint64
}

// DiffList calls emit for each splice that turns List from into List to, in
// index order. Both trees are walked top-down together: at each level the
// children of the two sides are matched by link with a longest-common-
// subsequence pass, and only unmatched children are opened, so equal
// subtrees are never read and the cost follows the size of the change.
func DiffList(ctx context.Context, st Store, from, to Tree, emit func(ListSplice) error) error {
	if from.Shape != ListShape || to.Shape != ListShape {
		return fmt.Errorf("cannot diff %s with %s as lists: %w", from.Shape, to.Shape, ErrShape)
	}
	if emit == nil {
		return errors.New("cannot diff: nil emit function")
	}
	if from.Root == to.Root {
		return nil
	}
	d := &differ{ctx: ctx, st: st, shape: ListShape, roots: map[chunks.Hash]*node{}}
	side := func(t Tree) ([]ref, int, error) {
		if t.Root.IsEmpty() {
			return nil, 0, nil
		}
		n, err := loadNode(ctx, st, t.Root, ListShape, -1)
		if err != nil {
			return nil, 0, err
		}
		d.roots[t.Root] = n
		return []ref{{link: t.Root, count: t.Count}}, n.level, nil
	}
	as, la, err := side(from)
	if err != nil {
		return err
	}
	bs, lb, err := side(to)
	if err != nil {
		return err
	}
	for ; la > lb; la-- {
		if as, err = d.expand(as, la); err != nil {
			return err
		}
	}
	for ; lb > la; lb-- {
		if bs, err = d.expand(bs, lb); err != nil {
			return err
		}
	}
	return d.listRegion(as, bs, la, 0, 0, emit)
}

// listRegion diffs two runs of level-l subtrees (items at level 0) that
// start at index at of the old list and from of the new one.
func (d *differ) listRegion(as, bs []ref, l int, at, from uint64, emit func(ListSplice) error) error {
	if l == 0 {
		return d.listLeaves(as, bs, at, from, emit)
	}
	pairs := lcs(len(as), len(bs), func(i, j int) bool { return as[i].link == bs[j].link })
	i, j := 0, 0
	for _, p := range append(pairs, [2]int{len(as), len(bs)}) {
		if p[0] > i || p[1] > j {
			ca, err := d.expand(as[i:p[0]], l)
			if err != nil {
				return err
			}
			cb, err := d.expand(bs[j:p[1]], l)
			if err != nil {
				return err
			}
			if err := d.listRegion(ca, cb, l-1, at, from, emit); err != nil {
				return err
			}
			at += total(as[i:p[0]])
			from += total(bs[j:p[1]])
		}
		if p[0] < len(as) { // a matched, equal subtree: skip it
			at += as[p[0]].count
			from += bs[p[1]].count
		}
		i, j = p[0]+1, p[1]+1
	}
	return nil
}

// listLeaves diffs the items of two runs of leaves.
func (d *differ) listLeaves(as, bs []ref, at, from uint64, emit func(ListSplice) error) error {
	items := func(rs []ref) ([][]byte, error) {
		var out [][]byte
		for _, r := range rs {
			n, err := d.load(r, 0)
			if err != nil {
				return nil, err
			}
			for _, it := range n.items {
				out = append(out, it.val)
			}
		}
		return out, nil
	}
	ai, err := items(as)
	if err != nil {
		return err
	}
	bi, err := items(bs)
	if err != nil {
		return err
	}
	pairs := lcs(len(ai), len(bi), func(i, j int) bool { return string(ai[i]) == string(bi[j]) })
	i, j := 0, 0
	for _, p := range append(pairs, [2]int{len(ai), len(bi)}) {
		if p[0] > i || p[1] > j {
			s := ListSplice{At: at + uint64(i), Removed: uint64(p[0] - i), From: from + uint64(j), Added: bi[j:p[1]]}
			if err := emit(s); err != nil {
				return err
			}
		}
		i, j = p[0]+1, p[1]+1
	}
	return nil
}

func total(rs []ref) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.count
	}
	return n
}

// lcs returns the index pairs of a longest common subsequence of two
// sequences of lengths n and m, in order, by Myers' O((n+m)·D) algorithm,
// which is fast when the sequences differ little, the common case here.
// Equal prefixes and suffixes are matched first.
func lcs(n, m int, eq func(i, j int) bool) [][2]int {
	var pre [][2]int
	for len(pre) < n && len(pre) < m && eq(len(pre), len(pre)) {
		pre = append(pre, [2]int{len(pre), len(pre)})
	}
	k := len(pre)
	var suf [][2]int
	for n-len(suf) > k && m-len(suf) > k && eq(n-1-len(suf), m-1-len(suf)) {
		suf = append(suf, [2]int{n - 1 - len(suf), m - 1 - len(suf)})
	}
	mid := myers(k, n-len(suf), k, m-len(suf), eq)
	out := append(pre, mid...)
	for x := len(suf) - 1; x >= 0; x-- {
		out = append(out, suf[x])
	}
	return out
}

// myers matches a[a0:a1] against b[b0:b1] (greedy forward Myers with a
// trace for backtracking).
func myers(a0, a1, b0, b1 int, eq func(i, j int) bool) [][2]int {
	n, m := a1-a0, b1-b0
	if n == 0 || m == 0 {
		return nil
	}
	maxD := n + m
	off := maxD
	v := make([]int, 2*maxD+2)
	var trace [][]int
	for dd := 0; dd <= maxD; dd++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -dd; k <= dd; k += 2 {
			var x int
			if k == -dd || (k != dd && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1]
			} else {
				x = v[off+k-1] + 1
			}
			y := x - k
			for x < n && y < m && eq(a0+x, b0+y) {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(trace, dd, off, n, m, a0, b0)
			}
		}
	}
	return nil
}

// backtrack walks the trace (trace[d] is V before step d) back from (n, m)
// and returns the diagonal moves: the matched pairs.
func backtrack(trace [][]int, d, off, n, m, a0, b0 int) [][2]int {
	var out [][2]int
	x, y := n, m
	for dd := d; dd > 0; dd-- {
		v := trace[dd]
		k := x - y
		var pk int
		if k == -dd || (k != dd && v[off+k-1] < v[off+k+1]) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := v[off+pk]
		py := px - pk
		for x > px && y > py {
			x--
			y--
			out = append(out, [2]int{a0 + x, b0 + y})
		}
		x, y = px, py
	}
	for x > 0 && y > 0 {
		x--
		y--
		out = append(out, [2]int{a0 + x, b0 + y})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
