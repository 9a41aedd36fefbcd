package ipfsstore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ipfs/go-cid"
	"golang.org/x/sync/errgroup"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
)

// recover runs at Open, under the directory lock, so no write of another
// process is half done: it removes the pins a write that died left (its
// keep intent names them), checks the node holds the root, converts a store
// of an earlier version, and re-creates the keep root's pin if someone
// removed it.
func (s *Store) recover(ctx context.Context) error {
	st, err := s.rf.read()
	if err != nil {
		return err
	}
	if err := s.undoDeadWrite(ctx, st); err != nil {
		return err
	}
	if !st.Root.IsEmpty() {
		if ok, err := s.be.has(ctx, HashToCID(st.Root)); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("root %s (%s): %w", st.Root, HashToCID(st.Root), ErrWrongNode)
		}
	}
	if st.Format < formatKeep {
		return s.convert(ctx, st)
	}
	if !st.Keep.Defined() {
		return nil
	}
	if ok, err := s.be.pinned(ctx, st.Keep); err != nil {
		return err
	} else if ok {
		return nil
	}
	s.log.Warn("the keep root's pin is gone (removed by hand?); rebuilding it from the chunks under the root", "keep", st.Keep)
	return s.rebuildKeep(ctx, st)
}

// undoDeadWrite removes the pins that a write which died half way listed in
// its intent, but the keep root st names, then the intent. Callers hold the
// directory lock, so the intent is not a live write's.
func (s *Store) undoDeadWrite(ctx context.Context, st rootState) error {
	in, found, err := s.rf.readIntent()
	switch {
	case errors.Is(err, errBadIntent):
		s.log.Warn("keep intent unreadable; sweeping the node's pins for this database's stray keep nodes", "err", err)
		if err := s.sweepKeepPins(ctx, st.Keep); err != nil {
			return err
		}
	case err != nil:
		return err
	case !found:
		return nil
	default:
		if err := s.dropPinsBut(ctx, in.Pins); err != nil {
			return err
		}
		s.log.Info("removed the pins of an unfinished write", "pins", len(in.Pins))
	}
	return s.rf.clearIntent()
}

// legacyImportLock is the block that earlier versions named as the root of
// every CAR they imported, to make dag/import hold Kubo's pin lock; it
// stayed pinned. The DAG-CBOR map {"noms-ipfs": "import"}.
var legacyImportLock = func() cid.Cid {
	data := cborx.AppendText(cborx.AppendText(cborx.AppendHead(nil, cborx.Map, 1), "noms-ipfs"), "import")
	return HashToCID(chunks.Of(data))
}()

// convert turns a store of an earlier version, whose root an MFS entry
// (/noms-ipfs/<id>/<root>) or a recursive pin (noms-ipfs/<id>) kept, into
// one kept by a keep root, then removes the old protection. The old one
// stays in place until the keep root is recorded.
func (s *Store) convert(ctx context.Context, st rootState) error {
	if err := s.rebuildKeep(ctx, st); err != nil {
		return err
	}
	if err := s.be.removeMFS(ctx, "/noms-ipfs/"+s.id); err != nil {
		return err
	}
	pins, err := s.be.recursivePins(ctx)
	if err != nil {
		return err
	}
	var old []cid.Cid
	for _, p := range pins {
		if p.name == "noms-ipfs/"+s.id || p.cid.Equals(legacyImportLock) {
			old = append(old, p.cid)
		}
	}
	if err := s.be.unpin(ctx, old); err != nil {
		return err
	}
	s.log.Info("converted the store to a keep root", "keep", s.keep.cid, "pins removed", len(old))
	return nil
}

// rebuildKeep makes a keep root that names every chunk under the root that
// the node holds, records it (with the current format) and unpins the one
// the root file named before, if any.
func (s *Store) rebuildKeep(ctx context.Context, st rootState) error {
	var hs []chunks.Hash
	if !st.Root.IsEmpty() {
		var err error
		if hs, err = s.localDAG(ctx, st.Root); err != nil {
			return err
		}
	}
	next, frozen := (&keepRoot{db: s.id}).add(hs)
	nb := next.block()
	pins := append(frozen, nb)
	in := keepIntent{}
	for _, p := range pins {
		in.Pins = append(in.Pins, p.Cid())
	}
	if err := s.rf.writeIntent(in); err != nil {
		return err
	}
	if err := s.be.pinBlocks(ctx, s.pinName(), pins); err != nil {
		s.undoPins(ctx, in.Pins)
		return err
	}
	// What kept the old root may keep garbage the walk left out: go.
	drop := append(in.Pins[:len(frozen):len(frozen)], st.Retired...)
	if st.Keep.Defined() {
		drop = append(drop, st.Keep)
	}
	st.Keep, st.Format, st.Retired = nb.Cid(), formatKeep, nil
	if err := s.rf.write(st); err != nil {
		s.undoPins(ctx, in.Pins)
		return err
	}
	s.keep = keptRoot{cid: nb.Cid(), root: next}
	if err := s.be.unpin(ctx, drop); err != nil {
		return err
	}
	s.log.Info("keep root built from the chunks under the root", "keep", nb.Cid(), "chunks", len(hs))
	return s.rf.clearIntent()
}

// localDAG returns the chunks under root that the node holds, walking
// breadth first and skipping what is missing (a peer in shared mode holds
// only part of the DAG).
func (s *Store) localDAG(ctx context.Context, root chunks.Hash) ([]chunks.Hash, error) {
	seen := chunks.HashSet{root: struct{}{}}
	var out []chunks.Hash
	level := []chunks.Hash{root}
	for len(level) > 0 {
		var mu sync.Mutex
		var next []chunks.Hash
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(16)
		for _, h := range level {
			g.Go(func() error {
				d, err := s.be.getLocal(gctx, HashToCID(h))
				if isNotFound(err) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("cannot read chunk %s: %w", h, err)
				}
				var links []chunks.Hash
				_ = dagcbor.Links(d, func(l cid.Cid) error {
					if c, err := CIDToHash(l); err == nil {
						links = append(links, c)
					}
					return nil
				})
				mu.Lock()
				defer mu.Unlock()
				out = append(out, h)
				for _, c := range links {
					if !seen.Has(c) {
						seen.Insert(c)
						next = append(next, c)
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		level = next
	}
	return out, nil
}

// sweepKeepPins unpins every keep node of this database that the node has
// pinned except keep: the slow road, for when no intent says which pins a
// dead write made. Only pins whose CID has the chunk form are read.
func (s *Store) sweepKeepPins(ctx context.Context, keep cid.Cid) error {
	pins, err := s.be.recursivePins(ctx)
	if err != nil {
		return err
	}
	var drop []cid.Cid
	for _, p := range pins {
		if p.cid.Equals(keep) {
			continue
		}
		if _, err := CIDToHash(p.cid); err != nil {
			continue
		}
		d, err := s.be.getLocal(ctx, p.cid)
		if err != nil {
			continue
		}
		if nd, err := decodeKeepNode(d); err == nil && nd.db == s.id {
			drop = append(drop, p.cid)
		}
	}
	return s.be.unpin(ctx, drop)
}
