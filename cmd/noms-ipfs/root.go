package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
)

// Environment variables that fill flags not given on the command line.
const (
	envHome = "NOMS_IPFS_HOME"
	envDB   = "NOMS_IPFS_DB"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	API      string
	Embedded bool
	Home     string
	DB       string
	JSON     bool
	Verbose  bool

	out io.Writer
	log *slog.Logger
}

func (o *globalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.API, "api", "", "Kubo RPC API address, multiaddr or URL (env $IPFS_API; default: the api file of $IPFS_PATH or ~/.ipfs)")
	fs.BoolVar(&o.Embedded, "embedded", false, "run an embedded Kubo node in <home>/kubo instead of using a daemon (the default when no daemon is found)")
	fs.StringVar(&o.Home, "home", "", "directory for noms-ipfs state and the embedded node (env $"+envHome+"; default ~/.noms-ipfs)")
	fs.StringVar(&o.DB, "db", "", "database name (env $"+envDB+"; default \"default\")")
	fs.BoolVar(&o.JSON, "json", false, "print JSON for scripts instead of text for people")
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "log debug details to stderr")
}

// complete fills unset options from the environment and defaults.
func (o *globalOptions) complete() error {
	if o.Home == "" {
		o.Home = os.Getenv(envHome)
	}
	if o.Home == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return fmt.Errorf("cannot find home directory (set --home or $%s): %w", envHome, err)
		}
		o.Home = filepath.Join(home, ".noms-ipfs")
	}
	if o.DB == "" {
		o.DB = os.Getenv(envDB)
	}
	if o.DB == "" {
		o.DB = "default"
	}
	if !validName(o.DB) {
		return usageError{fmt.Errorf("invalid database name %q: use letters, digits, '-', '_' and '.'", o.DB)}
	}
	if o.API != "" && o.Embedded {
		return usageError{errors.New("--api and --embedded exclude each other")}
	}
	level := slog.LevelWarn
	if o.Verbose {
		level = slog.LevelDebug
	}
	o.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if o.JSON {
		o.log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	return nil
}

func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

func newRootCommand() *cobra.Command {
	opts := &globalOptions{}
	cmd := &cobra.Command{
		Use:   "noms-ipfs",
		Short: "A versioned, decentralized database whose chunks live in IPFS",
		Long: `noms-ipfs stores versioned values as chunks in IPFS.

It uses a running Kubo daemon (--api, $IPFS_API, or $IPFS_PATH/api), or
starts an embedded Kubo node in <home>/kubo when no daemon is found or
--embedded is given. Flags beat environment variables, which beat defaults.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			opts.out = cmd.OutOrStdout()
			return opts.complete()
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	opts.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(newPutCommand(opts), newGetCommand(opts), newStatusCommand(opts), newVersionCommand(opts))
	cmd.AddCommand(newMergeCommand(opts))
	cmd.AddCommand(newSyncCommand(opts), newClusterCommand(opts))
	cmd.AddCommand(newCommitCommand(opts), newSetCommand(opts), newDeleteCommand(opts), newShowCommand(opts), newLogCommand(opts))
	return cmd
}

// session is an open node and store for one command.
type session struct {
	node  *ipfsnode.Node
	store *ipfsstore.Store
}

func (s *session) Close() error {
	err := s.store.Close()
	if cerr := s.node.Close(); err == nil {
		err = cerr
	}
	return err
}

// openSession connects to a daemon or starts the embedded node, then opens
// the database's store. Its state directory is keyed by the node's peer ID,
// so one home serves several nodes without mixing their roots.
func (o *globalOptions) openSession(ctx context.Context) (*session, error) {
	node, err := o.openNode(ctx)
	if err != nil {
		return nil, err
	}
	id, err := node.PeerID(ctx)
	if err != nil {
		node.Close()
		return nil, err
	}
	dir := filepath.Join(o.Home, "db", o.DB, id.String())
	store, err := ipfsstore.Open(ctx, node, ipfsstore.Options{Dir: dir, Logger: o.log})
	if err != nil {
		node.Close()
		return nil, err
	}
	return &session{node: node, store: store}, nil
}

func (o *globalOptions) openNode(ctx context.Context) (*ipfsnode.Node, error) {
	if !o.Embedded {
		n, err := ipfsnode.Connect(ctx, o.API)
		if err == nil {
			o.log.Debug("using Kubo daemon", "node", n.String())
			return n, nil
		}
		if o.API != "" || !errors.Is(err, ipfsnode.ErrNoDaemon) {
			return nil, err
		}
		o.log.Debug("no Kubo daemon found; starting an embedded node")
	}
	repo := filepath.Join(o.Home, "kubo")
	// A running `noms-ipfs sync --embedded` holds the repo and serves its
	// API: use that node rather than fail on the repo's lock.
	if addr, ok := ipfsnode.RepoAPIAddr(repo); ok {
		n, err := ipfsnode.Connect(ctx, addr)
		if err == nil {
			o.log.Debug("using the embedded node that another noms-ipfs process serves", "node", n.String())
			return n, nil
		}
		o.log.Debug("stale api file in the embedded repo", "addr", addr, "err", err)
	}
	return ipfsnode.StartEmbedded(ctx, ipfsnode.EmbeddedConfig{Repo: repo})
}

// printJSON writes v as one JSON document.
func (o *globalOptions) printJSON(v any) error {
	enc := json.NewEncoder(o.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseChunkRef accepts a chunk hash (base32, optional '#') or its CID.
func parseChunkRef(s string) (chunks.Hash, error) {
	s = strings.TrimSpace(s)
	if h, err := chunks.Parse(s); err == nil {
		return h, nil
	}
	h, err := ipfsstore.ParseCID(s)
	if err != nil {
		return chunks.Hash{}, usageError{fmt.Errorf("%q is neither a chunk hash nor a chunk CID", s)}
	}
	return h, nil
}

func isNotFound(err error) bool { return errors.Is(err, chunks.ErrNotFound) }
