package chunks

import (
	"fmt"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/noms-ipfs/noms-ipfs/dagcbor"
)

// Links returns the links of c, a DAG-CBOR document, in the order they
// appear. A chunk that is not valid DAG-CBOR is refused with an error
// wrapping ErrInvalidChunk: stores hold nothing else, so that IPFS can follow
// every link.
func Links(c Chunk) ([]cid.Cid, error) {
	var links []cid.Cid
	err := dagcbor.Links(c.Data(), func(l cid.Cid) error {
		links = append(links, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot put chunk %s: %w: %w", c.Hash(), ErrInvalidChunk, err)
	}
	return links, nil
}

// PendingLinks is the dangling-link check every store makes before its root
// moves, as Noms refused dangling refs: a root may not reach, through chunks
// put and not yet committed, a link to a chunk the store does not hold.
//
// It records only what it must. A chunk whose links all name chunks known
// when it is put (pending, or held) leaves no trace; the data model builds
// trees bottom up, so that is nearly every chunk. A chunk with a link that
// was unknown, or that names a chunk that itself has open links, is kept
// with those links. Commit walks from the new root through the kept chunks
// only, so a chunk put with a dangling link refuses exactly the roots that
// reach it, and the store stays usable for every other root: putting the
// missing chunk later makes the same root acceptable.
//
// The known functions passed in must not call back into the PendingLinks.
type PendingLinks struct {
	mu   sync.Mutex
	open map[Hash][]cid.Cid
}

// NewPendingLinks returns an empty check.
func NewPendingLinks() *PendingLinks { return &PendingLinks{open: make(map[Hash][]cid.Cid)} }

// Add records the links of the chunk h just put. known reports whether a
// link names a chunk the store has pending or holds.
func (p *PendingLinks) Add(h Hash, links []cid.Cid, known func(cid.Cid) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var kept []cid.Cid
	for _, l := range links {
		if p.isOpen(l) || !known(l) {
			kept = append(kept, l)
		}
	}
	if len(kept) == 0 {
		delete(p.open, h)
		return
	}
	p.open[h] = kept
}

func (p *PendingLinks) isOpen(l cid.Cid) bool {
	h, err := HashFromCID(l)
	if err != nil {
		return false
	}
	_, ok := p.open[h]
	return ok
}

// Check walks from root through the chunks with open links. It returns the
// chunks it walked, for Forget once the root has moved, and the links it
// found that known does not vouch for: the store must find each of them, or
// refuse the root.
func (p *PendingLinks) Check(root Hash, known func(cid.Cid) bool) (walked []Hash, unknown []cid.Cid) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.open[root]; !ok {
		return nil, nil
	}
	seen := HashSet{root: struct{}{}}
	asked := make(map[cid.Cid]struct{})
	stack := []Hash{root}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		walked = append(walked, h)
		for _, l := range p.open[h] {
			if c, err := HashFromCID(l); err == nil {
				if _, ok := p.open[c]; ok {
					if !seen.Has(c) {
						seen.Insert(c)
						stack = append(stack, c)
					}
					continue
				}
			}
			if _, ok := asked[l]; ok || known(l) {
				continue
			}
			asked[l] = struct{}{}
			unknown = append(unknown, l)
		}
	}
	return walked, unknown
}

// Forget drops the chunks a successful Check walked: they are now under a
// committed root, so their links were found.
func (p *PendingLinks) Forget(walked []Hash) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range walked {
		delete(p.open, h)
	}
}

// Len returns the number of chunks with open links.
func (p *PendingLinks) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.open)
}

// DanglingLinksError is the error of a Commit refused because its root
// reaches links to chunks the store does not hold. It matches ErrNotFound
// with errors.Is; Missing lets a caller that can fetch them do so and retry.
type DanglingLinksError struct {
	Root    Hash
	Missing []cid.Cid
}

func (e *DanglingLinksError) Error() string {
	return fmt.Sprintf("cannot commit root %s: it reaches %d links to chunks the store does not hold, e.g. %s", e.Root, len(e.Missing), e.Missing[0])
}

// Is makes errors.Is(err, ErrNotFound) true.
func (e *DanglingLinksError) Is(target error) bool { return target == ErrNotFound }
