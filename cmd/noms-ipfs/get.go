package main

import (
	"bytes"
	"context"
	"fmt"

	ipld "github.com/ipld/go-ipld-prime"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

type getOptions struct {
	Raw bool
}

func (o *getOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.Raw, "raw", false, "write the chunk's DAG-CBOR bytes instead of DAG-JSON")
}

func newGetCommand(g *globalOptions) *cobra.Command {
	opts := &getOptions{}
	cmd := &cobra.Command{
		Use:   "get <hash|cid|root>",
		Short: "Print a chunk as DAG-JSON",
		Long: `Print the chunk with the given hash or CID ("root" names the database
root) as DAG-JSON. The chunk is read from the local node, or from other IPFS
peers if the node lacks it, and verified against its hash.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("get takes one hash or CID, got %d arguments", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd.Context(), g, opts, args[0])
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runGet(ctx context.Context, g *globalOptions, opts *getOptions, ref string) error {
	var h chunks.Hash
	if ref != "root" {
		var err error
		if h, err = parseChunkRef(ref); err != nil {
			return err
		}
	}
	s, err := g.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	if ref == "root" {
		if h, err = s.store.Root(ctx); err != nil {
			return err
		}
		if h.IsEmpty() {
			return fmt.Errorf("database %q has no root yet: %w", g.DB, chunks.ErrNotFound)
		}
	}
	c, err := s.store.Get(ctx, h)
	if err != nil {
		return err
	}
	if opts.Raw {
		_, err := g.out.Write(c.Data())
		return err
	}
	n, err := ipld.Decode(c.Data(), dagcbor.Decode)
	if err != nil {
		return fmt.Errorf("cannot decode chunk %s: %w", h, err)
	}
	js, err := ipld.Encode(n, dagjson.Encode)
	if err != nil {
		return fmt.Errorf("cannot print chunk %s as DAG-JSON: %w", h, err)
	}
	if g.JSON {
		return g.printJSON(map[string]any{"hash": h.String(), "size": c.Size(), "value": jsonRaw(js)})
	}
	_, err = fmt.Fprintln(g.out, string(bytes.TrimSpace(js)))
	return err
}
