package db

import (
	"container/heap"
	"context"
	"iter"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// commitQueue orders commits tallest first, ties by hash, so walks from
// several heads meet deterministically and never look below what they need.
type commitQueue []Commit

func (q commitQueue) Len() int { return len(q) }
func (q commitQueue) Less(i, j int) bool {
	if q[i].Height != q[j].Height {
		return q[i].Height > q[j].Height
	}
	return q[i].Hash.Less(q[j].Hash)
}
func (q commitQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)   { *q = append(*q, x.(Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// History yields the commit from and every commit it descends from, newest
// (tallest) first, each once, merges included; ties in height go by hash.
// Stop ranging to stop reading.
func (db *Database) History(ctx context.Context, from chunks.Hash) iter.Seq2[Commit, error] {
	return func(yield func(Commit, error) bool) {
		c, err := db.ReadCommit(ctx, from)
		if err != nil {
			yield(Commit{}, err)
			return
		}
		q := &commitQueue{c}
		seen := chunks.NewHashSet(from)
		for q.Len() > 0 {
			c := heap.Pop(q).(Commit)
			if !yield(c, nil) {
				return
			}
			for _, p := range c.Parents {
				if seen.Has(p) {
					continue
				}
				seen.Insert(p)
				pc, err := db.ReadCommit(ctx, p)
				if err != nil {
					yield(Commit{}, err)
					return
				}
				heap.Push(q, pc)
			}
		}
	}
}

// IsAncestor reports whether a is b or an ancestor of b. It reads only
// commits taller than a.
func (db *Database) IsAncestor(ctx context.Context, a, b chunks.Hash) (bool, error) {
	if a == b {
		return true, nil
	}
	ac, err := db.ReadCommit(ctx, a)
	if err != nil {
		return false, err
	}
	bc, err := db.ReadCommit(ctx, b)
	if err != nil {
		return false, err
	}
	q := &commitQueue{bc}
	seen := chunks.NewHashSet(b)
	for q.Len() > 0 {
		c := heap.Pop(q).(Commit)
		if c.Hash == a {
			return true, nil
		}
		if c.Height <= ac.Height {
			continue // everything below is shorter than a: a is not there
		}
		for _, p := range c.Parents {
			if seen.Has(p) {
				continue
			}
			seen.Insert(p)
			pc, err := db.ReadCommit(ctx, p)
			if err != nil {
				return false, err
			}
			heap.Push(q, pc)
		}
	}
	return false, nil
}

// CommonAncestor returns the tallest commit that both a and b descend from
// (or are), ties broken by hash so every peer picks the same one; ok is
// false when their histories never meet. It reads only commits at least as
// tall as the answer.
func (db *Database) CommonAncestor(ctx context.Context, a, b chunks.Hash) (ancestor chunks.Hash, ok bool, err error) {
	const fromA, fromB = 1, 2
	reached := map[chunks.Hash]int{}
	q := &commitQueue{}
	for _, start := range []struct {
		h    chunks.Hash
		side int
	}{{a, fromA}, {b, fromB}} {
		if reached[start.h] == 0 {
			c, err := db.ReadCommit(ctx, start.h)
			if err != nil {
				return chunks.Hash{}, false, err
			}
			heap.Push(q, c)
		}
		reached[start.h] |= start.side
	}
	for q.Len() > 0 {
		c := heap.Pop(q).(Commit)
		side := reached[c.Hash]
		if side == fromA|fromB {
			// The queue pops tallest first, and every commit taller than c
			// reachable from both sides would have been popped already.
			return c.Hash, true, nil
		}
		for _, p := range c.Parents {
			prev := reached[p]
			reached[p] = prev | side
			if prev != 0 {
				continue // queued already; its side mark is updated
			}
			pc, err := db.ReadCommit(ctx, p)
			if err != nil {
				return chunks.Hash{}, false, err
			}
			heap.Push(q, pc)
		}
	}
	return chunks.Hash{}, false, nil
}
