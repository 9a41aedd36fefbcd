package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/merge"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// exitConflict is the exit code of a merge that left conflicts unresolved
// (stable, like the others in main.go): scripts tell "resolve by hand or
// pick a policy" apart from a failure.
const exitConflict = 4

// exitCoder is an error that asks for a specific exit code.
type exitCoder interface{ ExitCode() int }

// conflictExit is the error of a merge with unresolved conflicts. The
// conflicts were printed already; the error carries exitConflict.
type conflictExit struct{ err error }

func (e conflictExit) Error() string { return e.err.Error() }
func (e conflictExit) Unwrap() error { return e.err }
func (e conflictExit) ExitCode() int { return exitConflict }

// exitCodeOf maps an error to the exit code it asks for, if any; run
// consults it before its generic cases.
func exitCodeOf(err error) (int, bool) {
	var ec exitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode(), true
	}
	return 0, false
}

type mergeOptions struct {
	Into   string
	Policy string
}

func (o *mergeOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Into, "into", "", "dataset to move to the result (required); its head must be an ancestor of the result, e.g. left or right itself")
	fs.StringVar(&o.Policy, "policy", "fail", "how to resolve conflicts: "+strings.Join(merge.PolicyNames, ", ")+
		" (fail: report them and change nothing; ours/theirs: take left/right; auto: the deterministic choice peers make in sync)")
}

func newMergeCommand(g *globalOptions) *cobra.Command {
	opts := &mergeOptions{}
	var policy merge.Policy
	cmd := &cobra.Command{
		Use:   "merge <left> <right> --into <dataset>",
		Short: "Three-way merge two datasets or commits into a dataset",
		Long: `Merge <right> into <left>, each a dataset name or a commit hash ('#' prefix
optional, or its CID), from their common ancestry, and move the dataset given
by --into to the result. If one side already contains the other, the result
is that side (a fast-forward: no new commit). Otherwise a merge commit is
written; it is deterministic, so peers merging the same heads write the same
commit.

Maps, sets and structs merge entry by entry; lists merge when both sides only
appended. Conflicts (both sides changed the same thing differently) go to
--policy. With the default, fail, every conflict is printed with its path and
nothing changes; the exit code is then 4.`,
		Example: `  noms-ipfs merge todo todo-bob --into todo
  noms-ipfs merge todo '#s13bo1knd3tt1ubu3b89o3ib78m7gpbb' --into todo --policy auto
  noms-ipfs merge a b --into c --json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError{fmt.Errorf("merge takes two datasets or commits, got %d arguments", len(args))}
			}
			return nil
		},
		PreRunE: func(*cobra.Command, []string) error {
			if opts.Into == "" {
				return usageError{errors.New("--into <dataset> is required: the dataset to move to the result")}
			}
			if !db.ValidName(opts.Into) {
				return usageError{fmt.Errorf("invalid dataset name %q for --into: use [a-zA-Z0-9_./-]", opts.Into)}
			}
			var err error
			if policy, err = merge.ParsePolicy(opts.Policy); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMerge(cmd.Context(), g, opts.Into, policy, opts.Policy, args[0], args[1])
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// mergeResult is what merge prints with --json.
type mergeResult struct {
	Result    string         `json:"result"` // merged, fast-forward, up-to-date, conflict
	Dataset   string         `json:"dataset"`
	Commit    string         `json:"commit,omitempty"`
	Parents   []string       `json:"parents,omitempty"`
	Left      string         `json:"left"`
	Right     string         `json:"right"`
	Bases     []string       `json:"bases,omitempty"`
	Policy    string         `json:"policy"`
	Conflicts []conflictJSON `json:"conflicts,omitempty"`
}

type conflictJSON struct {
	Path     string  `json:"path"`
	Reason   string  `json:"reason"`
	Ancestor *string `json:"ancestor"` // null: absent
	Left     *string `json:"left"`
	Right    *string `json:"right"`
}

func runMerge(ctx context.Context, g *globalOptions, into string, policy merge.Policy, policyName, leftArg, rightArg string) error {
	s, err := g.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	d := db.New(s.store)
	left, err := resolveCommit(ctx, d, leftArg)
	if err != nil {
		return err
	}
	right, err := resolveCommit(ctx, d, rightArg)
	if err != nil {
		return err
	}
	out := mergeResult{Dataset: into, Left: left.String(), Right: right.String(), Policy: policyName}

	res, err := merge.Commits(ctx, d, left, right, policy)
	var ce *merge.ConflictError
	if errors.As(err, &ce) {
		out.Result = "conflict"
		for _, c := range ce.Conflicts {
			out.Conflicts = append(out.Conflicts, conflictJSON{
				Path: c.Path, Reason: c.Reason,
				Ancestor: describeOrNil(c.Ancestor), Left: describeOrNil(c.Ours), Right: describeOrNil(c.Theirs),
			})
		}
		if perr := printMerge(g, out); perr != nil {
			return perr
		}
		return conflictExit{fmt.Errorf("%d unresolved conflict(s); %q not changed (try --policy ours, theirs or auto): %w", len(ce.Conflicts), into, ce)}
	}
	if err != nil {
		return err
	}
	if err := moveInto(ctx, d, into, res.Commit.Hash); err != nil {
		return err
	}
	// The store keeps new chunks durable only once its root is committed;
	// moving the head did that.
	out.Result = res.Outcome.String()
	out.Commit = res.Commit.Hash.String()
	for _, p := range res.Commit.Parents {
		out.Parents = append(out.Parents, p.String())
	}
	for _, b := range res.Bases {
		out.Bases = append(out.Bases, b.String())
	}
	return printMerge(g, out)
}

// moveInto moves the dataset to the result, which must descend from its
// head: merging into a dataset must never drop commits it has. Another
// writer moving the head meanwhile is retried; diverging from it is not.
func moveInto(ctx context.Context, d *db.Database, into string, to chunks.Hash) error {
	var err error
	for range merge.DefaultAttempts {
		err = d.FastForward(ctx, into, to)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, db.ErrMergeNeeded):
			return fmt.Errorf("%q has commits the result lacks; merge it too (e.g. use it as <left>): %w", into, err)
		case !errors.Is(err, db.ErrOptimisticLock):
			return err
		}
	}
	return err
}

func describeOrNil(v value.Value) *string {
	if v == nil {
		return nil
	}
	s := merge.Describe(v)
	return &s
}

// resolveCommit reads arg as a dataset name (its head) or else as a commit
// hash or CID. A string that could be both means the dataset; a hash
// written with its '#' prefix never can.
func resolveCommit(ctx context.Context, d *db.Database, arg string) (chunks.Hash, error) {
	isName := db.ValidName(arg)
	if isName {
		head, err := d.Head(ctx, arg)
		if err == nil {
			return head.Hash, nil
		}
		if !errors.Is(err, db.ErrNoHead) {
			return chunks.Hash{}, err
		}
	}
	h, err := parseChunkRef(arg)
	if err != nil {
		if isName {
			// Not found, so scripts get exitNotFound, like for a missing chunk.
			return chunks.Hash{}, fmt.Errorf("no dataset %q, and it is not a commit hash: %w (%w)", arg, db.ErrNoHead, chunks.ErrNotFound)
		}
		return chunks.Hash{}, usageError{fmt.Errorf("%q is neither a dataset name nor a commit hash", arg)}
	}
	if _, err := d.ReadCommit(ctx, h); err != nil {
		return chunks.Hash{}, fmt.Errorf("%q: %w", arg, err)
	}
	return h, nil
}

func printMerge(g *globalOptions, r mergeResult) error {
	if g.JSON {
		return g.printJSON(r)
	}
	w := g.out
	switch r.Result {
	case "conflict":
		fmt.Fprintf(w, "CONFLICT: %d path(s) changed differently on both sides (policy %s):\n", len(r.Conflicts), r.Policy)
		for _, c := range r.Conflicts {
			fmt.Fprintf(w, "  %s: %s\n", merge.PathText(c.Path), c.Reason)
			fmt.Fprintf(w, "      ancestor: %s\n      left:     %s\n      right:    %s\n", orAbsent(c.Ancestor), orAbsent(c.Left), orAbsent(c.Right))
		}
	case "up-to-date":
		fmt.Fprintf(w, "%s already contains %s; %s is at %s\n", r.Left, r.Right, r.Dataset, r.Commit)
	case "fast-forward":
		fmt.Fprintf(w, "fast-forward: %s is now at %s\n", r.Dataset, r.Commit)
	default:
		fmt.Fprintf(w, "merged %s and %s: %s is now at merge commit %s\n", r.Left, r.Right, r.Dataset, r.Commit)
	}
	return nil
}

func orAbsent(s *string) string {
	if s == nil {
		return "(absent)"
	}
	return *s
}
