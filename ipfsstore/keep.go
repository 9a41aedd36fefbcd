package ipfsstore

import (
	"errors"
	"fmt"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/dagcbor"
	"github.com/noms-ipfs/noms-ipfs/internal/cborx"
)

// The keep: how a database's chunks survive Kubo's garbage collector.
//
// Kubo's GC marks, under its GC lock, everything reachable from the
// recursive pins, and sweeps the rest; pins change only under the pin lock,
// which excludes a GC. So a chunk is safe from the moment a pin that reaches
// it exists. Every write of chunks therefore goes:
//
//  1. pin a keep root that names the chunks about to be written;
//  2. write the chunks (no lock needed: they are marked already);
//  3. record the new keep root in the root file. The root it replaces names
//     a subset of it; its pin is dropped later, with those of other
//     replaced roots (Store.persist).
//
// A GC that starts before step 1 holds the GC lock, so step 1 waits for it
// and the chunks do not exist yet; a GC that starts after sees the pin.
// Nothing is ever written unprotected, so no GC, however it interleaves,
// can remove a chunk of this database (the adversarial tests run GC in a
// loop beside commits).
//
// The keep names chunks by raw CIDs with the chunk's multihash: Kubo's
// blockstore and GC key blocks by multihash, so a raw CID marks the
// DAG-CBOR block, and Kubo never follows a raw block's links (nor even reads
// it: a raw CID has none). That is what makes the scheme work:
//   - the pin is O(1): Kubo's block/put with pin records a recursive pin
//     without walking, and its GC walks only the keep's own nodes, never the
//     database's DAG, so a GC does not fail when that DAG is only partly
//     local (a peer in shared mode holds only what it has read);
//   - a name may precede its chunk: a raw leaf that is absent is no error.
//
// Unlike Kubo's MFS, which GC reads before it takes its lock (so MFS cannot
// protect a write that runs beside a GC), and unlike a recursive pin of the
// root, which Kubo moves by walking the DAG (a commit's parent chain makes
// that O(history)).
//
// The keep only grows: every chunk the database ever wrote stays kept, which
// is what a versioned database wants (history stays reachable); garbage of
// failed writes stays too.
//
// Shape: a root node holds the newest chunk names (its tail) and links to
// frozen nodes, so a write rewrites one node of at most ~40 KiB:
//
//	root  {"db", "tail": [raw...≤1023], "count", "levels": [[leaf...], [level...], ...], "noms-ipfs-keep": "root"}
//	leaf  {"db", "chunks": [raw ×1024], "noms-ipfs-keep": "leaf"}
//	level {"db", "nodes": [link ×256], "noms-ipfs-keep": "level"}
//
// levels[0] links leaves, levels[i] links level nodes of height i; when a
// list fills it is frozen into a node one level up. Every node names its
// database, so no two databases on one node share a keep node's CID (Kubo
// keeps one pin per CID), and `ipfs dag get` shows whose it is.

const (
	keepLeafSize = 1024 // chunk names per leaf (29 bytes each)
	keepFanout   = 256  // links per level node
	keepMarker   = "noms-ipfs-keep"
)

const (
	kindRoot  = "root"
	kindLeaf  = "leaf"
	kindLevel = "level"
)

var errNotKeepNode = errors.New("not a noms-ipfs keep node")

// keepRoot is a decoded keep root.
type keepRoot struct {
	db     string
	count  uint64 // chunk names added over time, duplicates included
	tail   []chunks.Hash
	levels [][]cid.Cid
}

// rawCID names the chunk h for Kubo's GC without letting it follow the
// chunk's links: the raw codec over the chunk's multihash.
func rawCID(h chunks.Hash) cid.Cid {
	b := make([]byte, 0, 2+chunks.HashLen)
	b = append(append(b, mh.SHA2_512, chunks.HashLen), h[:]...)
	return cid.NewCidV1(cid.Raw, mh.Multihash(b))
}

// add returns the root that also names hs, and the nodes frozen on the way
// (children before parents), which must be pinned before the root.
func (r *keepRoot) add(hs []chunks.Hash) (*keepRoot, []blocks.Block) {
	next := &keepRoot{db: r.db, count: r.count + uint64(len(hs))}
	tail := append(append(make([]chunks.Hash, 0, len(r.tail)+len(hs)), r.tail...), hs...)
	levels := make([][]cid.Cid, len(r.levels))
	for i, l := range r.levels {
		levels[i] = append([]cid.Cid(nil), l...)
	}
	var frozen []blocks.Block
	freeze := func(data []byte, level int) {
		b := newKeepBlock(data)
		frozen = append(frozen, b)
		for len(levels) <= level {
			levels = append(levels, nil)
		}
		levels[level] = append(levels[level], b.Cid())
	}
	for len(tail) >= keepLeafSize {
		freeze(encodeKeepList(r.db, kindLeaf, "chunks", rawLinks(tail[:keepLeafSize])), 0)
		tail = tail[keepLeafSize:]
	}
	for i := 0; i < len(levels); i++ {
		for len(levels[i]) >= keepFanout {
			group := levels[i][:keepFanout]
			levels[i] = levels[i][keepFanout:]
			freeze(encodeKeepList(r.db, kindLevel, "nodes", group), i+1)
		}
	}
	next.tail = tail
	next.levels = levels
	return next, frozen
}

func rawLinks(hs []chunks.Hash) []cid.Cid {
	out := make([]cid.Cid, len(hs))
	for i, h := range hs {
		out[i] = rawCID(h)
	}
	return out
}

func newKeepBlock(data []byte) blocks.Block {
	b, _ := blocks.NewBlockWithCid(data, HashToCID(chunks.Of(data)))
	return b
}

// appendLinks appends a CBOR array of links.
func appendLinks(b []byte, links []cid.Cid) []byte {
	b = cborx.AppendHead(b, cborx.Array, uint64(len(links)))
	for _, l := range links {
		b = cborx.AppendLink(b, l)
	}
	return b
}

// encodeKeepList encodes a leaf or level node. Keys in DAG-CBOR's order
// (shorter first): "db", the list, the marker.
func encodeKeepList(db, kind, key string, links []cid.Cid) []byte {
	b := cborx.AppendHead(nil, cborx.Map, 3)
	b = cborx.AppendText(cborx.AppendText(b, "db"), db)
	b = appendLinks(cborx.AppendText(b, key), links)
	return cborx.AppendText(cborx.AppendText(b, keepMarker), kind)
}

// block encodes the root. Keys: "db", "tail", "count", "levels", marker.
func (r *keepRoot) block() blocks.Block {
	b := cborx.AppendHead(nil, cborx.Map, 5)
	b = cborx.AppendText(cborx.AppendText(b, "db"), r.db)
	b = appendLinks(cborx.AppendText(b, "tail"), rawLinks(r.tail))
	b = cborx.AppendHead(cborx.AppendText(b, "count"), cborx.Uint, r.count)
	b = cborx.AppendHead(cborx.AppendText(b, "levels"), cborx.Array, uint64(len(r.levels)))
	for _, l := range r.levels {
		b = appendLinks(b, l)
	}
	b = cborx.AppendText(cborx.AppendText(b, keepMarker), kindRoot)
	return newKeepBlock(b)
}

// keepNode is any decoded keep node.
type keepNode struct {
	kind  string
	db    string
	root  *keepRoot // for kindRoot
	links []cid.Cid // the links of a leaf or level
}

// decodeKeepNode decodes a keep node; anything else is errNotKeepNode.
func decodeKeepNode(data []byte) (*keepNode, error) {
	if err := dagcbor.Validate(data); err != nil {
		return nil, fmt.Errorf("%w: %w", errNotKeepNode, err)
	}
	r := cborReader{b: data}
	n, err := r.head(cborx.Map)
	if err != nil {
		return nil, err
	}
	nd := &keepNode{}
	root := &keepRoot{}
	for range n {
		key, err := r.text()
		if err != nil {
			return nil, err
		}
		switch key {
		case "db":
			if nd.db, err = r.text(); err != nil {
				return nil, err
			}
		case keepMarker:
			if nd.kind, err = r.text(); err != nil {
				return nil, err
			}
		case "count":
			if root.count, err = r.uint(); err != nil {
				return nil, err
			}
		case "tail":
			links, err := r.links()
			if err != nil {
				return nil, err
			}
			for _, l := range links {
				h, err := hashOfRaw(l)
				if err != nil {
					return nil, err
				}
				root.tail = append(root.tail, h)
			}
		case "levels":
			m, err := r.head(cborx.Array)
			if err != nil {
				return nil, err
			}
			for range m {
				l, err := r.links()
				if err != nil {
					return nil, err
				}
				root.levels = append(root.levels, l)
			}
		case "chunks", "nodes":
			if nd.links, err = r.links(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: unknown key %q", errNotKeepNode, key)
		}
	}
	switch nd.kind {
	case kindRoot:
		root.db = nd.db
		nd.root = root
	case kindLeaf, kindLevel:
	default:
		return nil, fmt.Errorf("%w: kind %q", errNotKeepNode, nd.kind)
	}
	if nd.db == "" {
		return nil, fmt.Errorf("%w: no database id", errNotKeepNode)
	}
	return nd, nil
}

func hashOfRaw(l cid.Cid) (chunks.Hash, error) {
	if l.Prefix().Codec != cid.Raw {
		return chunks.Hash{}, fmt.Errorf("%w: tail link %s is not raw", errNotKeepNode, l)
	}
	h, err := CIDToHash(cid.NewCidV1(cid.DagCBOR, l.Hash()))
	if err != nil {
		return chunks.Hash{}, fmt.Errorf("%w: %w", errNotKeepNode, err)
	}
	return h, nil
}

// cborReader reads the few shapes keep nodes use, from bytes that
// dagcbor.Validate accepted (so lengths are in bounds and minimal).
type cborReader struct {
	b   []byte
	off int
}

func (r *cborReader) head(want byte) (uint64, error) {
	major, arg, n, err := cborx.Head(r.b[r.off:])
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errNotKeepNode, err)
	}
	if major != want {
		return 0, fmt.Errorf("%w: CBOR major type %d at offset %d, want %d", errNotKeepNode, major, r.off, want)
	}
	r.off += n
	return arg, nil
}

func (r *cborReader) uint() (uint64, error) { return r.head(cborx.Uint) }

func (r *cborReader) text() (string, error) {
	n, err := r.head(cborx.Text)
	if err != nil {
		return "", err
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s, nil
}

func (r *cborReader) links() ([]cid.Cid, error) {
	n, err := r.head(cborx.Array)
	if err != nil {
		return nil, err
	}
	out := make([]cid.Cid, 0, n)
	for range n {
		if _, err := r.head(cborx.Tag); err != nil {
			return nil, err
		}
		m, err := r.head(cborx.Bytes)
		if err != nil {
			return nil, err
		}
		// Validate checked the tag is 42 over 0x00 ‖ a CID.
		c, err := cid.Cast(r.b[r.off+1 : r.off+int(m)])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errNotKeepNode, err)
		}
		r.off += int(m)
		out = append(out, c)
	}
	return out, nil
}
