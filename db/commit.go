package db

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// Commit is one version of a dataset: a value, the commits it follows, and
// application metadata. Commits are immutable and named by their hash.
type Commit struct {
	Hash    chunks.Hash   // hash of the commit chunk
	Parents []chunks.Hash // sorted by hash, no duplicates
	Height  uint64        // 1 + the largest parent height; 1 for a first commit
	Meta    value.Struct  // conventionally author, date, message
	Value   value.Value
}

// commitKey wraps a commit chunk: {"commit": [height, [parents], meta, value]}.
const commitKey = "commit"

// encodeCommit returns the chunk of a commit. Parents are sorted so that two
// peers committing the same merge write byte-identical chunks.
func encodeCommit(parents []chunks.Hash, height uint64, meta value.Struct, v value.Value) (chunks.Chunk, error) {
	ps := slices.Clone(parents)
	slices.SortFunc(ps, chunks.Hash.Compare)
	ps = slices.Compact(ps)
	b := cborx.AppendHead(nil, cborx.Map, 1)
	b = cborx.AppendText(b, commitKey)
	b = cborx.AppendHead(b, cborx.Array, 4)
	b = cborx.AppendHead(b, cborx.Uint, height)
	b = cborx.AppendHead(b, cborx.Array, uint64(len(ps)))
	for _, p := range ps {
		b = cborx.AppendLink(b, p.CID())
	}
	var err error
	if b, err = value.AppendEncode(b, meta); err != nil {
		return chunks.Chunk{}, fmt.Errorf("cannot encode commit meta: %w", err)
	}
	if b, err = value.AppendEncode(b, v); err != nil {
		return chunks.Chunk{}, fmt.Errorf("cannot encode commit value: %w", err)
	}
	return chunks.NewChunk(b), nil
}

var commitPrefix = cborx.AppendText(cborx.AppendHead(nil, cborx.Map, 1), commitKey)

// decodeCommit parses a commit chunk, refusing anything malformed.
func decodeCommit(c chunks.Chunk) (Commit, error) {
	fail := func(format string, args ...any) (Commit, error) {
		return Commit{}, fmt.Errorf("%w: %s: %s", ErrNotCommit, c.Hash(), fmt.Sprintf(format, args...))
	}
	d := c.Data()
	if !bytes.HasPrefix(d, commitPrefix) {
		return fail("no commit wrapper")
	}
	items, err := cborx.Items(d[len(commitPrefix):])
	if err != nil || len(items) != 4 {
		return fail("want [height, parents, meta, value]: %v", err)
	}
	major, height, n, err := cborx.Head(items[0])
	if err != nil || major != cborx.Uint || n != len(items[0]) || height == 0 {
		return fail("bad height")
	}
	links, err := cborx.Items(items[1])
	if err != nil {
		return fail("bad parents: %v", err)
	}
	parents := make([]chunks.Hash, len(links))
	for i, l := range links {
		lc, err := cborx.Link(l)
		if err != nil {
			return fail("bad parent link: %v", err)
		}
		if parents[i], err = chunks.HashFromCID(lc); err != nil {
			return fail("bad parent: %v", err)
		}
		if i > 0 && parents[i-1].Compare(parents[i]) >= 0 {
			return fail("parents not sorted")
		}
	}
	if (len(parents) == 0) != (height == 1) {
		return fail("height %d with %d parents", height, len(parents))
	}
	mv, err := value.Decode(items[2])
	if err != nil {
		return fail("bad meta: %v", err)
	}
	meta, ok := mv.(value.Struct)
	if !ok {
		return fail("meta is a %s, not a struct", mv.Kind())
	}
	v, err := value.Decode(items[3])
	if err != nil {
		return fail("bad value: %v", err)
	}
	return Commit{Hash: c.Hash(), Parents: parents, Height: height, Meta: meta, Value: v}, nil
}
