package syncer

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// rootPrefix starts every database root chunk: {"datasets": <Map>}, the
// layout package db writes (db/database.go).
var rootPrefix = cborx.AppendText(cborx.AppendHead(nil, cborx.Map, 1), "datasets")

// readDatasets returns the datasets of another writer's database root, the
// named ones only if names is not empty (those it lacks are left out),
// sorted by name. In shared mode the chunks come from the network.
func readDatasets(ctx context.Context, st chunks.ChunkStore, root chunks.Hash, names []string) ([]db.Dataset, error) {
	if root.IsEmpty() {
		return nil, nil
	}
	c, err := st.Get(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("cannot read root %s: %w", root, err)
	}
	if !bytes.HasPrefix(c.Data(), rootPrefix) {
		return nil, fmt.Errorf("%w: %s has no datasets entry", ErrBadRoot, root)
	}
	v, err := value.Decode(c.Data()[len(rootPrefix):])
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadRoot, root, err)
	}
	m, ok := v.(value.Map)
	if !ok {
		return nil, fmt.Errorf("%w: %s: datasets is a %s, not a map", ErrBadRoot, root, v.Kind())
	}
	var out []db.Dataset
	add := func(k, v value.Value) error {
		name, ok1 := k.(value.String)
		ref, ok2 := v.(value.Ref)
		if !ok1 || !ok2 {
			return fmt.Errorf("%w: %s: dataset entry %s -> %s", ErrBadRoot, root, k.Kind(), v.Kind())
		}
		if db.ValidName(string(name)) {
			out = append(out, db.Dataset{Name: string(name), Head: ref.Target()})
		}
		return nil
	}
	if len(names) > 0 {
		for _, name := range names {
			v, found, err := m.Get(ctx, st, value.String(name))
			if err != nil {
				return nil, fmt.Errorf("cannot read dataset %q of root %s: %w", name, root, err)
			}
			if found {
				if err := add(value.String(name), v); err != nil {
					return nil, err
				}
			}
		}
		slices.SortFunc(out, func(a, b db.Dataset) int { return strings.Compare(a.Name, b.Name) })
		return out, nil
	}
	for e, err := range m.All(ctx, st, nil) {
		if err != nil {
			return nil, fmt.Errorf("cannot list datasets of root %s: %w", root, err)
		}
		if err := add(e.Key, e.Value); err != nil {
			return nil, err
		}
	}
	return out, nil
}
