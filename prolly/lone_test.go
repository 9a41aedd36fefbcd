package prolly

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestLoneEntries uses the real configuration with values and keys far
// beyond MaxNodeSize among small entries: each gets a leaf of its own,
// every node stays under the chunk limit, and edits next to them give the
// tree a bulk build gives.
func TestLoneEntries(t *testing.T) {
	st := newCheckStore(t)
	rng := rand.New(rand.NewPCG(8, 8))
	model := map[string]string{}
	big := func() string {
		sizes := []int{LoneEntrySize - 100, LoneEntrySize, MaxNodeSize + 1, 200 << 10, 600 << 10}
		return strings.Repeat("x", sizes[rng.IntN(len(sizes))])
	}
	for i := range 3000 {
		model[fmt.Sprintf("k%05d", i)] = fmt.Sprint(i)
	}
	for range 8 {
		model[fmt.Sprintf("k%05d", rng.IntN(3000))] = big()
	}
	// Two huge keys: internal nodes carry them too.
	model["k01500"+strings.Repeat("K", 100<<10)] = "big key"
	model["k02500"+strings.Repeat("K", 150<<10)] = "big key"
	tr := buildMap(t, st, model)
	walkTree(t, st, tr, cmpText)
	// Edits right before, on and after big entries.
	var keys []string
	for k, v := range model {
		if len(v) >= LoneEntrySize || len(k) > 1000 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for round := range 16 {
		k := keys[rng.IntN(len(keys))]
		var edits []Edit
		switch round % 4 {
		case 0: // shrink it
			model[k] = "small now"
			edits = []Edit{{Key: text(k), Value: text("small now")}}
		case 1: // insert just before it
			nk := k[:6] + "!"
			model[nk] = "before"
			edits = []Edit{{Key: text(nk), Value: text("before")}}
		case 2: // delete it
			delete(model, k)
			edits = []Edit{{Key: text(k), Delete: true}}
		case 3: // make a small neighbour big
			nk := k[:6] + "~"
			v := big()
			model[nk] = v
			edits = []Edit{{Key: text(nk), Value: text(v)}}
		}
		var err error
		if tr, err = Apply(ctx, st, tr, cmpText, edits); err != nil {
			t.Fatal(err)
		}
		if want := buildMap(t, st, model); want != tr {
			t.Fatalf("round %d: edited %s, built %s", round, tr.Root, want.Root)
		}
		walkTree(t, st, tr, cmpText)
	}
	for k, v := range model {
		if got, ok, err := Get(ctx, st, tr, cmpText, text(k)); err != nil || !ok || untext(got) != v {
			t.Fatalf("Get(%.20q): %v %v", k, ok, err)
		}
	}
}
