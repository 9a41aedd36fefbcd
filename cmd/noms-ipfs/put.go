package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	ipld "github.com/ipld/go-ipld-prime"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
)

type putOptions struct {
	InputCodec string
	SetRoot    bool
}

func (o *putOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.InputCodec, "input-codec", "dag-json", "how to read each value: dag-json (links as {\"/\": \"<cid>\"}) or dag-cbor (raw bytes, stdin only)")
	fs.BoolVar(&o.SetRoot, "set-root", false, "also move the database root to the (last) stored chunk")
}

func newPutCommand(g *globalOptions) *cobra.Command {
	opts := &putOptions{}
	cmd := &cobra.Command{
		Use:   "put [value ...]",
		Short: "Store values as chunks and print their hashes",
		Long: `Store each value as one chunk (a DAG-CBOR block in IPFS) and print its
hash and CID. Values come from the arguments, or from stdin when there are
none. Chunks are durable when put returns; --set-root also makes the last one
the database root, as a commit would.`,
		Example: `  noms-ipfs put '{"hello": "world"}'
  echo '[1, 2, {"/": "bafyrgqa..."}]' | noms-ipfs put
  noms-ipfs put --input-codec dag-cbor < chunk.cbor`,
		PreRunE: func(*cobra.Command, []string) error {
			if opts.InputCodec != "dag-json" && opts.InputCodec != "dag-cbor" {
				return usageError{fmt.Errorf("unknown --input-codec %q (want dag-json or dag-cbor)", opts.InputCodec)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			inputs, err := readInputs(cmd.InOrStdin(), args)
			if err != nil {
				return err
			}
			return runPut(cmd.Context(), g, opts, inputs)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func readInputs(stdin io.Reader, args []string) ([][]byte, error) {
	if len(args) > 0 {
		out := make([][]byte, len(args))
		for i, a := range args {
			out[i] = []byte(a)
		}
		return out, nil
	}
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return nil, usageError{errors.New("no value given: pass values as arguments or on stdin")}
		}
	}
	b, err := io.ReadAll(io.LimitReader(stdin, chunks.MaxChunkSize*4+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read stdin: %w", err)
	}
	return [][]byte{b}, nil
}

// encodeChunk turns one input into chunk bytes.
func encodeChunk(codec string, in []byte) ([]byte, error) {
	if codec == "dag-cbor" {
		return in, nil
	}
	n, err := ipld.Decode(bytes.TrimSpace(in), dagjson.Decode)
	if err != nil {
		return nil, usageError{fmt.Errorf("invalid DAG-JSON %q: %w", abbreviate(in), err)}
	}
	return ipld.Encode(n, dagcbor.Encode)
}

func abbreviate(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

type putResult struct {
	Hash string `json:"hash"`
	CID  string `json:"cid"`
	Size int    `json:"size"`
}

func runPut(ctx context.Context, g *globalOptions, opts *putOptions, inputs [][]byte) error {
	var cs []chunks.Chunk
	for _, in := range inputs {
		data, err := encodeChunk(opts.InputCodec, in)
		if err != nil {
			return err
		}
		cs = append(cs, chunks.NewChunk(data))
	}
	s, err := g.openSession(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, c := range cs {
		if err := s.store.Put(ctx, c); err != nil {
			if errors.Is(err, chunks.ErrInvalidChunk) {
				return usageError{err}
			}
			return err
		}
	}
	root, err := s.store.Root(ctx)
	if err != nil {
		return err
	}
	next := root
	if opts.SetRoot {
		next = cs[len(cs)-1].Hash()
	}
	if err := s.store.Commit(ctx, next, root); err != nil {
		return err
	}
	results := make([]putResult, len(cs))
	for i, c := range cs {
		results[i] = putResult{Hash: c.Hash().String(), CID: ipfsstore.HashToCID(c.Hash()).String(), Size: c.Size()}
	}
	if g.JSON {
		return g.printJSON(map[string]any{"chunks": results, "root": next.String(), "node": s.node.String()})
	}
	for _, r := range results {
		fmt.Fprintf(g.out, "%s  %s  (%d bytes)\n", r.Hash, r.CID, r.Size)
	}
	if opts.SetRoot {
		fmt.Fprintf(g.out, "root is now %s\n", next)
	}
	return nil
}
