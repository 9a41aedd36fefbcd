package ipfsstore

import (
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// A database's root is kept from Kubo's garbage collector by Kubo's MFS
// (the node's mutable file system), which `ipfs repo gc` treats as a
// best-effort root: every block reachable from it that the node holds is
// kept, missing blocks are skipped. Each database owns the MFS directory
// /noms-ipfs/<database id>, which holds one entry per protected root,
// named by the root's hash (two briefly, while the root moves; `ipfs files
// ls /noms-ipfs/<id>` shows the current root).
//
// Why not a recursive pin: Kubo moves a pin by walking the DAG (pin update
// pairs links by name, so it follows a commit's parent chain down the whole
// history: O(history) per commit, 228 ms on a database whose first commit
// is a 1M-entry map), and the RPC API has no way to record a pin without
// the walk. An MFS entry moves in O(1). Best effort is also what a
// database read on demand needs: a peer that adopts another's head holds
// only the chunks it has read, and a recursive pin over the rest would make
// Kubo fetch the whole DAG (or fail every GC that cannot walk it).
// Replicas that must hold everything still pin (package syncer).

// mfsDir is the MFS directory of the database id.
func mfsDir(id string) string { return "/noms-ipfs/" + id }

// rootEntry is the name of root's entry in the database's MFS directory.
func rootEntry(root chunks.Hash) string { return root.String() }

// rootDirNode returns the UnixFS directory that an MFS entry points at: MFS
// holds only UnixFS nodes, so the DAG-CBOR root hangs under a directory
// with one link, "root". The node is deterministic (CIDv0, no metadata),
// so every write of it is the same block.
func rootDirNode(root chunks.Hash) *merkledag.ProtoNode {
	nd := merkledag.NodeWithData(ft.FolderPBData())
	// AddRawLink only fails on an undefined link.
	_ = nd.AddRawLink("root", &ipld.Link{Cid: HashToCID(root)})
	return nd
}
