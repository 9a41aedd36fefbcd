package merge_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/merge"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// Two writers edit the same shopping list concurrently; the second one to
// commit merges instead of failing or overwriting.
func Example() {
	ctx := context.Background()
	st := chunks.NewMemoryStore()
	d := db.New(st)

	list := func(entries ...value.MapEntry) value.Map {
		m, err := value.NewMap(ctx, st, entries...)
		if err != nil {
			panic(err)
		}
		return m
	}
	e := func(k string, n int64) value.MapEntry {
		return value.MapEntry{Key: value.String(k), Value: value.Int(n)}
	}

	base, _ := d.Commit(ctx, "shopping", list(e("milk", 1), e("eggs", 6)), db.CommitOptions{})

	// Alice adds bread and commits first.
	_, _ = merge.CommitWithMerge(ctx, d, "shopping", list(e("milk", 1), e("eggs", 6), e("bread", 1)),
		merge.CommitOptions{Base: base.Hash}, merge.Fail)
	// Bob, still on base, wants two milks and no eggs.
	res, err := merge.CommitWithMerge(ctx, d, "shopping", list(e("milk", 2)),
		merge.CommitOptions{Base: base.Hash}, merge.Fail)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Outcome, len(res.Commit.Parents), "parents")
	for entry, err := range res.Commit.Value.(value.Map).All(ctx, st, nil) {
		if err != nil {
			panic(err)
		}
		fmt.Println(merge.Describe(entry.Key), merge.Describe(entry.Value))
	}

	// Both change milk: Fail reports the conflict with its path...
	x := list(e("milk", 3))
	y := list(e("milk", 4))
	_, err = merge.Values(ctx, st, list(e("milk", 1)), x, y, merge.Fail)
	var ce *merge.ConflictError
	fmt.Println(errors.Is(err, merge.ErrConflict), errors.As(err, &ce) && ce.Conflicts[0].Path == `["milk"]`)
	fmt.Println(err)
	// ...and Deterministic picks the same winner on every peer.
	v1, _ := merge.Values(ctx, st, list(e("milk", 1)), x, y, merge.Deterministic)
	v2, _ := merge.Values(ctx, st, list(e("milk", 1)), y, x, merge.Deterministic)
	got, _, _ := v1.(value.Map).Get(ctx, st, value.String("milk"))
	fmt.Println(value.Equal(v1, v2), merge.Describe(got))
	// Output:
	// merged 2 parents
	// "bread" 1
	// "milk" 2
	// true true
	// merge conflict at 1 path: ["milk"]
	// true 4
}
