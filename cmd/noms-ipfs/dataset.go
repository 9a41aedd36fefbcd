package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
	"github.com/noms-ipfs/noms-ipfs/merge"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// The dataset commands: commit, set and delete write a dataset's head;
// show and log read it. Writes merge with whatever other writers
// committed meanwhile (merge.Deterministic, the policy sync uses), so a
// head that `noms-ipfs sync` moved under the command is never clobbered.

// maxJSONInput bounds a JSON document read from stdin: FromJSON holds it in
// memory whole.
const maxJSONInput = 256 << 20

// syncNote is the help text's word on how writes reach other writers.
const syncNote = `A running ` + "`noms-ipfs sync`" + ` on the same --home and --db (with a daemon, or
its own embedded node, which it serves to other commands) publishes the new
head to the other writers within about a second.`

// notFoundError is an error that exits with exitNotFound without being a
// missing chunk, so its message says what was missing.
type notFoundError struct{ err error }

func (e notFoundError) Error() string { return e.err.Error() }
func (e notFoundError) Unwrap() error { return e.err }
func (e notFoundError) ExitCode() int { return exitNotFound }

func checkDatasetName(name string) error {
	if !db.ValidName(name) {
		return usageError{fmt.Errorf("invalid dataset name %q: use [a-zA-Z0-9_./-]", name)}
	}
	return nil
}

// checkDatasetOrCommit accepts what show and log read: a dataset name or a
// commit hash or CID.
func checkDatasetOrCommit(arg string) error {
	if db.ValidName(arg) {
		return nil
	}
	if _, err := parseChunkRef(arg); err != nil {
		return usageError{fmt.Errorf("invalid dataset name %q: use [a-zA-Z0-9_./-], or give a commit hash", arg)}
	}
	return nil
}

// nArgs checks the argument count; names are checked in RunE.
func nArgs(cmd string, n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s takes %s, got %d argument(s)", cmd, what, len(args))}
		}
		return nil
	}
}

// readJSONArg returns the JSON text of an argument, or of stdin for "-".
// Syntax is checked here, before a node starts, so a typo costs nothing.
func readJSONArg(stdin io.Reader, arg string) ([]byte, error) {
	data := []byte(arg)
	if arg == "-" {
		var err error
		if data, err = io.ReadAll(io.LimitReader(stdin, maxJSONInput+1)); err != nil {
			return nil, fmt.Errorf("cannot read stdin: %w", err)
		}
		if len(data) > maxJSONInput {
			return nil, usageError{fmt.Errorf("JSON on stdin is larger than %d MiB", maxJSONInput>>20)}
		}
	}
	if !json.Valid(data) {
		// FromJSON says where and why; a memory store takes what it builds.
		_, err := value.FromJSON(context.Background(), chunks.NewMemoryStore(), data)
		if err == nil {
			err = errors.New("not JSON")
		}
		return nil, usageError{fmt.Errorf("invalid JSON %q: %w", abbreviate(data), err)}
	}
	return data, nil
}

// parseJSON turns JSON into a value in the store; input the mapping
// refuses (null, a number out of range, ...) is a usage error.
func parseJSON(ctx context.Context, st value.Store, data []byte) (value.Value, error) {
	v, err := value.FromJSON(ctx, st, data)
	if errors.Is(err, value.ErrInvalidJSON) {
		return nil, usageError{fmt.Errorf("cannot store the JSON value: %w", err)}
	}
	return v, err
}

func newCommitCommand(g *globalOptions) *cobra.Command {
	var message string
	cmd := &cobra.Command{
		Use:   "commit <dataset> <json|->",
		Short: "Commit a JSON value as a dataset's new head",
		Long: `Commit the JSON value (or stdin, for -) as the new head of the dataset,
creating the dataset if it is new, and print the commit's hash and CID.

JSON objects become Maps with String keys, arrays Lists, numbers Ints when
written without fraction or exponent (and within 64 bits), else Floats;
{"/": "<cid>"} is a Ref and {"/": {"bytes": "<base64>"}} Bytes, as in
DAG-JSON. null has no value and is refused. A value starting with '-' (a
negative number) goes after --, which ends the flags: commit n -- -5.

If the head moves between reading and committing (another writer, or
sync), the new value is merged with it from their common ancestry, with
the deterministic policy sync uses, rather than replacing it.

` + syncNote,
		Example: `  noms-ipfs commit todo '{"milk": {"done": false}, "eggs": {"done": true}}'
  noms-ipfs commit todo - --message "import" < todo.json
  noms-ipfs commit counters '[1, 2, 3]' --json`,
		Args: nArgs("commit", 2, "a dataset and a JSON value (- for stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkWrite(args[0], message); err != nil {
				return err
			}
			data, err := readJSONArg(cmd.InOrStdin(), args[1])
			if err != nil {
				return err
			}
			return runWrite(cmd.Context(), g, args[0], "", message, func(ctx context.Context, st value.Store, _ *db.Commit) (value.Value, error) {
				return parseJSON(ctx, st, data)
			})
		},
	}
	addMessageFlag(cmd, &message)
	return cmd
}

func newSetCommand(g *globalOptions) *cobra.Command {
	var message string
	cmd := &cobra.Command{
		Use:   "set <dataset> <key> <json|->",
		Short: "Set one key of a dataset's Map to a JSON value and commit",
		Long: `Set the String key of the Map at the head of the dataset to the JSON value
(or stdin, for -), and commit the result as the new head. A new dataset
starts as an empty Map. The value is read as by commit (a negative number
goes after --: set config offset -- -5).

If another writer changed the dataset meanwhile, the two changes are
merged key by key: setting different keys never loses either.

` + syncNote,
		Example: `  noms-ipfs set todo milk '{"done": false}'
  noms-ipfs set todo milk '{"done": true}' --message "bought it"
  noms-ipfs set config retries 3 --json`,
		Args: nArgs("set", 3, "a dataset, a key and a JSON value (- for stdin)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, key := args[0], args[1]
			if err := checkWrite(ds, message, key); err != nil {
				return err
			}
			data, err := readJSONArg(cmd.InOrStdin(), args[2])
			if err != nil {
				return err
			}
			return runWrite(cmd.Context(), g, ds, key, message, func(ctx context.Context, st value.Store, head *db.Commit) (value.Value, error) {
				m, err := headMap(ctx, st, ds, head, true)
				if err != nil {
					return nil, err
				}
				v, err := parseJSON(ctx, st, data)
				if err != nil {
					return nil, err
				}
				return m.Set(ctx, st, value.String(key), v)
			})
		},
	}
	addMessageFlag(cmd, &message)
	return cmd
}

func newDeleteCommand(g *globalOptions) *cobra.Command {
	var message string
	cmd := &cobra.Command{
		Use:   "delete <dataset> <key>",
		Short: "Remove one key from a dataset's Map and commit",
		Long: `Remove the String key from the Map at the head of the dataset and commit
the result as the new head. A dataset or key that does not exist exits
with status 3.

If another writer changed the same key meanwhile, its change wins over the
deletion (as in sync: an edit is never lost to a concurrent delete).

` + syncNote,
		Example: `  noms-ipfs delete todo milk
  noms-ipfs delete todo eggs --message "done" --json`,
		Args: nArgs("delete", 2, "a dataset and a key"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, key := args[0], args[1]
			if err := checkWrite(ds, message, key); err != nil {
				return err
			}
			return runWrite(cmd.Context(), g, ds, key, message, func(ctx context.Context, st value.Store, head *db.Commit) (value.Value, error) {
				m, err := headMap(ctx, st, ds, head, false)
				if err != nil {
					return nil, err
				}
				found, err := m.Has(ctx, st, value.String(key))
				if err != nil {
					return nil, err
				}
				if !found {
					return nil, notFoundError{fmt.Errorf("no key %q in dataset %q", key, ds)}
				}
				return m.Delete(ctx, st, value.String(key))
			})
		},
	}
	addMessageFlag(cmd, &message)
	return cmd
}

// checkWrite checks what commit, set and delete take before any node
// starts: the dataset name, the keys and the message.
func checkWrite(ds, message string, keys ...string) error {
	if err := checkDatasetName(ds); err != nil {
		return err
	}
	for _, key := range keys {
		if !utf8.ValidString(key) {
			return usageError{fmt.Errorf("key %q is not valid UTF-8", key)}
		}
	}
	if !utf8.ValidString(message) {
		return usageError{errors.New("--message is not valid UTF-8")}
	}
	return nil
}

func addMessageFlag(cmd *cobra.Command, message *string) {
	cmd.Flags().StringVarP(message, "message", "m", "", "message stored in the commit's meta (shown by log)")
}

// headMap returns the Map at the head, or an empty one for a new dataset
// if orEmpty.
func headMap(ctx context.Context, st value.Store, ds string, head *db.Commit, orEmpty bool) (value.Map, error) {
	if head == nil {
		if orEmpty {
			return value.NewMap(ctx, st)
		}
		return value.Map{}, notFoundError{fmt.Errorf("no dataset %q: %w", ds, db.ErrNoHead)}
	}
	m, ok := head.Value.(value.Map)
	if !ok {
		return value.Map{}, usageError{fmt.Errorf("dataset %q holds a %s, not a Map: set and delete edit maps (commit replaces the whole value)", ds, head.Value.Kind())}
	}
	return m, nil
}

// writeResult is what commit, set and delete print with --json.
type writeResult struct {
	Dataset string `json:"dataset"`
	Key     string `json:"key,omitempty"`
	// Outcome is committed (a plain commit), merged (other writers had
	// moved the head: Commit is the merge of theirs and this one) or
	// up-to-date (the head already had this commit).
	Outcome string   `json:"outcome"`
	Commit  string   `json:"commit"`
	CID     string   `json:"cid"`
	Height  uint64   `json:"height"`
	Parents []string `json:"parents"`
}

// runWrite commits what edit makes of the dataset's head (nil for a new
// dataset) as its new head.
func runWrite(ctx context.Context, g *globalOptions, ds, key, message string,
	edit func(ctx context.Context, st value.Store, head *db.Commit) (value.Value, error)) error {
	s, err := g.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	d := db.New(s.store)
	var head *db.Commit
	switch c, err := d.Head(ctx, ds); {
	case err == nil:
		head = &c
	case !errors.Is(err, db.ErrNoHead):
		return err
	}
	v, err := edit(ctx, s.store, head)
	if err != nil {
		return err
	}
	var meta value.Struct
	if message != "" {
		if meta, err = value.NewStruct("", map[string]value.Value{"message": value.String(message)}); err != nil {
			return err
		}
	}
	res, err := commitValue(ctx, d, ds, head, v, meta)
	if err != nil {
		return fmt.Errorf("cannot commit to %q: %w", ds, err)
	}
	out := writeResult{Dataset: ds, Key: key, Commit: res.Commit.Hash.String(),
		CID: ipfsstore.HashToCID(res.Commit.Hash).String(), Height: res.Commit.Height, Parents: []string{}}
	for _, p := range res.Commit.Parents {
		out.Parents = append(out.Parents, p.String())
	}
	switch res.Outcome {
	case merge.Merged:
		out.Outcome = "merged"
	case merge.UpToDate:
		out.Outcome = "up-to-date"
	default:
		out.Outcome = "committed"
	}
	if g.JSON {
		return printData(g.out, out, "  ")
	}
	switch out.Outcome {
	case "merged":
		fmt.Fprintf(g.out, "%s: committed and merged with concurrent changes: %s (height %d)\n", ds, out.Commit, out.Height)
	case "up-to-date":
		fmt.Fprintf(g.out, "%s: already at %s (height %d)\n", ds, out.Commit, out.Height)
	default:
		fmt.Fprintf(g.out, "%s: committed %s (height %d)\n", ds, out.Commit, out.Height)
	}
	fmt.Fprintf(g.out, "cid: %s\n", out.CID)
	return nil
}

// commitValue makes v the dataset's head, merging with any commits that
// other writers made since head was read (for a new dataset, with whatever
// another writer created meanwhile).
func commitValue(ctx context.Context, d *db.Database, ds string, head *db.Commit, v value.Value, meta value.Struct) (merge.Result, error) {
	opts := merge.CommitOptions{Meta: meta}
	if head != nil {
		opts.Base = head.Hash
	}
	return merge.CommitWithMerge(ctx, d, ds, v, opts, merge.Deterministic)
}

// readCommitArg reads the head of a dataset, or a commit by hash or CID;
// dataset says which it was. A name that is both means the dataset, as in
// merge.
func readCommitArg(ctx context.Context, g *globalOptions, d *db.Database, arg string) (c db.Commit, dataset bool, err error) {
	if db.ValidName(arg) {
		c, err := d.Head(ctx, arg)
		if err == nil {
			return c, true, nil
		}
		if !errors.Is(err, db.ErrNoHead) {
			return db.Commit{}, false, err
		}
	}
	h, err := resolveCommit(ctx, d, arg)
	if errors.Is(err, db.ErrNoHead) {
		return db.Commit{}, false, notFoundError{fmt.Errorf("no dataset %q in database %q: %w", arg, g.DB, db.ErrNoHead)}
	}
	if err != nil {
		return db.Commit{}, false, err
	}
	c, err = d.ReadCommit(ctx, h)
	return c, false, err
}

func newShowCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "show <dataset|commit>",
		Short: "Print a dataset's head value (or a commit's) as JSON",
		Long: `Print the value at the head of the dataset, or of the commit with the given
hash ('#' prefix optional) or CID, as indented JSON: Maps with String keys
as objects, Lists and Sets as arrays, Structs as objects of their fields,
Refs as {"/": "<cid>"} and Bytes as {"/": {"bytes": "<base64>"}}. Maps with
other keys and Blobs have no JSON form and are refused.

With --json the value comes inside an object that also names the commit:
{"dataset", "commit", "cid", "height", "value"}. An unknown dataset exits
with status 3.`,
		Example: `  noms-ipfs show todo
  noms-ipfs show '#s13bo1knd3tt1ubu3b89o3ib78m7gpbb'
  noms-ipfs show todo --json | jq .value`,
		Args: nArgs("show", 1, "a dataset or commit"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDatasetOrCommit(args[0]); err != nil {
				return err
			}
			return runShow(cmd.Context(), g, args[0])
		},
	}
}

func runShow(ctx context.Context, g *globalOptions, arg string) error {
	s, err := g.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	d := db.New(s.store)
	c, isDataset, err := readCommitArg(ctx, g, d, arg)
	if err != nil {
		return err
	}
	js, err := value.ToJSON(ctx, s.store, c.Value)
	if err != nil {
		return fmt.Errorf("cannot show commit %s as JSON: %w", c.Hash, err)
	}
	if g.JSON {
		out := map[string]any{"commit": c.Hash.String(), "cid": ipfsstore.HashToCID(c.Hash).String(),
			"height": c.Height, "value": jsonRaw(js)}
		if isDataset {
			out["dataset"] = arg
		}
		return printData(g.out, out, "  ")
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, js, "", "  "); err != nil {
		return fmt.Errorf("cannot indent JSON of commit %s: %w", c.Hash, err)
	}
	buf.WriteByte('\n')
	_, err = g.out.Write(buf.Bytes())
	return err
}

func newLogCommand(g *globalOptions) *cobra.Command {
	var n int
	cmd := &cobra.Command{
		Use:   "log <dataset|commit>",
		Short: "List a dataset's commits, newest first",
		Long: `List the history of the dataset's head (or of the commit with the given
hash or CID), newest (tallest) first, merges and all the commits they
bring in included: one line per commit with its hash, height, parents and
message. With --json, one JSON object per line:
{"commit", "cid", "height", "parents", "merge", "message", "meta"}.`,
		Example: `  noms-ipfs log todo
  noms-ipfs log todo -n 5 --json`,
		Args: nArgs("log", 1, "a dataset or commit"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if n < 0 {
				return usageError{fmt.Errorf("-n %d: want a count, 0 for all", n)}
			}
			if err := checkDatasetOrCommit(args[0]); err != nil {
				return err
			}
			return runLog(cmd.Context(), g, args[0], n)
		},
	}
	cmd.Flags().IntVarP(&n, "max-count", "n", 0, "show at most this many commits (0: all)")
	return cmd
}

// logEntry is one line of log --json.
type logEntry struct {
	Commit  string          `json:"commit"`
	CID     string          `json:"cid"`
	Height  uint64          `json:"height"`
	Parents []string        `json:"parents"`
	Merge   bool            `json:"merge"`
	Message string          `json:"message,omitempty"`
	Meta    json.RawMessage `json:"meta,omitempty"` // the whole meta, if it has fields
}

func runLog(ctx context.Context, g *globalOptions, arg string, n int) error {
	s, err := g.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	d := db.New(s.store)
	from, _, err := readCommitArg(ctx, g, d, arg)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(g.out) // compact: one object per line
	enc.SetEscapeHTML(false)
	i := 0
	for c, err := range d.History(ctx, from.Hash) {
		if err != nil {
			return fmt.Errorf("cannot read the history of %q: %w", arg, err)
		}
		if n > 0 && i == n {
			break
		}
		i++
		e := logEntry{Commit: c.Hash.String(), CID: ipfsstore.HashToCID(c.Hash).String(), Height: c.Height,
			Parents: []string{}, Merge: len(c.Parents) > 1}
		for _, p := range c.Parents {
			e.Parents = append(e.Parents, p.String())
		}
		if m, ok := c.Meta.Get("message"); ok {
			if s, ok := m.(value.String); ok {
				e.Message = string(s)
			}
		}
		if c.Meta.Len() > 0 {
			// Meta written by other applications may hold values JSON
			// cannot; log still lists the commit.
			if js, err := value.ToJSON(ctx, s.store, c.Meta); err == nil {
				e.Meta = js
			}
		}
		if g.JSON {
			if err := enc.Encode(e); err != nil {
				return err
			}
			continue
		}
		var kind string
		switch len(c.Parents) {
		case 0:
			kind = "first commit"
		case 1:
			kind = "1 parent"
		default:
			kind = fmt.Sprintf("merge of %d", len(c.Parents))
		}
		line := fmt.Sprintf("%s  height %-4d %-12s", e.Commit, e.Height, kind)
		if e.Message != "" {
			line += "  " + oneLine(e.Message)
		}
		fmt.Fprintln(g.out, strings.TrimRight(line, " "))
	}
	return nil
}

// printData is printJSON for output that carries stored values: their
// text is data, so <, > and & stay as they are.
func printData(w io.Writer, v any, indent string) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	return enc.Encode(v)
}

// oneLine keeps a multi-line message on its log line.
func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
