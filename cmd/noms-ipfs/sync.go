package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/headstore"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
	"github.com/noms-ipfs/noms-ipfs/merge"
	"github.com/noms-ipfs/noms-ipfs/syncer"
)

// Environment variables of `noms-ipfs sync` (flags beat them; they beat the
// config file).
const (
	envSyncConfig = "NOMS_IPFS_SYNC_CONFIG"
	envDatasets   = "NOMS_IPFS_DATASETS" // comma-separated
	envMode       = "NOMS_IPFS_SYNC_MODE"
	envAllow      = "NOMS_IPFS_ALLOW" // comma-separated peer IDs
	envOpen       = "NOMS_IPFS_OPEN"  // true/false
	envAnnounce   = "NOMS_IPFS_ANNOUNCE"
	envPolicy     = "NOMS_IPFS_POLICY"
	envKey        = "NOMS_IPFS_KEY"
	envPeers      = "NOMS_IPFS_PEERS" // comma-separated multiaddrs
)

// syncStatusFile is where a running `noms-ipfs sync` keeps its state for
// `noms-ipfs status`, in the database's state directory.
const syncStatusFile = "sync-status.json"

// syncStatusEvery is how often the status file is rewritten.
const syncStatusEvery = 2 * time.Second

// syncOptions are the flags of `noms-ipfs sync`.
type syncOptions struct {
	Config   string
	Datasets []string
	Mode     string
	Allow    []string
	Open     bool
	Announce time.Duration
	Policy   string
	Key      string
	Peers    []string
	Listen   []string
	Timeout  time.Duration
}

func (o *syncOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Config, "config", "", "JSON config file with any of the keys api, embedded, db, datasets, mode, allow, open, announce, policy, key, peers, listen, timeout (env $"+envSyncConfig+"; default <home>/sync.json if it exists)")
	fs.StringArrayVarP(&o.Datasets, "dataset", "d", nil, "dataset to sync; repeat for several (env $"+envDatasets+", comma-separated; default: all)")
	fs.StringVar(&o.Mode, "mode", "", "shared: read other writers' data from the network on demand; replicate: pin every writer's data locally before adopting it, a durable replica (env $"+envMode+"; default shared)")
	fs.StringArrayVar(&o.Allow, "allow", nil, "writer key (peer ID) whose heads are accepted; repeat for several (env $"+envAllow+", comma-separated)")
	fs.BoolVar(&o.Open, "open", false, "accept heads from any writer with a valid signature instead of --allow (env $"+envOpen+")")
	fs.DurationVar(&o.Announce, "announce", 0, "how often to re-announce this peer's head for peers that missed it (env $"+envAnnounce+"; default 10s)")
	fs.StringVar(&o.Policy, "policy", "", "how merges resolve conflicts: "+strings.Join(merge.PolicyNames, ", ")+" (env $"+envPolicy+"; default auto, the deterministic policy with which peers converge)")
	fs.StringVar(&o.Key, "key", "", "Kubo keystore name of this writer's key, created on first use (env $"+envKey+"; default noms-ipfs-<db>)")
	fs.StringArrayVar(&o.Peers, "peer", nil, "multiaddr (with /p2p/<id>) of a Kubo node to stay connected to: dialed when not connected, pinged when connected, redialed when it does not answer; repeat for several (env $"+envPeers+", comma-separated)")
	fs.StringArrayVar(&o.Listen, "listen", nil, "swarm listen multiaddr of a new embedded node (default loopback only); repeat for several")
	fs.DurationVar(&o.Timeout, "timeout", 0, "how long one attempt at another writer's head may take before it is retried (default 30s)")
}

// syncConfigFile is the JSON config file; zero fields are unset.
type syncConfigFile struct {
	API      string   `json:"api"`
	Embedded *bool    `json:"embedded"`
	DB       string   `json:"db"`
	Datasets []string `json:"datasets"`
	Mode     string   `json:"mode"`
	Allow    []string `json:"allow"`
	Open     *bool    `json:"open"`
	Announce string   `json:"announce"`
	Policy   string   `json:"policy"`
	Key      string   `json:"key"`
	Peers    []string `json:"peers"`
	Listen   []string `json:"listen"`
	Timeout  string   `json:"timeout"`
}

// syncSettings are the options once flags, environment, config file and
// defaults are merged and checked.
type syncSettings struct {
	datasets []string
	mode     syncer.Mode
	allowed  []peer.ID
	open     bool
	announce time.Duration
	policy   merge.Policy
	policyID string
	key      string
	peers    []peer.AddrInfo
	listen   []string
	timeout  time.Duration
}

func newSyncCommand(g *globalOptions) *cobra.Command {
	opts := &syncOptions{}
	var set syncSettings
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Keep the database's datasets in sync with the other writers, until stopped",
		Long: `Sync runs next to a Kubo node and keeps the chosen datasets of the database
in sync with every other writer of the same database: it publishes this
peer's head (a signed IPNS record, also announced on the database's pubsub
topic) whenever the local root moves, and merges the heads the other writers
announce: fast-forward when possible, otherwise a deterministic three-way
merge, which it publishes in turn.

Only heads of the writers given with --allow are accepted (or of anyone,
with --open). This peer's own writer key is printed at start: give it to the
other writers for their --allow.

--mode shared reads other writers' data from the network as needed;
--mode replicate pins each writer's whole database locally before adopting
it, so that the data survives its publisher: a durable replica.

Settings come from flags, then environment variables, then the JSON config
file (--config, default <home>/sync.json), then defaults. Kubo needs
Pubsub.Enabled and Ipns.UsePubsub set (an embedded node has them); the
embedded node runs online. Ctrl-C (SIGINT) or SIGTERM stops it cleanly:
the root is flushed and published one last time. Progress goes to stdout
(one JSON object per line with --json); -v adds debug logs on stderr.`,
		Example: `  noms-ipfs sync --db todo --allow 12D3KooW...Bob
  noms-ipfs sync --db todo --dataset todo --open --mode replicate
  IPFS_API=/ip4/127.0.0.1/tcp/5001 noms-ipfs sync --config ./sync.json --json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("sync takes no arguments, got %q (datasets go in --dataset)", args)}
			}
			return nil
		},
		PreRunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			set, err = opts.settle(cmd, g)
			return err
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSync(cmd.Context(), g, set)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// settle merges flags, environment and config file, and checks them.
func (o *syncOptions) settle(cmd *cobra.Command, g *globalOptions) (syncSettings, error) {
	var set syncSettings
	changed := func(name string) bool { f := cmd.Flag(name); return f != nil && f.Changed }
	path, explicit := o.Config, o.Config != ""
	if !explicit {
		if path = os.Getenv(envSyncConfig); path != "" {
			explicit = true
		} else {
			path = filepath.Join(g.Home, "sync.json")
		}
	}
	var file syncConfigFile
	if b, err := os.ReadFile(path); err == nil {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&file); err != nil {
			return set, usageError{fmt.Errorf("cannot read config file %s: %w", path, err)}
		}
	} else if explicit || !errors.Is(err, fs.ErrNotExist) {
		return set, usageError{fmt.Errorf("cannot read config file: %w", err)}
	}

	// Global options: flag, then environment (complete did both), then file.
	if file.API != "" && !changed("api") && os.Getenv(ipfsnode.EnvAPI) == "" && !changed("embedded") {
		g.API = file.API
	}
	if file.Embedded != nil && !changed("embedded") && !changed("api") {
		g.Embedded = *file.Embedded
	}
	if g.API != "" && g.Embedded {
		return set, usageError{errors.New("api and embedded exclude each other")}
	}
	if file.DB != "" && !changed("db") && os.Getenv(envDB) == "" {
		if !validName(file.DB) {
			return set, usageError{fmt.Errorf("invalid database name %q in %s", file.DB, path)}
		}
		g.DB = file.DB
	}

	pick := func(flag string, flagVal, env, fileVal string) string {
		switch {
		case changed(flag):
			return flagVal
		case os.Getenv(env) != "":
			return os.Getenv(env)
		}
		return fileVal
	}
	pickList := func(flag string, flagVal []string, env string, fileVal []string) []string {
		switch {
		case changed(flag):
			return flagVal
		case os.Getenv(env) != "":
			return splitList(os.Getenv(env))
		}
		return fileVal
	}

	set.datasets = pickList("dataset", o.Datasets, envDatasets, file.Datasets)
	for _, d := range set.datasets {
		if !db.ValidName(d) {
			return set, usageError{fmt.Errorf("invalid dataset name %q: use [a-zA-Z0-9_./-]", d)}
		}
	}
	var err error
	if set.mode, err = syncer.ParseMode(pick("mode", o.Mode, envMode, file.Mode)); err != nil {
		return set, usageError{err}
	}
	set.policyID = pick("policy", o.Policy, envPolicy, file.Policy)
	if set.policyID == "" {
		set.policyID = "auto"
	}
	if set.policy, err = merge.ParsePolicy(set.policyID); err != nil {
		return set, usageError{err}
	}
	for _, a := range pickList("allow", o.Allow, envAllow, file.Allow) {
		id, err := peer.Decode(a)
		if err != nil {
			return set, usageError{fmt.Errorf("--allow %q is not a peer ID: %w", a, err)}
		}
		set.allowed = append(set.allowed, id)
	}
	switch {
	case changed("open"):
		set.open = o.Open
	case os.Getenv(envOpen) != "":
		if set.open, err = strconv.ParseBool(os.Getenv(envOpen)); err != nil {
			return set, usageError{fmt.Errorf("$%s: %w", envOpen, err)}
		}
	case file.Open != nil:
		set.open = *file.Open
	}
	if len(set.allowed) == 0 && !set.open {
		return set, usageError{errors.New("no writer is allowed: give the other writers' keys with --allow <peer ID>, or accept anyone with --open")}
	}
	parseDur := func(flag string, flagVal time.Duration, env, fileVal string) (time.Duration, error) {
		if changed(flag) {
			return flagVal, nil
		}
		s := os.Getenv(env)
		if s == "" {
			s = fileVal
		}
		if s == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, usageError{fmt.Errorf("invalid --%s %q: %w", flag, s, err)}
		}
		return d, nil
	}
	if set.announce, err = parseDur("announce", o.Announce, envAnnounce, file.Announce); err != nil {
		return set, err
	}
	if set.timeout, err = parseDur("timeout", o.Timeout, "", file.Timeout); err != nil {
		return set, err
	}
	set.key = pick("key", o.Key, envKey, file.Key)
	if set.key == "" {
		set.key = headstore.DefaultKeyPrefix + g.DB
	}
	for _, p := range pickList("peer", o.Peers, envPeers, file.Peers) {
		ai, err := peer.AddrInfoFromString(p)
		if err != nil {
			return set, usageError{fmt.Errorf("--peer %q is not a multiaddr ending in /p2p/<peer ID>: %w", p, err)}
		}
		set.peers = append(set.peers, *ai)
	}
	set.listen = o.Listen
	if !changed("listen") {
		set.listen = file.Listen
	}
	for _, l := range set.listen {
		if _, err := ma.NewMultiaddr(l); err != nil {
			return set, usageError{fmt.Errorf("--listen %q: %w", l, err)}
		}
	}
	return set, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' }) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// openSyncNode connects to the daemon, or starts the embedded node online:
// sync needs pubsub, IPNS and bitswap.
func openSyncNode(ctx context.Context, g *globalOptions, set syncSettings) (*ipfsnode.Node, error) {
	if !g.Embedded {
		n, err := ipfsnode.Connect(ctx, g.API)
		if err == nil || g.API != "" || !errors.Is(err, ipfsnode.ErrNoDaemon) {
			return n, err
		}
		g.log.Debug("no Kubo daemon found; starting an embedded node")
	}
	n, err := ipfsnode.StartEmbedded(ctx, ipfsnode.EmbeddedConfig{
		Repo:       filepath.Join(g.Home, "kubo"),
		Online:     true,
		SwarmAddrs: set.listen,
	})
	if err != nil {
		return nil, err
	}
	// The repo is locked while sync runs: serve its API, as a daemon
	// would, so that the other commands (and the ipfs CLI) can use it.
	if _, err := n.ServeAPI(""); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func runSync(ctx context.Context, g *globalOptions, set syncSettings) error {
	// Setting up is bounded; the run itself lasts until ctx ends.
	node, err := openSyncNode(ctx, g, set)
	if err != nil {
		return err
	}
	defer node.Close()
	nodeID, err := node.PeerID(ctx)
	if err != nil {
		return err
	}
	dir := filepath.Join(g.Home, "db", g.DB, nodeID.String())
	store, err := ipfsstore.Open(ctx, node, ipfsstore.Options{Dir: dir, Logger: g.log})
	if err != nil {
		return err
	}
	defer store.Close()
	hs, err := headstore.New(ctx, node, headstore.Config{
		Database: g.DB, KeyName: set.key, Allowed: set.allowed, Open: set.open,
		Announce: set.announce, Logger: g.log,
	})
	if err != nil {
		return err
	}
	defer hs.Close()

	p := newProgress(g)
	syncLog := g.log
	if !g.Verbose {
		// Retries and conflicts are progress lines already.
		syncLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	s, err := syncer.New(db.New(store), node, hs, syncer.Config{
		Database: g.DB, Datasets: set.datasets, Mode: set.mode, Policy: set.policy,
		HeadTimeout: set.timeout, Logger: syncLog, OnEvent: p.event,
	})
	if err != nil {
		return err
	}
	root, err := store.Root(ctx)
	if err != nil {
		return err
	}
	p.started(node, nodeID, hs, set, root)

	st := &statusWriter{path: filepath.Join(dir, syncStatusFile), g: g, set: set, hs: hs, s: s, store: store}
	var wg sync.WaitGroup
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { st.loop(runCtx) })
	if len(set.peers) > 0 {
		wg.Go(func() { newPeerKeeper(nodeLinks{node}, g.log).keepConnected(runCtx, set.peers) })
	}
	err = s.Run(ctx) // returns once ctx ends, after the final publish
	cancel()
	wg.Wait()
	st.write(false)
	p.stopped(s.Stats(), hs.Stats())
	return err
}

// progress prints what the sync does: a line per step for people, or one
// JSON object per line with --json.
type progress struct {
	g   *globalOptions
	mu  sync.Mutex
	out io.Writer
	js  *slog.Logger // --json
}

func newProgress(g *globalOptions) *progress {
	p := &progress{g: g, out: g.out}
	if g.JSON {
		p.js = slog.New(slog.NewJSONHandler(g.out, nil))
	}
	return p
}

func (p *progress) line(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (p *progress) started(n *ipfsnode.Node, nodeID peer.ID, hs *headstore.Store, set syncSettings, root chunks.Hash) {
	datasets := "all"
	if len(set.datasets) > 0 {
		datasets = strings.Join(set.datasets, ", ")
	}
	trust := fmt.Sprintf("%d allowed writer(s)", len(set.allowed))
	if set.open {
		trust = "open to any writer"
	}
	if p.js != nil {
		p.js.Info("started", "database", p.g.DB, "writer", hs.Self().String(), "key", hs.KeyName(),
			"node", n.String(), "node_id", nodeID.String(), "topic", hs.Topic(), "mode", set.mode.String(),
			"datasets", set.datasets, "policy", set.policyID, "open", set.open, "allowed", len(set.allowed), "root", root.String())
		return
	}
	p.line("noms-ipfs sync: database %q, datasets %s, mode %s, policy %s, %s", p.g.DB, datasets, set.mode, set.policyID, trust)
	p.line("this writer's key: %s  (Kubo key %q; other writers add: --allow %s)", hs.Self(), hs.KeyName(), hs.Self())
	p.line("node: %s, peer %s; topic %s", n, nodeID, hs.Topic())
	if n.Embedded() {
		if api, ok := ipfsnode.RepoAPIAddr(n.Core().Repo.Path()); ok {
			p.line("node API: %s (other noms-ipfs commands on this home use it while sync runs)", api)
		}
	}
	if root.IsEmpty() {
		p.line("local root: (empty)")
	} else {
		p.line("local root: %s", root)
	}
}

func (p *progress) event(e syncer.Event) {
	if p.js != nil {
		attrs := []any{"took_ms", float64(e.Took.Microseconds()) / 1000}
		if e.Writer != "" {
			attrs = append(attrs, "writer", e.Writer.String(), "seq", e.Seq)
		}
		if !e.Root.IsEmpty() {
			attrs = append(attrs, "root", e.Root.String())
		}
		if e.Dataset != "" {
			attrs = append(attrs, "dataset", e.Dataset)
		}
		if !e.Commit.IsEmpty() {
			attrs = append(attrs, "commit", e.Commit.String())
		}
		if e.Kind == syncer.EventPinned {
			attrs = append(attrs, "bytes", e.Bytes)
		}
		if e.Retry > 0 {
			attrs = append(attrs, "retry_in_ms", e.Retry.Milliseconds())
		}
		if e.Err != nil {
			attrs = append(attrs, "err", e.Err.Error())
		}
		level := slog.LevelInfo
		if e.Err != nil {
			level = slog.LevelWarn
		}
		p.js.Log(context.Background(), level, e.Kind.String(), attrs...)
		return
	}
	took := e.Took.Round(time.Millisecond)
	switch e.Kind {
	case syncer.EventUpToDate:
		if p.g.Verbose {
			p.line("up to date    %s with %s", e.Dataset, short(e.Writer))
		}
	case syncer.EventFastForward:
		p.line("fast-forward  %s to %s from %s (%v)", e.Dataset, e.Commit, short(e.Writer), took)
	case syncer.EventMerged:
		p.line("merged        %s with %s: %s (%v)", e.Dataset, short(e.Writer), e.Commit, took)
	case syncer.EventConflict:
		p.line("CONFLICT      %s with %s, not merged: %v", e.Dataset, short(e.Writer), e.Err)
	case syncer.EventPinned:
		p.line("pinned        %s's root %s, %s new (%v)", short(e.Writer), e.Root, byteSize(e.Bytes), took)
	case syncer.EventRetry:
		p.line("retry in %-5v %s's root %s: %v", e.Retry.Round(100*time.Millisecond), short(e.Writer), e.Root, e.Err)
	case syncer.EventPublished:
		p.line("published     root %s (%v)", e.Root, took)
	case syncer.EventPublishFailed:
		p.line("publish failed, retry in %v: %v", e.Retry.Round(100*time.Millisecond), e.Err)
	}
}

func (p *progress) stopped(st syncer.Stats, hst headstore.Stats) {
	if p.js != nil {
		p.js.Info("stopped", "sync", st, "heads", hst)
		return
	}
	p.line("stopped: %d fast-forwards, %d merges, %d conflicts, %d failed attempts, %d publishes, %s pinned; heads received %d, accepted %d",
		st.FastForwards, st.Merges, st.Conflicts, st.Failures, st.Published, byteSize(st.BytesPinned), hst.Received, hst.Accepted)
}

// short abbreviates a writer's peer ID for progress lines.
func short(id peer.ID) string {
	s := id.String()
	if len(s) <= 12 {
		return s
	}
	return "…" + s[len(s)-8:]
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// syncStatus is the state a running sync shares with `noms-ipfs status`.
type syncStatus struct {
	UpdatedAt time.Time       `json:"updated_at"`
	Running   bool            `json:"running"`
	PID       int             `json:"pid"`
	Database  string          `json:"database"`
	Mode      string          `json:"mode"`
	Policy    string          `json:"policy"`
	Datasets  []string        `json:"datasets,omitempty"`
	KeyName   string          `json:"key_name"`
	Writer    string          `json:"writer"`
	Topic     string          `json:"topic"`
	Open      bool            `json:"open"`
	Allowed   []string        `json:"allowed,omitempty"`
	Root      string          `json:"root"`
	Published string          `json:"published,omitempty"`
	Writers   []writerStatus  `json:"writers"`
	Heads     headstore.Stats `json:"heads"`
	Sync      syncer.Stats    `json:"sync"`
}

type writerStatus struct {
	Writer    string     `json:"writer"`
	Root      string     `json:"root"`
	Seq       uint64     `json:"seq"`
	EOL       *time.Time `json:"eol,omitempty"`
	Synced    bool       `json:"synced"`
	SyncedAt  *time.Time `json:"synced_at,omitempty"`
	Attempts  int        `json:"attempts,omitempty"`
	NextRetry *time.Time `json:"next_retry,omitempty"`
	LastError string     `json:"last_error,omitempty"`
}

// statusWriter rewrites the status file every syncStatusEvery.
type statusWriter struct {
	path  string
	g     *globalOptions
	set   syncSettings
	hs    *headstore.Store
	s     *syncer.Syncer
	store *ipfsstore.Store
}

func (w *statusWriter) loop(ctx context.Context) {
	t := time.NewTicker(syncStatusEvery)
	defer t.Stop()
	for {
		w.write(true)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (w *statusWriter) write(running bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := syncStatus{
		UpdatedAt: time.Now().UTC(), Running: running, PID: os.Getpid(),
		Database: w.g.DB, Mode: w.set.mode.String(), Policy: w.set.policyID, Datasets: w.set.datasets,
		KeyName: w.hs.KeyName(), Writer: w.hs.Self().String(), Topic: w.hs.Topic(), Open: w.set.open,
		Heads: w.hs.Stats(), Sync: w.s.Stats(),
	}
	for _, a := range w.set.allowed {
		st.Allowed = append(st.Allowed, a.String())
	}
	if root, err := w.store.Root(ctx); err == nil {
		st.Root = root.String()
	}
	if pub := w.s.Published(); !pub.IsEmpty() {
		st.Published = pub.String()
	}
	known := w.hs.Known()
	for _, ws := range w.s.Writers() {
		out := writerStatus{Writer: ws.Writer.String(), Root: ws.Root.String(), Seq: ws.Seq, Synced: ws.Synced,
			Attempts: ws.Attempts, LastError: ws.LastError}
		if h, ok := known[ws.Writer]; ok && !h.EOL.IsZero() {
			eol := h.EOL
			out.EOL = &eol
		}
		if !ws.SyncedAt.IsZero() {
			at := ws.SyncedAt
			out.SyncedAt = &at
		}
		if !ws.NextRetry.IsZero() {
			at := ws.NextRetry
			out.NextRetry = &at
		}
		st.Writers = append(st.Writers, out)
	}
	for id, h := range known { // heads known but never handed to the syncer
		if id == w.hs.Self() {
			continue // our own head: the root and published lines show it
		}
		if !slices.ContainsFunc(st.Writers, func(x writerStatus) bool { return x.Writer == id.String() }) {
			eol := h.EOL
			st.Writers = append(st.Writers, writerStatus{Writer: id.String(), Root: h.Root.String(), Seq: h.Seq, EOL: &eol})
		}
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		w.g.log.Warn("cannot encode sync status", "err", err)
		return
	}
	tmp := w.path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		w.g.log.Warn("cannot write sync status", "err", err)
		return
	}
	if err := os.Rename(tmp, w.path); err != nil {
		w.g.log.Warn("cannot write sync status", "err", err)
	}
}

// readSyncStatus reads the status file of the database's state directory;
// nil if no sync ever ran there.
func readSyncStatus(dir string) (*syncStatus, error) {
	b, err := os.ReadFile(filepath.Join(dir, syncStatusFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st syncStatus
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", syncStatusFile, err)
	}
	return &st, nil
}
