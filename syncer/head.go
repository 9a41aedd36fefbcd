package syncer

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/headstore"
)

// Head is one writer's signed head as the head store accepted it: the
// writer's database root and the sequence number ordering its heads.
type Head = headstore.Head

// HeadStore is what the syncer needs of a head store; *headstore.Store
// satisfies it, and tests substitute fakes. Heads delivers other writers'
// accepted heads (never this peer's own); Known returns the newest
// accepted head of every writer seen so far; ResolveAll looks up the
// durable (IPNS) heads of the writers the store knows of.
type HeadStore interface {
	Self() peer.ID
	Publish(ctx context.Context, root chunks.Hash) error
	Heads() <-chan Head
	ResolveAll(ctx context.Context) error
	Known() map[peer.ID]Head
}

var _ HeadStore = (*headstore.Store)(nil)
