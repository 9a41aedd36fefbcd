package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/headstore"
	"github.com/noms-ipfs/noms-ipfs/ipfsstore"
)

func newStatusCommand(g *globalOptions) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the Kubo node, the database, its root and datasets, this writer's key and the state of sync",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if check {
				return runSyncCheck(cmd.Context(), g)
			}
			return runStatus(cmd.Context(), g)
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only check that a sync of this database runs on this node: exit 0 if it reported in the last few seconds, 1 if not (a health check; opens no store)")
	return cmd
}

// runSyncCheck is the health check of a running sync: its Kubo answers and
// it rewrote its status file lately.
func runSyncCheck(ctx context.Context, g *globalOptions) error {
	n, err := g.openNode(ctx)
	if err != nil {
		return err
	}
	defer n.Close()
	id, err := n.PeerID(ctx)
	if err != nil {
		return err
	}
	st, err := readSyncStatus(filepath.Join(g.Home, "db", g.DB, id.String()))
	if err != nil {
		return err
	}
	if st == nil {
		return fmt.Errorf("no sync of database %q ever ran on node %s", g.DB, id)
	}
	if !syncRunning(st) {
		return fmt.Errorf("sync of database %q on node %s is not running (last report %v ago)", g.DB, id, time.Since(st.UpdatedAt).Round(time.Second))
	}
	fmt.Fprintf(g.out, "sync of database %q running (pid %d, reported %v ago)\n", g.DB, st.PID, time.Since(st.UpdatedAt).Round(time.Millisecond))
	return nil
}

// syncRunning: the sync said it runs and reported within three periods.
func syncRunning(st *syncStatus) bool {
	return st.Running && time.Since(st.UpdatedAt) < 3*syncStatusEvery+time.Second
}

type statusResult struct {
	Node     string `json:"node"`
	Embedded bool   `json:"embedded"`
	PeerID   string `json:"peer_id"`
	Database string `json:"database"`
	Root     string `json:"root"`
	RootCID  string `json:"root_cid,omitempty"`
	// Keep is the pinned keep root that holds every chunk the database
	// wrote from Kubo's garbage collector, and how many it names.
	Keep       string       `json:"keep,omitempty"`
	KeptChunks uint64       `json:"kept_chunks,omitempty"`
	Stats      chunks.Stats `json:"stats"`
	// Datasets are the database's datasets and their heads.
	Datasets []datasetHead `json:"datasets,omitempty"`
	// DatasetsError says why the root has no datasets to list.
	DatasetsError string `json:"datasets_error,omitempty"`
	// KeyName and Key are this writer's key in Kubo's keystore (Key empty
	// until `noms-ipfs sync` first ran and created it).
	KeyName string `json:"key_name"`
	Key     string `json:"key,omitempty"`
	// Sync is what the last or running `noms-ipfs sync` of this database
	// on this node reported; absent if it never ran.
	Sync *syncStatus `json:"sync,omitempty"`
}

type datasetHead struct {
	Name string `json:"name"`
	Head string `json:"head"`
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
	keep, err := s.store.Keep(ctx)
	if err != nil {
		return err
	}
	if keep.Root.Defined() {
		res.Keep, res.KeptChunks = keep.Root.String(), keep.Chunks
	}
	// A root set by `put --set-root` need not be a database root: then
	// there are no datasets to show, which is no reason to fail.
	if sets, err := db.New(s.store).Datasets(ctx); err == nil {
		for _, ds := range sets {
			res.Datasets = append(res.Datasets, datasetHead{Name: ds.Name, Head: ds.Head.String()})
		}
	} else if errors.Is(err, db.ErrCorrupt) {
		res.DatasetsError = err.Error()
	} else {
		return err
	}
	dir := filepath.Join(g.Home, "db", g.DB, id.String())
	if res.Sync, err = readSyncStatus(dir); err != nil {
		return err
	}
	res.KeyName = headstore.DefaultKeyPrefix + g.DB
	if res.Sync != nil && res.Sync.KeyName != "" {
		res.KeyName = res.Sync.KeyName
	}
	if keys, err := s.node.API().Key().List(ctx); err == nil {
		for _, k := range keys {
			if k.Name() == res.KeyName {
				res.Key = k.ID().String()
			}
		}
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
	if res.Keep != "" {
		fmt.Fprintf(g.out, "kept:      %d chunks, pinned under %s\n", res.KeptChunks, res.Keep)
	}
	for _, ds := range res.Datasets {
		fmt.Fprintf(g.out, "dataset:   %s  %s\n", ds.Name, ds.Head)
	}
	if res.DatasetsError != "" {
		fmt.Fprintf(g.out, "datasets:  none (%s)\n", res.DatasetsError)
	}
	if res.Key != "" {
		fmt.Fprintf(g.out, "writer key: %s  (Kubo key %q)\n", res.Key, res.KeyName)
	} else {
		fmt.Fprintf(g.out, "writer key: none yet (`noms-ipfs sync` creates Kubo key %q)\n", res.KeyName)
	}
	printSyncStatus(g.out, res.Sync)
	return nil
}

// printSyncStatus prints what the last or running sync reported.
func printSyncStatus(w io.Writer, st *syncStatus) {
	if st == nil {
		fmt.Fprintf(w, "sync:      never ran for this database on this node\n")
		return
	}
	age := time.Since(st.UpdatedAt).Round(time.Second)
	state := fmt.Sprintf("stopped (last update %v ago)", age)
	if syncRunning(st) {
		state = fmt.Sprintf("running (pid %d, updated %v ago)", st.PID, age)
	} else if st.Running {
		state = fmt.Sprintf("not running (pid %d stopped reporting %v ago)", st.PID, age)
	}
	datasets := "all"
	if len(st.Datasets) > 0 {
		datasets = strings.Join(st.Datasets, ", ")
	}
	trust := fmt.Sprintf("%d allowed writers", len(st.Allowed))
	if st.Open {
		trust = "open"
	}
	fmt.Fprintf(w, "sync:      %s; mode %s, datasets %s, policy %s, %s\n", state, st.Mode, datasets, st.Policy, trust)
	if st.Published != "" {
		fmt.Fprintf(w, "published: %s\n", st.Published)
	}
	if len(st.Writers) == 0 {
		fmt.Fprintf(w, "writers:   none heard from yet\n")
	}
	for _, ws := range st.Writers {
		how := "synced"
		switch {
		case !ws.Synced && ws.Attempts > 0:
			how = fmt.Sprintf("failing (%d attempts): %s", ws.Attempts, ws.LastError)
		case !ws.Synced:
			how = "pending"
		case ws.LastError != "":
			how = "not merged: " + ws.LastError
		}
		fmt.Fprintf(w, "writer:    %s  seq %d  root %s  %s\n", ws.Writer, ws.Seq, ws.Root, how)
	}
	h, s := st.Heads, st.Sync
	fmt.Fprintf(w, "announcements: %d received, %d resolved, %d accepted", h.Received, h.Resolved, h.Accepted)
	if len(h.Dropped) > 0 {
		reasons := make([]string, 0, len(h.Dropped))
		for r, n := range h.Dropped {
			reasons = append(reasons, fmt.Sprintf("%s %d", r, n))
		}
		slices.Sort(reasons)
		fmt.Fprintf(w, ", dropped: %s", strings.Join(reasons, ", "))
	}
	fmt.Fprintf(w, "\n")
	fmt.Fprintf(w, "sync counters: %d fast-forwards, %d merges, %d up to date, %d conflicts, %d failed attempts, %d publishes, %d pins, %s pinned\n",
		s.FastForwards, s.Merges, s.UpToDate, s.Conflicts, s.Failures, s.Published, s.Pins, byteSize(s.BytesPinned))
}

// jsonRaw embeds already-encoded JSON in printJSON output.
type jsonRaw []byte

func (j jsonRaw) MarshalJSON() ([]byte, error) { return json.RawMessage(j), nil }
