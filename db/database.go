package db

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
	"github.com/noms-ipfs/noms-ipfs/prolly"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// Database is a set of named datasets on a chunk store. It holds no state
// of its own beyond the store, so any number of Databases (in any number of
// processes) may share one store. It is safe for concurrent use.
type Database struct {
	cs chunks.ChunkStore
}

// New returns the database on cs. It does no I/O.
func New(cs chunks.ChunkStore) *Database { return &Database{cs: cs} }

// Store returns the chunk store the database lives in.
func (db *Database) Store() chunks.ChunkStore { return db.cs }

// CommitOptions are the optional parts of a commit.
type CommitOptions struct {
	// Parents of the new commit; nil means the dataset's current head (or
	// none for a new dataset). Non-nil parents must include a descendant
	// of the current head, or Commit fails with ErrMergeNeeded.
	Parents []chunks.Hash
	// Meta is application metadata, conventionally a struct with author,
	// date and message fields. The zero Struct is allowed.
	Meta value.Struct
}

// Dataset is a dataset name and its head commit's hash.
type Dataset struct {
	Name string
	Head chunks.Hash
}

// ValidName reports whether name can name a dataset: [a-zA-Z0-9_./-]+.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '/' || r == '-') {
			return false
		}
	}
	return true
}

// state is one snapshot of the database root.
type state struct {
	root     chunks.Hash // the store's root: the hash of the root document
	datasets prolly.Tree // Map: String name -> Ref commit
}

// rootKey names the one entry of the root document: {"datasets": <Map>}.
const rootKey = "datasets"

func (db *Database) load(ctx context.Context) (state, error) {
	// Another process may have moved the root since this store last looked.
	if err := db.cs.Rebase(ctx); err != nil {
		return state{}, err
	}
	root, err := db.cs.Root(ctx)
	if err != nil {
		return state{}, err
	}
	st := state{root: root, datasets: prolly.Tree{Shape: prolly.MapShape}}
	if root.IsEmpty() {
		return st, nil
	}
	c, err := db.cs.Get(ctx, root)
	if err != nil {
		return state{}, fmt.Errorf("cannot read database root %s: %w", root, err)
	}
	prefix := cborx.AppendText(cborx.AppendHead(nil, cborx.Map, 1), rootKey)
	if !bytes.HasPrefix(c.Data(), prefix) {
		return state{}, fmt.Errorf("%w: %s has no %q entry", ErrCorrupt, root, rootKey)
	}
	v, err := value.Decode(c.Data()[len(prefix):])
	if err != nil {
		return state{}, fmt.Errorf("%w: %s: %w", ErrCorrupt, root, err)
	}
	m, ok := v.(value.Map)
	if !ok {
		return state{}, fmt.Errorf("%w: %s: datasets is a %s, not a map", ErrCorrupt, root, v.Kind())
	}
	st.datasets = prolly.Tree{Shape: prolly.MapShape, Root: m.Root(), Count: m.Count()}
	return st, nil
}

// head returns the head of name in st; zero if none.
func (db *Database) head(ctx context.Context, st state, name string) (chunks.Hash, error) {
	key, _ := value.Encode(value.String(name))
	b, found, err := prolly.Get(ctx, db.cs, st.datasets, value.CompareEncoded, key)
	if err != nil || !found {
		return chunks.Hash{}, err
	}
	v, err := value.Decode(b)
	if err != nil {
		return chunks.Hash{}, fmt.Errorf("%w: head of %q: %w", ErrCorrupt, name, err)
	}
	r, ok := v.(value.Ref)
	if !ok {
		return chunks.Hash{}, fmt.Errorf("%w: head of %q is a %s", ErrCorrupt, name, v.Kind())
	}
	return r.Target(), nil
}

// lookup validates name and returns the current state and name's head.
func (db *Database) lookup(ctx context.Context, name string) (state, chunks.Hash, error) {
	if !ValidName(name) {
		return state{}, chunks.Hash{}, fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	st, err := db.load(ctx)
	if err != nil {
		return state{}, chunks.Hash{}, err
	}
	h, err := db.head(ctx, st, name)
	return st, h, err
}

// Datasets returns every dataset and its head, sorted by name.
func (db *Database) Datasets(ctx context.Context) ([]Dataset, error) {
	st, err := db.load(ctx)
	if err != nil {
		return nil, err
	}
	var out []Dataset
	it := prolly.Iter(ctx, db.cs, st.datasets, value.CompareEncoded, nil)
	for {
		e, ok := it.Next()
		if !ok {
			break
		}
		k, err := value.Decode(e.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		v, err := value.Decode(e.Value)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		name, ok1 := k.(value.String)
		ref, ok2 := v.(value.Ref)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: dataset entry %s -> %s", ErrCorrupt, k.Kind(), v.Kind())
		}
		out = append(out, Dataset{Name: string(name), Head: ref.Target()})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("cannot list datasets: %w", err)
	}
	return out, nil
}

// Head returns the head commit of the dataset, or an error wrapping
// ErrNoHead if the dataset does not exist.
func (db *Database) Head(ctx context.Context, name string) (Commit, error) {
	_, h, err := db.lookup(ctx, name)
	if err != nil {
		return Commit{}, err
	}
	if h.IsEmpty() {
		return Commit{}, fmt.Errorf("dataset %q: %w", name, ErrNoHead)
	}
	return db.ReadCommit(ctx, h)
}

// ReadCommit reads the commit with hash h.
func (db *Database) ReadCommit(ctx context.Context, h chunks.Hash) (Commit, error) {
	c, err := db.cs.Get(ctx, h)
	if err != nil {
		return Commit{}, fmt.Errorf("cannot read commit %s: %w", h, err)
	}
	return decodeCommit(c)
}

// WriteCommit writes a commit of v with the given parents and meta without
// moving any head, and returns it. Heights come from the parents, which must
// be readable.
func (db *Database) WriteCommit(ctx context.Context, v value.Value, parents []chunks.Hash, meta value.Struct) (Commit, error) {
	height := uint64(1)
	for _, p := range parents {
		pc, err := db.ReadCommit(ctx, p)
		if err != nil {
			return Commit{}, err
		}
		height = max(height, pc.Height+1)
	}
	c, err := encodeCommit(parents, height, meta, v)
	if err != nil {
		return Commit{}, err
	}
	if err := db.cs.Put(ctx, c); err != nil {
		return Commit{}, fmt.Errorf("cannot write commit: %w", err)
	}
	return decodeCommit(c)
}

// Commit writes a new commit of v to the dataset and makes it the head.
// Without opts.Parents the parent is the current head. If another writer
// moved this dataset's head meanwhile, Commit fails with ErrOptimisticLock
// (re-read, merge, retry); moves of other datasets are retried internally.
func (db *Database) Commit(ctx context.Context, name string, v value.Value, opts CommitOptions) (Commit, error) {
	st, head, err := db.lookup(ctx, name)
	if err != nil {
		return Commit{}, err
	}
	parents := opts.Parents
	if parents == nil && !head.IsEmpty() {
		parents = []chunks.Hash{head}
	}
	c, err := db.WriteCommit(ctx, v, parents, opts.Meta)
	if err != nil {
		return Commit{}, err
	}
	if !head.IsEmpty() && !slices.Contains(c.Parents, head) {
		ok, err := db.IsAncestor(ctx, head, c.Hash)
		if err != nil {
			return Commit{}, err
		}
		if !ok {
			return Commit{}, fmt.Errorf("cannot commit to %q: %w", name, ErrMergeNeeded)
		}
	}
	return c, db.moveHead(ctx, st, name, head, c.Hash)
}

// FastForward moves the dataset's head to the commit to, which must descend
// from the current head (else ErrMergeNeeded). Moving to the current head or
// to one of its ancestors is refused the same way, except to itself (no-op).
func (db *Database) FastForward(ctx context.Context, name string, to chunks.Hash) error {
	st, head, err := db.lookup(ctx, name)
	if err != nil {
		return err
	}
	if head == to {
		return nil
	}
	if _, err := db.ReadCommit(ctx, to); err != nil {
		return err
	}
	if !head.IsEmpty() {
		ok, err := db.IsAncestor(ctx, head, to)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("cannot fast-forward %q to %s: %w", name, to, ErrMergeNeeded)
		}
	}
	return db.moveHead(ctx, st, name, head, to)
}

// SwapHead moves the dataset's head from the commit from to the commit to,
// whatever their history, and fails with ErrOptimisticLock if the head is
// no longer from. It is for code that replaces a head by a commit known to
// hold all of it without descending from it, as merge.IntoAll does when it
// rewrites one automatic merge as a wider one.
func (db *Database) SwapHead(ctx context.Context, name string, from, to chunks.Hash) error {
	st, head, err := db.lookup(ctx, name)
	if err != nil {
		return err
	}
	if head != from {
		return fmt.Errorf("cannot move %q from %s: its head is %s: %w", name, from, head, ErrOptimisticLock)
	}
	if head == to {
		return nil
	}
	if _, err := db.ReadCommit(ctx, to); err != nil {
		return err
	}
	return db.moveHead(ctx, st, name, head, to)
}

// SetHead moves the dataset's head to the commit to regardless of history.
func (db *Database) SetHead(ctx context.Context, name string, to chunks.Hash) error {
	if !ValidName(name) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	if _, err := db.ReadCommit(ctx, to); err != nil {
		return err
	}
	return db.retry(ctx, name, func(chunks.Hash) (chunks.Hash, error) { return to, nil })
}

// Delete removes the dataset. Its commits stay readable by hash until
// nothing references them.
func (db *Database) Delete(ctx context.Context, name string) error {
	return db.retry(ctx, name, func(head chunks.Hash) (chunks.Hash, error) {
		if head.IsEmpty() {
			return chunks.Hash{}, fmt.Errorf("cannot delete %q: %w", name, ErrNoHead)
		}
		return chunks.Hash{}, nil
	})
}

// retry applies next to the dataset's current head until the root moves
// without a race (SetHead and Delete do not depend on history).
func (db *Database) retry(ctx context.Context, name string, next func(head chunks.Hash) (chunks.Hash, error)) error {
	for {
		st, head, err := db.lookup(ctx, name)
		if err != nil {
			return err
		}
		to, err := next(head)
		if err != nil {
			return err
		}
		err = db.moveHead(ctx, st, name, head, to)
		if !errors.Is(err, ErrOptimisticLock) {
			return err
		}
	}
}

// moveHead changes name's head from head to to (zero: delete) in a new root
// and swaps it in. If the store's root moved, it retries on the new root as
// long as this dataset's head is still head; otherwise ErrOptimisticLock.
func (db *Database) moveHead(ctx context.Context, st state, name string, head, to chunks.Hash) error {
	key, _ := value.Encode(value.String(name))
	edit := prolly.Edit{Key: key, Delete: to.IsEmpty()}
	if !to.IsEmpty() {
		edit.Value, _ = value.Encode(value.NewRef(to))
	}
	for {
		ds, err := prolly.Apply(ctx, db.cs, st.datasets, value.CompareEncoded, []prolly.Edit{edit})
		if err != nil {
			return fmt.Errorf("cannot update datasets map: %w", err)
		}
		rootDoc := cborx.AppendText(cborx.AppendHead(nil, cborx.Map, 1), rootKey)
		rootDoc, err = value.AppendEncode(rootDoc, value.NewMapHeader(ds.Count, ds.Root))
		if err != nil {
			return err
		}
		rc := chunks.NewChunk(rootDoc)
		if err := db.cs.Put(ctx, rc); err != nil {
			return fmt.Errorf("cannot write database root: %w", err)
		}
		err = db.cs.Commit(ctx, rc.Hash(), st.root)
		if !errors.Is(err, chunks.ErrOptimisticLock) {
			return err
		}
		// Another writer won; retry if it left our dataset alone.
		if st, err = db.load(ctx); err != nil {
			return err
		}
		now, err := db.head(ctx, st, name)
		if err != nil {
			return err
		}
		if now != head {
			return fmt.Errorf("cannot move %q: its head moved to %s: %w", name, now, ErrOptimisticLock)
		}
	}
}
