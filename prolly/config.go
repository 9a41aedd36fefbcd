package prolly

// Chunking parameters. They are part of the data format: changing any of
// them changes where nodes are cut, hence every root hash, so two builds
// of this package with different values cannot share trees.
//
// Nodes of Maps, Sets and Lists, and the internal levels of every shape
// (Blobs included), are cut by a size-aware rule (Dolt's refinement of
// Noms' rolling hash). After each item the node has grown from s0 to s1
// bytes (s = bytes of the encoded items in the node, headers excluded);
// the node is cut if
//
//	xxhash64(level byte ‖ identity bytes) / 2^64  <  (F(s1)-F(s0)) / (1-F(s0))
//
// where F is the Weibull CDF with shape 4 and mean TargetNodeSize, i.e. the
// probability that a node "wanting" a Weibull-distributed size would have
// ended between s0 and s1. Compared with a fixed probability per item this
// makes node sizes cluster around the target (few tiny nodes, none huge),
// and works with items of any size, since big items raise the cut
// probability by their size. Internal nodes also never cut after their
// first child, so each level has at most half the nodes of the one below.
//
// The identity bytes are, at leaves, the key (Map, Set) or the item
// (List); at internal levels, the child's last key (Map, Set) or the
// child's hash (List, Blob). Ordered trees hash the last key rather than
// the link (docs/datamodel.md says link: this is a deliberate departure)
// because the price of the size-aware rule is that a moved boundary
// re-rolls the cuts after it until one lands where the old one did,
// which takes a few nodes: a link changes with every edit below it, so
// every edit re-rolled one cut per level, and about 1.6% of single edits
// in a 1M-entry map started such a cascade at level 1 (up to 7 extra
// nodes, 10 chunks written in all); a last key changes only when the edit
// moves a leaf boundary (measured since: at most 7 chunks in 5000 edits).
// With keys, boundaries of Maps and Sets depend only on keys (and sizes)
// at every level. Lists and Blobs have no key in internal nodes, so they
// hash the link.
//
// The rule is computed with explicitly rounded float64 operations only (no
// math.Exp, which has per-architecture assembly, and no fused
// multiply-add), so every platform cuts at the same places.
//
// Blob leaves are cut by a FastCDC gear rolling hash over the raw bytes, so
// that inserting a byte shifts only the content around it.
const (
	// TargetNodeSize is the mean size, in bytes of encoded items, of Map,
	// Set and List nodes and of internal nodes. 4 KiB keeps the bytes
	// rewritten per edit small and IPFS blocks far below the 1 MiB limit.
	TargetNodeSize = 4 << 10

	// MaxNodeSize forces a cut once a node holds this many bytes of items.
	// With the Weibull rule above nodes practically never get near it
	// (a node growing past 3×TargetNodeSize uncut has probability
	// e^-(3·Γ(1.25))^4 ≈ e^-55); it only bounds nodes of very large items.
	MaxNodeSize = 64 << 10

	// LoneEntrySize: a leaf entry (key plus value, or list item) of at least
	// this many bytes always gets a node of its own: the node before it is
	// cut before it, and its node is cut right after it. So leaf nodes hold
	// either one such entry or less than MaxNodeSize+LoneEntrySize bytes.
	LoneEntrySize = MaxNodeSize / 2

	// BlobMinChunk, BlobTargetChunk and BlobMaxChunk bound blob leaves:
	// no cut before BlobMinChunk bytes, then a gear mask of
	// log2(BlobTargetChunk)+2 bits, loosened to log2(BlobTargetChunk)-2
	// bits from BlobTargetChunk - 3/4·BlobMinChunk bytes on (FastCDC's
	// normalized chunking, level 2, with the switch placed so that leaves
	// of random data average BlobTargetChunk: 4053 bytes measured), and a
	// forced cut at BlobMaxChunk.
	BlobMinChunk    = 1 << 10
	BlobTargetChunk = 4 << 10
	BlobMaxChunk    = 16 << 10

	// MaxLevel is the highest level a node may have. Internal nodes have at
	// least two children (except the last node of a level), so a tree of
	// 2^MaxLevel entries would be needed to reach it; a deeper node read
	// from a store is refused as corrupt.
	MaxLevel = 48
)

// gamma125 is Γ(1+1/4): the mean of a Weibull distribution of shape 4 and
// scale λ is λ·Γ(1.25), so λ = target/gamma125.
const gamma125 = 0.90640247705547707798

// gearSeed seeds the splitmix64 generator that fills the gear table. The
// table is part of the format, like the constants above.
const gearSeed = 0x6e6f6d732d697066 // "noms-ipf"

// config holds the parameters above in the form the chunkers use. Tests
// swap in a smaller one (testConfig) to get deep trees from few entries.
type config struct {
	targetNode int
	maxNode    int
	loneEntry  int
	lambda     float64 // Weibull scale: targetNode / Γ(1.25)

	blobMin, blobNormal, blobMax int
	maskS, maskL                 uint64 // gear masks before/after blobNormal
}

func newConfig(target, maxNode, lone, blobMin, blobTarget, blobMax int) *config {
	bits := 0
	for 1<<bits < blobTarget {
		bits++
	}
	// High bits of the gear fingerprint depend on the last 64 bytes; the
	// low ones only on the last few, so masks take the top bits.
	top := func(n int) uint64 { return ^uint64(0) << (64 - n) }
	return &config{
		targetNode: target,
		maxNode:    maxNode,
		loneEntry:  lone,
		lambda:     float64(target) / gamma125,
		blobMin:    blobMin,
		blobNormal: blobTarget - blobMin*3/4,
		blobMax:    blobMax,
		maskS:      top(bits + 2),
		maskL:      top(bits - 2),
	}
}

// defaultConfig is the format's configuration.
var defaultConfig = newConfig(TargetNodeSize, MaxNodeSize, LoneEntrySize, BlobMinChunk, BlobTargetChunk, BlobMaxChunk)

// cfg is the configuration every operation starts with. Only tests change
// it (never concurrently with operations).
var cfg = defaultConfig
