package prolly

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// modelDiff lists the changes from a to b in key order.
func modelDiff(a, b map[string]string, set bool) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, in := a[k]; !in {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		v, inA := a[k]
		w, inB := b[k]
		switch {
		case !inB:
			out = append(out, fmt.Sprintf("%s removed %s", k, v))
		case !inA:
			out = append(out, fmt.Sprintf("%s added %s", k, w))
		case w != v && !set:
			out = append(out, fmt.Sprintf("%s modified %s -> %s", k, v, w))
		}
	}
	return out
}

func runDiff(t *testing.T, st Store, from, to Tree) []string {
	t.Helper()
	var out []string
	var prev []byte
	err := Diff(ctx, st, from, to, cmpText, func(c Change) error {
		if prev != nil && cmpText(prev, c.Key) >= 0 {
			t.Fatalf("Diff out of key order: %q after %q", c.Key, prev)
		}
		prev = c.Key
		k := untext(c.Key)
		val := func(b []byte) string {
			if from.Shape == SetShape {
				if b != nil {
					t.Fatalf("set change with a value")
				}
				return "x"
			}
			return untext(b)
		}
		switch c.Kind {
		case Added:
			out = append(out, fmt.Sprintf("%s added %s", k, val(c.New)))
		case Removed:
			out = append(out, fmt.Sprintf("%s removed %s", k, val(c.Old)))
		case Modified:
			out = append(out, fmt.Sprintf("%s modified %s -> %s", k, val(c.Old), val(c.New)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDiffModel(t *testing.T) {
	for _, c := range []*config{testConfig, defaultConfig} {
		for _, shape := range []Shape{MapShape, SetShape} {
			t.Run(fmt.Sprintf("%s-target%d", shape, c.targetNode), func(t *testing.T) {
				useConfig(t, c)
				st := newCheckStore(t)
				rng := rand.New(rand.NewPCG(11, uint64(shape)))
				space := 8000
				if c == defaultConfig {
					space = 30000
				}
				build := func(m map[string]string) Tree {
					if shape == MapShape {
						return buildMap(t, st, m)
					}
					var es []Entry
					for k := range m {
						es = append(es, Entry{Key: text(k)})
					}
					tr, err := BuildFromUnsorted(ctx, st, SetShape, cmpText, es)
					if err != nil {
						t.Fatal(err)
					}
					return tr
				}
				setValues := func(m map[string]string) {
					if shape == SetShape {
						for k := range m {
							m[k] = "x"
						}
					}
				}
				for round := range 12 {
					a := map[string]string{}
					for range space / 2 {
						a[fmt.Sprintf("k%d", rng.IntN(space))] = randValue(rng, 0)
					}
					switch round {
					case 0:
						a = map[string]string{} // from empty
					case 1:
						a = map[string]string{"k1": "v"} // a leaf against a tall tree
					}
					setValues(a)
					b := maps(a)
					n := []int{1, 2, 10, 100, space / 4, space}[round%6]
					randomEdits(rng, b, n, space, 0)
					if round == 11 {
						b = map[string]string{} // to empty
					}
					setValues(b)
					ta, tb := build(a), build(b)
					want := modelDiff(a, b, shape == SetShape)
					if got := runDiff(t, st, ta, tb); !slices.Equal(got, want) {
						t.Fatalf("round %d: Diff gave %d changes, model %d\n%v\n%v", round, len(got), len(want), head(got), head(want))
					}
					// And backwards.
					if got, want := runDiff(t, st, tb, ta), modelDiff(b, a, shape == SetShape); !slices.Equal(got, want) {
						t.Fatalf("round %d: reverse Diff gave %d changes, model %d", round, len(got), len(want))
					}
				}
			})
		}
	}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func TestDiffStops(t *testing.T) {
	useConfig(t, testConfig)
	st := newCheckStore(t)
	a := map[string]string{}
	for i := range 1000 {
		a[fmt.Sprint("k", i)] = "v"
	}
	b := maps(a)
	for i := range 100 {
		b[fmt.Sprint("k", i*10)] = "w"
	}
	stop := errors.New("stop")
	n := 0
	err := Diff(ctx, st, buildMap(t, st, a), buildMap(t, st, b), cmpText, func(Change) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Fatalf("Diff returned %v after %d changes, want stop after 3", err, n)
	}
}
