// Package merge reconciles concurrent versions: three-way merge of values
// and of commits, with a pluggable policy for conflicts, so that peers that
// keep to mergeable operations converge on the same state like a CRDT.
//
// # Values
//
// Values(ctx, store, ancestor, ours, theirs, policy) merges two versions of
// a value. A change on one side only is taken; the same change on both
// sides is no conflict. Maps, Sets and Structs that both sides changed are
// merged entry by entry (field by field) and recursively, from the two
// sides' diffs against the ancestor (value.DiffMaps, value.DiffSets), and
// their changes are applied in one batched edit: merging two versions of
// a million-entry map that each changed 100 keys reads a few hundred
// nodes, never the whole map. Lists merge when both sides only appended
// (the ancestor, then the two runs in the order of their encodings);
// everything else both sides changed differently is a conflict. Appends
// are not a CRDT, though: three or more concurrent appenders merged in
// different orders may interleave their runs differently and then
// conflict. A log that must converge is a Map keyed by (time, author), as
// in Noms' chat sample.
//
// # Conflicts and policies
//
// A conflict (its path, such as `.todos["milk"].done`, and the ancestor's,
// our and their value, nil for absent) goes to a Policy, which returns the
// value to use or an error. Built in: Fail (the merge fails with one
// *ConflictError listing every conflict; errors.Is(err, ErrConflict)),
// Ours, Theirs, and Deterministic, the policy for automatic sync: it is
// symmetric (a change beats a deletion, otherwise the larger value in
// value.Compare's order wins), so each peer resolves a conflict the same
// way whichever side it calls its own. Applications plug in their own
// policy (PolicyFunc), for example to add up concurrent increments.
//
// # Commits and datasets
//
// Commits merges two commits: a fast-forward if one descends from the
// other (no commit is written), otherwise a merge commit whose value is
// merged from the common ancestry (several crossing merge bases are first
// merged into a virtual ancestor, as git's recursive strategy does). Merge
// commits are deterministic: parents sorted, empty meta, and with a
// symmetric policy a value independent of the side, so two peers merging
// the same heads write byte-identical commits instead of merging each
// other's merges forever.
//
// Into merges a commit into a dataset's head, and CommitWithMerge is the
// application's commit: "commit v, derived from the head I read; if
// someone moved the head meanwhile, merge with it; retry if the head moves
// again while merging". IntoAll is the sync loop's step: it merges the
// latest heads of every writer at once into one AutoMerge commit whose
// parents are the changes merged (looking through earlier AutoMerges), so
// writers that have heard the same changes write the same commit and stop,
// where pairwise merges of each other's merges go on for rounds.
// WithAncestorCache lets a long-lived merger keep the virtual ancestors of
// criss-cross histories, which every such merge rebuilds otherwise.
//
//	res, err := merge.CommitWithMerge(ctx, d, "todo", newValue,
//		merge.CommitOptions{Base: head.Hash}, merge.Deterministic)
package merge
