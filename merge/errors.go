package merge

import "errors"

// ErrConflict is wrapped by every error that reports unresolved conflicts
// (see ConflictError). A Policy returns an error wrapping it to say "I
// cannot resolve this one": the merge records the conflict and goes on, so
// that one failed merge reports every conflict at once.
var ErrConflict = errors.New("merge conflict")

// ErrAbsentRoot is returned when a merge of two commit values resolves to
// no value at all (a policy chose "absent" for the root): a commit must
// hold a value.
var ErrAbsentRoot = errors.New("merge resolved the root value to absent")

// ErrTooDeep is returned when values nest collections deeper than MaxDepth,
// which only a hostile or corrupt store produces: the merge refuses rather
// than recurse without bound.
var ErrTooDeep = errors.New("values nested too deeply to merge")

// ErrTooManyRetries is returned by Into and CommitWithMerge when other
// writers kept moving the dataset's head through every attempt. It is
// returned together with db.ErrOptimisticLock (errors.Is matches both).
var ErrTooManyRetries = errors.New("dataset head kept moving: too many retries")

// ErrUnknownPolicy is returned by ParsePolicy for a name it does not know.
var ErrUnknownPolicy = errors.New("unknown merge policy")

// ErrAsymmetricPolicy is returned by IntoAll for a policy that does not
// declare itself symmetric (IsSymmetric).
var ErrAsymmetricPolicy = errors.New("merging several commits at once needs a symmetric policy")
