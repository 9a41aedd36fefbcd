package value

import (
	"context"
	"fmt"
	"strconv"

	"github.com/noms-ipfs/noms-ipfs/prolly"
)

// Difference is one change found by Diff: at Path (Noms' syntax: ".field"
// for a struct field, "[key]" for a map key or set member), the value Old
// became New (Old nil: added; New nil: removed).
type Difference struct {
	Path     string
	Kind     ChangeKind
	Old, New Value
}

// Diff calls fn for each difference between a and b, in order. Maps and
// Sets are compared entry by entry, Lists item by item ("[i]", old indexes
// for removals, new ones for additions) and Structs field by field,
// recursing into values that are themselves collections or Structs on both
// sides. Collections skip subtrees with equal hashes, so the cost follows
// the number of changes, not the size. Any other pair of unequal values
// (Blobs included) is one Modified difference.
func Diff(ctx context.Context, st Store, a, b Value, fn func(Difference) error) error {
	return diffAt(ctx, st, "", a, b, fn)
}

func diffAt(ctx context.Context, st Store, path string, a, b Value, fn func(Difference) error) error {
	switch {
	case Equal(a, b):
		return nil
	case a == nil:
		return fn(Difference{Path: path, Kind: Added, New: b})
	case b == nil:
		return fn(Difference{Path: path, Kind: Removed, Old: a})
	}
	switch a := a.(type) {
	case Map:
		if b, ok := b.(Map); ok {
			return DiffMaps(ctx, st, a, b, func(c Change) error {
				p := KeyPath(path, c.Key)
				if c.Kind == Modified {
					return diffAt(ctx, st, p, c.Old, c.New, fn)
				}
				return fn(Difference{Path: p, Kind: c.Kind, Old: c.Old, New: c.New})
			})
		}
	case Set:
		if b, ok := b.(Set); ok {
			return DiffSets(ctx, st, a, b, func(c Change) error {
				d := Difference{Path: KeyPath(path, c.Key), Kind: c.Kind}
				if c.Kind == Added {
					d.New = c.Key
				} else {
					d.Old = c.Key
				}
				return fn(d)
			})
		}
	case Struct:
		if b, ok := b.(Struct); ok && a.Name() == b.Name() {
			return diffStructs(ctx, st, path, a, b, fn)
		}
	case List:
		if b, ok := b.(List); ok {
			return diffLists(ctx, st, path, a, b, fn)
		}
	}
	return fn(Difference{Path: path, Kind: Modified, Old: a, New: b})
}

func diffStructs(ctx context.Context, st Store, path string, a, b Struct, fn func(Difference) error) error {
	af, bf := a.Fields(), b.Fields()
	i, j := 0, 0
	for i < len(af) || j < len(bf) {
		switch {
		case j == len(bf) || i < len(af) && af[i].Name < bf[j].Name:
			if err := fn(Difference{Path: path + "." + af[i].Name, Kind: Removed, Old: af[i].Value}); err != nil {
				return err
			}
			i++
		case i == len(af) || bf[j].Name < af[i].Name:
			if err := fn(Difference{Path: path + "." + bf[j].Name, Kind: Added, New: bf[j].Value}); err != nil {
				return err
			}
			j++
		default:
			if err := diffAt(ctx, st, path+"."+af[i].Name, af[i].Value, bf[j].Value, fn); err != nil {
				return err
			}
			i++
			j++
		}
	}
	return nil
}

// DiffLists calls fn for each splice that turns list a into list b.
func DiffLists(ctx context.Context, st Store, a, b List, fn func(prolly.ListSplice) error) error {
	return prolly.DiffList(ctx, st, a.tree(), b.tree(), fn)
}

// diffLists reports a list's splices item by item: an item replaced in
// place is Modified (recursing into it), the rest Removed or Added.
func diffLists(ctx context.Context, st Store, path string, a, b List, fn func(Difference) error) error {
	return DiffLists(ctx, st, a, b, func(s prolly.ListSplice) error {
		at := func(i uint64) string { return path + "[" + strconv.FormatUint(i, 10) + "]" }
		for k := uint64(0); k < s.Removed; k++ {
			old, err := a.Get(ctx, st, s.At+k)
			if err != nil {
				return err
			}
			if k < uint64(len(s.Added)) {
				nv, err := decodeOne("list item", s.Added[k])
				if err != nil {
					return err
				}
				if err := diffAt(ctx, st, at(s.From+k), old, nv, fn); err != nil {
					return err
				}
				continue
			}
			if err := fn(Difference{Path: at(s.At + k), Kind: Removed, Old: old}); err != nil {
				return err
			}
		}
		for k := s.Removed; k < uint64(len(s.Added)); k++ {
			nv, err := decodeOne("list item", s.Added[k])
			if err != nil {
				return err
			}
			if err := fn(Difference{Path: at(s.From + k), Kind: Added, New: nv}); err != nil {
				return err
			}
		}
		return nil
	})
}

// KeyPath returns path extended by the map key or set member k, as Noms
// paths write it: ["name"], [42], [true], or [#hash] for other kinds.
func KeyPath(path string, k Value) string { return path + "[" + keyText(k) + "]" }

// keyText writes a key as Noms paths do: strings quoted, numbers and bools
// as they are, anything else by its hash.
func keyText(k Value) string {
	switch k := k.(type) {
	case String:
		return strconv.Quote(string(k))
	case Int:
		return strconv.FormatInt(int64(k), 10)
	case Float:
		return strconv.FormatFloat(float64(k), 'g', -1, 64)
	case Bool:
		return strconv.FormatBool(bool(k))
	default:
		return fmt.Sprintf("#%s", HashOf(k))
	}
}
