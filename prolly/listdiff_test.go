package prolly

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

func TestLCSMatchesDynamicProgramming(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := 0; round < 300; round++ {
		a := make([]int, rng.IntN(30))
		b := make([]int, rng.IntN(30))
		for i := range a {
			a[i] = rng.IntN(4)
		}
		for i := range b {
			b[i] = rng.IntN(4)
		}
		pairs := lcs(len(a), len(b), func(i, j int) bool { return a[i] == b[j] })
		for k, p := range pairs {
			if a[p[0]] != b[p[1]] || (k > 0 && (p[0] <= pairs[k-1][0] || p[1] <= pairs[k-1][1])) {
				t.Fatalf("a=%v b=%v: bad pairs %v", a, b, pairs)
			}
		}
		// Length must be the LCS length.
		dp := make([][]int, len(a)+1)
		for i := range dp {
			dp[i] = make([]int, len(b)+1)
		}
		for i := len(a) - 1; i >= 0; i-- {
			for j := len(b) - 1; j >= 0; j-- {
				if a[i] == b[j] {
					dp[i][j] = dp[i+1][j+1] + 1
				} else {
					dp[i][j] = max(dp[i+1][j], dp[i][j+1])
				}
			}
		}
		if len(pairs) != dp[0][0] {
			t.Fatalf("a=%v b=%v: %d pairs, LCS is %d", a, b, len(pairs), dp[0][0])
		}
	}
}

type getCounter struct {
	Store
	gets atomic.Int64
}

func (g *getCounter) Get(ctx context.Context, h chunks.Hash) (chunks.Chunk, error) {
	g.gets.Add(1)
	return g.Store.Get(ctx, h)
}

// applySplices replays splices on a model of the old list.
func applySplices(old []string, ss []ListSplice) []string {
	out := slices.Clone(old)
	shift := 0
	for _, s := range ss {
		at := int(s.At) + shift
		var add []string
		for _, a := range s.Added {
			add = append(add, string(a))
		}
		out = slices.Replace(out, at, at+int(s.Removed), add...)
		shift += len(add) - int(s.Removed)
	}
	return out
}

func TestDiffListAgainstModel(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	item := func(i int) []byte { return cborText(fmt.Sprintf("item-%d-%d", i, rng.IntN(1000))) }
	for round := 0; round < 20; round++ {
		st := &getCounter{Store: chunks.NewMemoryStore()}
		var old [][]byte
		for i := 0; i < 20000; i++ {
			old = append(old, item(i))
		}
		a := buildListItems(t, st, old)
		b := a
		cur := slices.Clone(old)
		for e := 0; e < 1+rng.IntN(5); e++ {
			at := uint64(rng.IntN(len(cur) + 1))
			rm := uint64(min(rng.IntN(3), len(cur)-int(at)))
			ins := [][]byte{item(-1 - e)}
			var err error
			if b, err = Splice(ctx, st, b, at, rm, ins); err != nil {
				t.Fatal(err)
			}
			cur = slices.Replace(cur, int(at), int(at+rm), ins...)
		}
		st.gets.Store(0)
		var ss []ListSplice
		if err := DiffList(ctx, st, a, b, func(s ListSplice) error { ss = append(ss, s); return nil }); err != nil {
			t.Fatal(err)
		}
		var oldS, curS []string
		for _, x := range old {
			oldS = append(oldS, string(x))
		}
		for _, x := range cur {
			curS = append(curS, string(x))
		}
		if got := applySplices(oldS, ss); !slices.Equal(got, curS) {
			t.Fatalf("round %d: splices %v do not turn the old list into the new one", round, ss)
		}
		if n := st.gets.Load(); n > 200 {
			t.Fatalf("round %d: diff of a few splices read %d nodes of a 20,000-item list", round, n)
		}
	}
}

func buildListItems(t *testing.T, st Store, items [][]byte) Tree {
	b := NewBuilder(context.Background(), st, ListShape, nil)
	for _, it := range items {
		if err := b.Add(Entry{Value: it}); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := b.Done()
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func cborText(s string) []byte { return append([]byte{0x60 | byte(len(s))}, s...) }

func TestDiffListEdges(t *testing.T) {
	ctx := context.Background()
	st := chunks.NewMemoryStore()
	var xs, ys [][]byte
	for i := 0; i < 3000; i++ {
		xs = append(xs, cborText(fmt.Sprint("x", i)))
		ys = append(ys, cborText(fmt.Sprint("y", i)))
	}
	x, y := buildListItems(t, st, xs), buildListItems(t, st, ys)
	empty := Tree{Shape: ListShape}
	for _, tc := range []struct {
		name     string
		from, to Tree
		old, new [][]byte
	}{{"disjoint", x, y, xs, ys}, {"from empty", empty, x, nil, xs}, {"to empty", y, empty, ys, nil}, {"equal", x, x, xs, xs}} {
		var ss []ListSplice
		if err := DiffList(ctx, st, tc.from, tc.to, func(s ListSplice) error { ss = append(ss, s); return nil }); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var o, n []string
		for _, b := range tc.old {
			o = append(o, string(b))
		}
		for _, b := range tc.new {
			n = append(n, string(b))
		}
		if got := applySplices(o, ss); !slices.Equal(got, n) {
			t.Fatalf("%s: splices do not produce the new list", tc.name)
		}
	}
	if err := DiffList(ctx, st, Tree{Shape: MapShape}, x, func(ListSplice) error { return nil }); err == nil {
		t.Fatal("DiffList accepted a map")
	}
}
