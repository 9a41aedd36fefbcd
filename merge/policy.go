package merge

import (
	"context"
	"fmt"
	"strings"

	"github.com/noms-ipfs/noms-ipfs/value"
)

// Conflict is one place where both sides changed the same thing
// differently and no rule could combine the changes.
type Conflict struct {
	// Path locates the conflict inside the merged value in Noms' syntax:
	// ".field" for a struct field, "[key]" for a map key or set member
	// (strings quoted, numbers and bools as they are, other keys as
	// "#hash"); "" is the value itself.
	Path string
	// Ancestor, Ours and Theirs are the values at Path in the common
	// ancestor and on the two sides; nil means absent (deleted, or never
	// there).
	Ancestor, Ours, Theirs value.Value
	// Reason says why the changes could not be merged automatically.
	Reason string
}

// String describes the conflict on one line.
func (c Conflict) String() string {
	return fmt.Sprintf("%s: %s (ancestor %s, ours %s, theirs %s)",
		PathText(c.Path), c.Reason, Describe(c.Ancestor), Describe(c.Ours), Describe(c.Theirs))
}

// PathText returns p, or "(root)" for the empty path, for printing.
func PathText(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

// Policy decides conflicts. Resolve returns the value to put at c.Path
// (nil: absent) or an error. An error wrapping ErrConflict means the
// policy leaves this conflict unresolved: the merge records it, carries on
// to find the others, and fails at the end with a *ConflictError listing
// them all. Any other error stops the merge at once.
//
// The store is where the values' collections live, for policies that look
// inside them or build new ones. For peers to converge, a policy used in
// automatic sync must be deterministic and symmetric, like Deterministic:
// Resolve of (ancestor, ours, theirs) must equal Resolve of (ancestor,
// theirs, ours), since the other peer sees the sides swapped.
type Policy interface {
	Resolve(ctx context.Context, st value.Store, c Conflict) (value.Value, error)
}

// PolicyFunc adapts a function to Policy.
type PolicyFunc func(ctx context.Context, st value.Store, c Conflict) (value.Value, error)

// Resolve calls f.
func (f PolicyFunc) Resolve(ctx context.Context, st value.Store, c Conflict) (value.Value, error) {
	return f(ctx, st, c)
}

// symmetric marks a built-in policy that resolves a conflict the same way
// whichever side is ours.
type symmetric struct{ PolicyFunc }

func (symmetric) Symmetric() bool { return true }

// IsSymmetric reports whether p declares (with a Symmetric() bool method
// that returns true) that it resolves every conflict the same way
// whichever side is ours, as Deterministic and Fail do. IntoAll needs
// that of its policy.
func IsSymmetric(p Policy) bool {
	s, ok := p.(interface{ Symmetric() bool })
	return ok && s.Symmetric()
}

// The built-in policies.
var (
	// Fail resolves nothing: a merge with any conflict fails with a
	// *ConflictError that lists every conflict and its path.
	Fail Policy = symmetric{func(context.Context, value.Store, Conflict) (value.Value, error) {
		return nil, ErrConflict
	}}
	// Ours takes our side of every conflict (including our deletion).
	Ours Policy = PolicyFunc(func(_ context.Context, _ value.Store, c Conflict) (value.Value, error) {
		return c.Ours, nil
	})
	// Theirs takes their side of every conflict (including their deletion).
	Theirs Policy = PolicyFunc(func(_ context.Context, _ value.Store, c Conflict) (value.Value, error) {
		return c.Theirs, nil
	})
	// Deterministic picks the same winner whichever side is ours, so every
	// peer that meets a conflict resolves it the same way and automatic
	// sync converges: a change beats a deletion (an edit is never lost to
	// a concurrent delete), and between two changes the larger value in
	// value.Compare's total order wins. The ancestor plays no part, so
	// Resolve(anc, a, b) == Resolve(anc, b, a).
	Deterministic Policy = symmetric{func(_ context.Context, _ value.Store, c Conflict) (value.Value, error) {
		return deterministic(c.Ours, c.Theirs), nil
	}}
)

func deterministic(a, b value.Value) value.Value {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case value.Compare(a, b) >= 0:
		return a
	default:
		return b
	}
}

// baseline is the policy of virtual ancestors (see mergeBases): a conflict
// between two merge bases falls back to what they both came from, so the
// outer merge sees both sides as changes and hands the conflict to the
// caller's policy instead of deciding it silently. It is symmetric.
var baseline Policy = PolicyFunc(func(_ context.Context, _ value.Store, c Conflict) (value.Value, error) {
	return c.Ancestor, nil
})

// PolicyNames lists the names ParsePolicy accepts, for help texts.
var PolicyNames = []string{"fail", "ours", "theirs", "auto"}

// ParsePolicy returns the built-in policy with the given name: "fail",
// "ours", "theirs", or "auto" (also "deterministic") for Deterministic.
func ParsePolicy(name string) (Policy, error) {
	switch strings.ToLower(name) {
	case "fail", "none", "":
		return Fail, nil
	case "ours", "left":
		return Ours, nil
	case "theirs", "right":
		return Theirs, nil
	case "auto", "deterministic":
		return Deterministic, nil
	}
	return nil, fmt.Errorf("%w %q (want one of %s)", ErrUnknownPolicy, name, strings.Join(PolicyNames, ", "))
}

// ConflictError is the error of a merge that left conflicts unresolved: it
// lists all of them, in the order of their paths within each collection.
// errors.Is(err, ErrConflict) is true for it.
type ConflictError struct {
	Conflicts []Conflict
}

// maxListed bounds the paths an error message names; the rest are counted.
const maxListed = 10

func (e *ConflictError) Error() string {
	var b strings.Builder
	n := len(e.Conflicts)
	fmt.Fprintf(&b, "%s at %d path", ErrConflict, n)
	if n != 1 {
		b.WriteString("s")
	}
	for i, c := range e.Conflicts {
		if i == maxListed {
			fmt.Fprintf(&b, ", and %d more", n-maxListed)
			break
		}
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		b.WriteString(sep + PathText(c.Path))
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Unwrap() error { return ErrConflict }
