package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
)

func newStatusCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the Kubo node, the database and its root",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), g)
		},
	}
}

type statusResult struct {
	Node     string       `json:"node"`
	Embedded bool         `json:"embedded"`
	PeerID   string       `json:"peer_id"`
	Database string       `json:"database"`
	Root     string       `json:"root"`
	RootCID  string       `json:"root_cid,omitempty"`
	Stats    chunks.Stats `json:"stats"`
}

func runStatus(ctx context.Context, g *globalOptions) error {
	s, err := g.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := s.node.PeerID(ctx)
	if err != nil {
		return err
	}
	root, err := s.store.Root(ctx)
	if err != nil {
		return err
	}
	res := statusResult{
		Node:     s.node.String(),
		Embedded: s.node.Embedded(),
		PeerID:   id.String(),
		Database: g.DB,
		Root:     root.String(),
		Stats:    s.store.Stats(),
	}
	if !root.IsEmpty() {
		res.RootCID = ipfsstore.HashToCID(root).String()
	}
	if g.JSON {
		return g.printJSON(res)
	}
	fmt.Fprintf(g.out, "node:      %s\n", res.Node)
	fmt.Fprintf(g.out, "peer ID:   %s\n", res.PeerID)
	fmt.Fprintf(g.out, "database:  %s\n", res.Database)
	if root.IsEmpty() {
		fmt.Fprintf(g.out, "root:      (empty)\n")
	} else {
		fmt.Fprintf(g.out, "root:      %s  %s\n", res.Root, res.RootCID)
	}
	return nil
}

// jsonRaw embeds already-encoded JSON in printJSON output.
type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) { return json.RawMessage(j), nil }
