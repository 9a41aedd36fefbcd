package merge

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// autoMergeName names the meta struct of the commits IntoAll writes. Such
// a commit holds nothing of its own: its value is the symmetric merge of
// its parents, so a later IntoAll may look through it to its parents and
// replace it by a wider merge. Every other commit, merges made by Commits,
// Into or by hand included, is kept as it is.
const autoMergeName = "AutoMerge"

var autoMergeMeta = func() value.Struct {
	s, err := value.NewStruct(autoMergeName, nil)
	if err != nil {
		panic(err) // a constant name
	}
	return s
}()

// IsAutoMerge reports whether c was written by IntoAll.
func IsAutoMerge(c db.Commit) bool {
	return len(c.Parents) > 1 && c.Meta.Name() == autoMergeName && c.Meta.Len() == 0
}

// IntoAll merges several commits (typically the newest heads of every
// other writer of a dataset) into the dataset at once, and so that writers
// converge in one round rather than merging each other's merges (a merge
// storm). It gathers the dataset's head and the commits, looks through the
// automatic merges among them (earlier results of IntoAll) to the commits
// they merged, and keeps those that no other one descends from: the tips.
// One tip is the result as it is; several are merged into one commit whose
// parents are exactly the tips, its value their merge folded in hash
// order, its meta the AutoMerge marker. That commit depends on the set of
// tips alone, so every peer that has seen the same changes writes the
// same one, whatever merges each made on the way; the head moves to it by
// compare-and-swap (db.SwapHead: an automatic merge it replaces is not its
// ancestor, but every tip of it is), retrying when the head moves.
//
// The fold order decides which side a policy sees as ours, so p must be
// symmetric (IsSymmetric); an asymmetric one is refused with
// ErrAsymmetricPolicy (use Into, one commit at a time).
//
// Result.Commit is the new head. Outcome is UpToDate when the head already
// holds every commit, FastForward when the result is one of the commits,
// Merged when a merge commit was written.
func IntoAll(ctx context.Context, d *db.Database, dataset string, theirs []chunks.Hash, p Policy, opts ...Option) (Result, error) {
	if !IsSymmetric(p) {
		return Result{}, ErrAsymmetricPolicy
	}
	o := collect(opts)
	g := &graph{d: d, commits: map[chunks.Hash]db.Commit{}, ancestors: o.ancestors}
	var last error
	for range DefaultAttempts {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		head, err := d.Head(ctx, dataset)
		all := slices.Clone(theirs)
		switch {
		case errors.Is(err, db.ErrNoHead):
		case err != nil:
			return Result{}, err
		default:
			all = append(all, head.Hash)
		}
		if len(all) == 0 {
			return Result{}, fmt.Errorf("cannot merge into %q: no commits: %w", dataset, db.ErrNoHead)
		}
		res, err := g.mergeAll(ctx, all, p)
		if err != nil {
			return Result{}, err
		}
		if !head.Hash.IsEmpty() && res.Commit.Hash == head.Hash {
			return Result{Outcome: UpToDate, Commit: head}, nil
		}
		if slices.Contains(theirs, res.Commit.Hash) {
			// Another peer wrote this merge already: adopting it is a
			// fast-forward (or its equivalent), not a merge of ours.
			res.Outcome, res.Bases = FastForward, nil
		}
		err = d.SwapHead(ctx, dataset, head.Hash, res.Commit.Hash)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, db.ErrOptimisticLock) {
			return Result{}, err
		}
		last = err
	}
	return Result{}, fmt.Errorf("cannot merge %d commits into %q: %w: %w", len(theirs), dataset, ErrTooManyRetries, last)
}

// mergeAll returns the commit that holds every commit of hs: one of them
// if it descends from all the others (nothing is looked through or merged
// then: a peer catching up adopts a merge as it is), an existing
// automatic merge among them whose parents are exactly the tips, or a new
// automatic merge of the tips.
func (g *graph) mergeAll(ctx context.Context, hs []chunks.Hash, p Policy) (Result, error) {
	top, err := g.latest(ctx, hs)
	if err != nil {
		return Result{}, err
	}
	if len(top) == 1 {
		c, err := g.commit(ctx, top[0])
		return Result{Outcome: FastForward, Commit: c}, err
	}
	tips, err := g.tips(ctx, top)
	if err != nil {
		return Result{}, err
	}
	for _, h := range top {
		if c, err := g.commit(ctx, h); err == nil && IsAutoMerge(c) && slices.Equal(c.Parents, tips) {
			return Result{Outcome: FastForward, Commit: c}, nil
		}
	}
	return g.combine(ctx, tips, p)
}

// latest returns the distinct commits of hs that no other one descends
// from, sorted by hash.
func (g *graph) latest(ctx context.Context, hs []chunks.Hash) ([]chunks.Hash, error) {
	hs = slices.Clone(hs)
	slices.SortFunc(hs, chunks.Hash.Compare)
	hs = slices.Compact(hs)
	var out []chunks.Hash
	for i, h := range hs {
		covered := false
		for j, other := range hs {
			if i == j {
				continue
			}
			ok, err := g.d.IsAncestor(ctx, h, other)
			if err != nil {
				return nil, err
			}
			if ok {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, h)
		}
	}
	return out, nil
}

// tips looks through automatic merges among hs to what they merged and
// returns the distinct commits that no other one descends from, sorted by
// hash.
func (g *graph) tips(ctx context.Context, hs []chunks.Hash) ([]chunks.Hash, error) {
	var flat []chunks.Hash
	seen := map[chunks.Hash]bool{}
	var open func(h chunks.Hash) error
	open = func(h chunks.Hash) error {
		if seen[h] {
			return nil
		}
		seen[h] = true
		c, err := g.commit(ctx, h)
		if err != nil {
			return err
		}
		if !IsAutoMerge(c) {
			flat = append(flat, h)
			return nil
		}
		for _, p := range c.Parents {
			if err := open(p); err != nil {
				return err
			}
		}
		return nil
	}
	for _, h := range hs {
		if err := open(h); err != nil {
			return nil, err
		}
	}
	return g.latest(ctx, flat)
}

// combine returns the commit that merges tips (sorted, none descending
// from another): the tip itself if there is one, else a new automatic
// merge of them all.
func (g *graph) combine(ctx context.Context, tips []chunks.Hash, p Policy) (Result, error) {
	first, err := g.commit(ctx, tips[0])
	if err != nil {
		return Result{}, err
	}
	if len(tips) == 1 {
		return Result{Outcome: FastForward, Commit: first}, nil
	}
	v, merged := first.Value, tips[:1]
	var bases []chunks.Hash
	for _, t := range tips[1:] {
		tc, err := g.commit(ctx, t)
		if err != nil {
			return Result{}, err
		}
		b, err := g.mergeBases(ctx, merged, []chunks.Hash{t})
		if err != nil {
			return Result{}, err
		}
		anc, err := g.baseValue(ctx, b, 0)
		if err != nil {
			return Result{}, err
		}
		if v, err = Values(ctx, g.d.Store(), anc, v, tc.Value, p); err != nil {
			return Result{}, fmt.Errorf("cannot merge %s into %v: %w", t, merged, err)
		}
		if v == nil {
			return Result{}, fmt.Errorf("cannot merge %s into %v: %w", t, merged, ErrAbsentRoot)
		}
		merged = tips[:len(merged)+1]
		bases = append(bases, b...)
	}
	c, err := g.d.WriteCommit(ctx, v, tips, autoMergeMeta)
	if err != nil {
		return Result{}, fmt.Errorf("cannot write the merge of %v: %w", tips, err)
	}
	slices.SortFunc(bases, chunks.Hash.Compare)
	return Result{Outcome: Merged, Commit: c, Bases: slices.Compact(bases)}, nil
}
