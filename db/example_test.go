package db_test

import (
	"context"
	"fmt"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// A dataset's history: two commits of a map, then the difference.
func Example() {
	ctx := context.Background()
	st := chunks.NewMemoryStore() // or an ipfsstore.Store on Kubo
	d := db.New(st)

	stock, _ := value.NewMap(ctx, st, value.MapEntry{Key: value.String("apples"), Value: value.Int(3)})
	first, _ := d.Commit(ctx, "stock", stock, db.CommitOptions{})

	stock, _ = stock.Set(ctx, st, value.String("pears"), value.Int(5))
	meta, _ := value.NewStruct("Meta", map[string]value.Value{"message": value.String("pears arrived")})
	second, _ := d.Commit(ctx, "stock", stock, db.CommitOptions{Meta: meta})

	fmt.Println("height:", second.Height)
	_ = d.Diff(ctx, first.Hash, second.Hash, func(df value.Difference) error {
		fmt.Println("changed:", df.Path, "->", df.New)
		return nil
	})
	for c, err := range d.History(ctx, second.Hash) {
		if err != nil {
			panic(err)
		}
		msg, _ := c.Meta.Get("message")
		fmt.Println("commit at height", c.Height, msg)
	}
	// Output:
	// height: 2
	// changed: ["pears"] -> 5
	// commit at height 2 pears arrived
	// commit at height 1 <nil>
}
