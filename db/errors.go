package db

import (
	"errors"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// ErrNoHead is returned when a dataset has no head commit (it does not exist).
var ErrNoHead = errors.New("dataset has no head")

// ErrOptimisticLock is returned when another writer moved the dataset's head
// between reading it and committing: re-read the head, merge, retry. It is
// chunks.ErrOptimisticLock, so callers test for one sentinel at any layer.
var ErrOptimisticLock = chunks.ErrOptimisticLock

// ErrMergeNeeded is returned by Commit and FastForward when the dataset's head
// is not an ancestor of the new commit: the histories diverged.
var ErrMergeNeeded = errors.New("dataset head is not an ancestor of the new commit: merge needed")

// ErrInvalidName is returned for a dataset name outside [a-zA-Z0-9_./-]+.
var ErrInvalidName = errors.New("invalid dataset name")

// ErrNotCommit is returned when a chunk read as a commit is not one.
var ErrNotCommit = errors.New("chunk is not a commit")

// ErrCorrupt is returned when the database root document is malformed.
var ErrCorrupt = errors.New("malformed database root")
