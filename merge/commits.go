package merge

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// Outcome says what merging two commits amounted to.
type Outcome int

const (
	// UpToDate: theirs is ours or an ancestor of it; nothing to do.
	UpToDate Outcome = iota + 1
	// FastForward: ours is an ancestor of theirs, which is the result; no
	// merge commit is written.
	FastForward
	// Merged: the histories diverged and a merge commit was written.
	Merged
)

func (o Outcome) String() string {
	switch o {
	case UpToDate:
		return "up-to-date"
	case FastForward:
		return "fast-forward"
	case Merged:
		return "merged"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Result is the outcome of merging two commits.
type Result struct {
	Outcome Outcome
	// Commit is the result: ours (UpToDate), theirs (FastForward) or the
	// new merge commit (Merged).
	Commit db.Commit
	// Bases are the merge bases the values were merged from (Merged
	// only): the common ancestors that no other common ancestor descends
	// from, sorted by hash. Empty if the histories never meet.
	Bases []chunks.Hash
}

// Commits merges commit theirs into commit ours. If one descends from the
// other the result is that one, and nothing is written. Otherwise the two
// values are merged (Values) from their common ancestry, and a merge
// commit with parents ours and theirs is written, but no dataset head is
// moved (see Into).
//
// The merge commit is deterministic, so that two peers merging the same
// two heads write byte-identical commits and do not go on merging each
// other's merges: its parents are sorted (by db), its meta is the empty
// struct (no time, no author: nothing that differs between peers), and
// with a symmetric policy such as Deterministic its value does not depend
// on which side is ours.
//
// The ancestor is found as in git's recursive merge: when the histories
// cross (several common ancestors, none descending from the others), the
// values of those bases are merged first into a virtual ancestor, with
// conflicts between them left at their own ancestor's value. Picking just
// one of them, as Noms did, can make a change look concurrent with the
// very change it replaced, a spurious conflict that breaks convergence.
func Commits(ctx context.Context, d *db.Database, ours, theirs chunks.Hash, p Policy, opts ...Option) (Result, error) {
	return commits(ctx, d, ours, theirs, p, collect(opts))
}

func commits(ctx context.Context, d *db.Database, ours, theirs chunks.Hash, p Policy, o options) (Result, error) {
	g := &graph{d: d, commits: map[chunks.Hash]db.Commit{}, ancestors: o.ancestors}
	oc, err := g.commit(ctx, ours)
	if err != nil {
		return Result{}, err
	}
	if ours == theirs {
		return Result{Outcome: UpToDate, Commit: oc}, nil
	}
	tc, err := g.commit(ctx, theirs)
	if err != nil {
		return Result{}, err
	}
	bases, err := g.mergeBases(ctx, []chunks.Hash{ours}, []chunks.Hash{theirs})
	if err != nil {
		return Result{}, err
	}
	if len(bases) == 1 && bases[0] == theirs {
		return Result{Outcome: UpToDate, Commit: oc}, nil
	}
	if len(bases) == 1 && bases[0] == ours {
		return Result{Outcome: FastForward, Commit: tc}, nil
	}
	anc, err := g.baseValue(ctx, bases, 0)
	if err != nil {
		return Result{}, err
	}
	v, err := Values(ctx, d.Store(), anc, oc.Value, tc.Value, p)
	if err != nil {
		return Result{}, fmt.Errorf("cannot merge %s and %s: %w", ours, theirs, err)
	}
	if v == nil {
		return Result{}, fmt.Errorf("cannot merge %s and %s: %w", ours, theirs, ErrAbsentRoot)
	}
	c, err := d.WriteCommit(ctx, v, []chunks.Hash{ours, theirs}, value.Struct{})
	if err != nil {
		return Result{}, fmt.Errorf("cannot write merge of %s and %s: %w", ours, theirs, err)
	}
	return Result{Outcome: Merged, Commit: c, Bases: bases}, nil
}

// DefaultAttempts is how many times Into and CommitWithMerge try to move
// a head that other writers keep moving, unless told otherwise.
const DefaultAttempts = 32

// Into merges the commit theirs into the dataset: it fast-forwards the
// head, leaves it alone if it already contains theirs, or writes a merge
// commit (Commits) and moves the head to it. A dataset without a head is
// created at theirs. If another writer moves the head meanwhile, Into
// merges again with the new head, up to DefaultAttempts times. This is
// the step of the sync loop for one announced head.
func Into(ctx context.Context, d *db.Database, dataset string, theirs chunks.Hash, p Policy, opts ...Option) (Result, error) {
	return into(ctx, d, dataset, theirs, p, DefaultAttempts, false, collect(opts))
}

// into merges commit c into the dataset. With cIsOurs, c is the side a
// policy sees as ours (CommitWithMerge: the application's own change); the
// outcome is always reported from the dataset's point of view.
func into(ctx context.Context, d *db.Database, dataset string, c chunks.Hash, p Policy, attempts int, cIsOurs bool, o options) (Result, error) {
	var last error
	for range max(attempts, 1) {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		var res Result
		head, err := d.Head(ctx, dataset)
		switch {
		case errors.Is(err, db.ErrNoHead):
			cc, err := d.ReadCommit(ctx, c)
			if err != nil {
				return Result{}, err
			}
			res = Result{Outcome: FastForward, Commit: cc}
		case err != nil:
			return Result{}, err
		case cIsOurs:
			if res, err = commits(ctx, d, c, head.Hash, p, o); err != nil {
				return Result{}, err
			}
			switch res.Outcome { // seen from c: swap to the dataset's view
			case UpToDate:
				res.Outcome = FastForward
			case FastForward:
				res.Outcome = UpToDate
			}
		default:
			if res, err = commits(ctx, d, head.Hash, c, p, o); err != nil {
				return Result{}, err
			}
		}
		if res.Outcome == UpToDate {
			return res, nil
		}
		err = d.FastForward(ctx, dataset, res.Commit.Hash)
		if err == nil {
			return res, nil
		}
		if !errors.Is(err, db.ErrOptimisticLock) && !errors.Is(err, db.ErrMergeNeeded) {
			return Result{}, err
		}
		last = err // the head moved under us: merge with the new one
	}
	return Result{}, fmt.Errorf("cannot merge %s into %q: %w: %w", c, dataset, ErrTooManyRetries, last)
}

// CommitOptions are the optional parts of CommitWithMerge.
type CommitOptions struct {
	// Base is the commit the new value was derived from (typically the
	// head the application read). If the head has moved past it by the
	// time of the commit, the new value is merged with the head, from
	// their common ancestry. Zero means v was derived from no commit (the
	// dataset was new when the application read it): v's commit has no
	// parents, and if the dataset has a head by commit time (another
	// writer, or a sync, created it meanwhile) the two are merged as
	// histories that never met, so that neither side's data is dropped.
	Base chunks.Hash
	// Meta is the meta of the application's own commit (merge commits
	// always have the empty meta; see Commits).
	Meta value.Struct
	// Attempts bounds the tries when other writers keep moving the head;
	// 0 means DefaultAttempts.
	Attempts int
}

// CommitWithMerge commits v to the dataset as a child of opts.Base and
// makes it the head, merging with whatever other writers committed since
// Base: when the head is still Base it is a plain commit; when it moved,
// the commit of v is merged into it (as Into does: the merge commit has
// the head and v's commit as parents) with policy p, to which v is ours
// and the head theirs, retrying when the head moves again meanwhile. Result.Commit is the new head; Outcome is FastForward
// for a plain commit, Merged if a merge was needed, UpToDate if the head
// already contained the same commit.
func CommitWithMerge(ctx context.Context, d *db.Database, dataset string, v value.Value, opts CommitOptions, p Policy, mopts ...Option) (Result, error) {
	attempts := opts.Attempts
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	var parents []chunks.Hash
	if !opts.Base.IsEmpty() {
		parents = []chunks.Hash{opts.Base}
	}
	own, err := d.WriteCommit(ctx, v, parents, opts.Meta)
	if err != nil {
		return Result{}, err
	}
	return into(ctx, d, dataset, own.Hash, p, attempts, true, collect(mopts))
}

// graph reads commits for one merge, each once.
type graph struct {
	d         *db.Database
	commits   map[chunks.Hash]db.Commit
	ancestors *AncestorCache // nil: none
}

func (g *graph) commit(ctx context.Context, h chunks.Hash) (db.Commit, error) {
	if c, ok := g.commits[h]; ok {
		return c, nil
	}
	c, err := g.d.ReadCommit(ctx, h)
	if err != nil {
		return db.Commit{}, err
	}
	g.commits[h] = c
	return c, nil
}

// Flags of the merge-base walk.
const (
	fromOurs uint8 = 1 << iota
	fromTheirs
	stale  // an ancestor of a merge base already found
	queued // in the walk's queue
)

// mergeBases returns the commits that both sides (sets of commits) descend
// from and that no other such commit descends from, sorted by hash.
//
// It walks down from both sides at once, tallest commit first. Heights
// grow from parent to child, so a commit is popped only after every
// commit above it that reaches it, and its flags are final by then: the
// first commits found reachable from both sides are bases, and everything
// below them is marked stale and never reported. The walk stops when only
// stale commits remain, so it reads little more than the commits above
// the bases. It keeps a count of the queued commits that are not stale,
// so deciding to go on costs O(1) per step.
func (g *graph) mergeBases(ctx context.Context, ours, theirs []chunks.Hash) ([]chunks.Hash, error) {
	flags := map[chunks.Hash]uint8{}
	q := &commitQueue{}
	live := 0 // queued commits without the stale flag
	mark := func(h chunks.Hash, f uint8) error {
		prev := flags[h]
		next := prev | f
		flags[h] = next
		if prev != 0 {
			// Queued or done already; a queued one sees the new flags
			// when popped.
			if prev&queued != 0 && prev&stale == 0 && next&stale != 0 {
				live--
			}
			return nil
		}
		c, err := g.commit(ctx, h)
		if err != nil {
			return err
		}
		flags[h] = next | queued
		if next&stale == 0 {
			live++
		}
		heap.Push(q, walkEntry{hash: c.Hash, height: c.Height, parents: c.Parents})
		return nil
	}
	for _, h := range ours {
		if err := mark(h, fromOurs); err != nil {
			return nil, err
		}
	}
	for _, h := range theirs {
		if err := mark(h, fromTheirs); err != nil {
			return nil, err
		}
	}
	var bases []chunks.Hash
	for q.Len() > 0 && live > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := heap.Pop(q).(walkEntry)
		f := flags[c.hash] &^ queued
		if f&stale == 0 {
			live--
		}
		if f&(fromOurs|fromTheirs) == fromOurs|fromTheirs && f&stale == 0 {
			bases = append(bases, c.hash)
			f |= stale
		}
		flags[c.hash] = f
		for _, p := range c.parents {
			if err := mark(p, f); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(bases, chunks.Hash.Compare)
	return bases, nil
}

// maxBaseDepth bounds the recursion of virtual ancestors: each level works
// on strictly older commits, so real histories stay far below it; a
// pathological one falls back to the first base's value.
const maxBaseDepth = 32

// baseValue returns the ancestor value for a merge with these bases: nil
// for none, the base's value for one, and for several their recursive
// merge (a virtual ancestor), folded in hash order so every peer builds
// the same one.
func (g *graph) baseValue(ctx context.Context, bases []chunks.Hash, depth int) (value.Value, error) {
	if len(bases) == 0 {
		return nil, nil
	}
	first, err := g.commit(ctx, bases[0])
	if err != nil {
		return nil, err
	}
	if len(bases) == 1 || depth >= maxBaseDepth {
		return first.Value, nil
	}
	if v, ok := g.ancestors.get(ctx, g.d.Store(), bases); ok {
		return v, nil
	}
	heads, v := []chunks.Hash{bases[0]}, first.Value
	for _, b := range bases[1:] {
		bc, err := g.commit(ctx, b)
		if err != nil {
			return nil, err
		}
		inner, err := g.mergeBases(ctx, heads, []chunks.Hash{b})
		if err != nil {
			return nil, err
		}
		anc, err := g.baseValue(ctx, inner, depth+1)
		if err != nil {
			return nil, err
		}
		if v, err = Values(ctx, g.d.Store(), anc, v, bc.Value, baseline); err != nil {
			return nil, fmt.Errorf("cannot merge the common ancestors: %w", err)
		}
		heads = append(heads, b)
	}
	g.ancestors.put(bases, v)
	return v, nil
}

// walkEntry is what the merge-base walk keeps of a queued commit.
type walkEntry struct {
	hash    chunks.Hash
	height  uint64
	parents []chunks.Hash
}

// commitQueue orders commits tallest first, ties by hash.
type commitQueue []walkEntry

func (q commitQueue) Len() int { return len(q) }
func (q commitQueue) Less(i, j int) bool {
	if q[i].height != q[j].height {
		return q[i].height > q[j].height
	}
	return q[i].hash.Less(q[j].hash)
}
func (q commitQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)   { *q = append(*q, x.(walkEntry)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}
