package db

import (
	"context"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// Diff calls fn for each difference between the values of commits a and b,
// in order (see value.Diff): the cost follows the size of the change.
func (db *Database) Diff(ctx context.Context, a, b chunks.Hash, fn func(value.Difference) error) error {
	ac, err := db.ReadCommit(ctx, a)
	if err != nil {
		return err
	}
	bc, err := db.ReadCommit(ctx, b)
	if err != nil {
		return err
	}
	return value.Diff(ctx, db.cs, ac.Value, bc.Value, fn)
}
