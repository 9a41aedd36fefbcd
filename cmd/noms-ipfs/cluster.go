package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/noms-ipfs/noms-ipfs/cluster"
)

func newClusterCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Set up a private cluster of Kubo nodes and syncs (what docker-compose.yml runs first)",
	}
	cmd.AddCommand(newClusterInitCommand(g), newClusterShowCommand(g))
	return cmd
}

func newClusterInitCommand(g *globalOptions) *cobra.Command {
	var (
		dir, repos, addr, owner string
		members                 []string
		announce                time.Duration
	)
	cmd := &cobra.Command{
		Use:   "init --dir <cluster dir> --repos <dir> --member <name[:role]>...",
		Short: "Create the swarm key, each member's Kubo repo and writer key, and each member's sync config",
		Long: `Init sets up a private cluster that syncs one database (--db):

  <dir>/swarm.key         the private network's key, copied into every repo
  <dir>/cluster.json      the members: node IDs, swarm addresses, writer keys
  <dir>/sync-<name>.json  each member's config for noms-ipfs sync --config
  <repos>/<name>/         each member's Kubo repo (IPFS_PATH), with its
                          writer key in the keystore

Roles: writer (the default; syncs in shared mode), replica (syncs in
replicate mode: pins everything), reader (syncs, but nobody accepts its
heads), outsider (a Kubo node in the swarm, nothing else). Every sync
allows exactly the writers and replicas. Each repo listens on its swarm
port on its private network, serves RPC on 127.0.0.1:5001 only, keeps
connected to the writers and replicas (Kubo's Peering), has no bootstrap
peers and sends no telemetry.

Run it again with more members to add them; members already set up keep
their identity and keys. A member whose repo is gone is not re-created.`,
		Example: `  noms-ipfs cluster init --db todo --dir /cluster --repos /kubo \
    --member a --member b --member r:replica`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" || repos == "" || len(members) == 0 {
				return usageError{fmt.Errorf("cluster init needs --dir, --repos and at least one --member")}
			}
			cfg := cluster.Config{Dir: dir, Repos: repos, Database: g.DB, AddrTemplate: addr, Announce: announce, Owner: owner}
			for _, m := range members {
				s, err := cluster.ParseSpec(m)
				if err != nil {
					return usageError{err}
				}
				cfg.Members = append(cfg.Members, s)
			}
			man, err := cluster.Init(cfg)
			if err != nil {
				return err
			}
			return printManifest(g, man)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "cluster directory: manifest, swarm key, sync configs")
	f.StringVar(&repos, "repos", "", "directory holding each member's Kubo repo as <repos>/<name>")
	f.StringArrayVar(&members, "member", nil, "a member, as name or name:role (writer, replica, reader, outsider); repeat")
	f.StringVar(&addr, "addr", cluster.DefaultAddrTemplate, "a member's swarm address, {name} standing for its name")
	f.DurationVar(&announce, "announce", 0, "how often each sync re-announces its head (default: sync's default)")
	f.StringVar(&owner, "owner", "", "uid:gid to own the repos created (the official ipfs/kubo image runs as 1000:100)")
	return cmd
}

func newClusterShowCommand(g *globalOptions) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "show --dir <cluster dir>",
		Short: "Print the cluster's members, node IDs and writer keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return usageError{fmt.Errorf("cluster show needs --dir")}
			}
			man, err := cluster.ReadManifest(dir)
			if err != nil {
				return err
			}
			return printManifest(g, man)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "cluster directory")
	return cmd
}

func printManifest(g *globalOptions, man *cluster.Manifest) error {
	if g.JSON {
		return g.printJSON(man)
	}
	fmt.Fprintf(g.out, "database %q, %d members\n", man.Database, len(man.Members))
	for _, m := range man.Members {
		writer := m.Writer
		if writer == "" {
			writer = "-"
		}
		fmt.Fprintf(g.out, "%-10s %-8s node %s  writer %s  %s\n", m.Name, m.Role, m.Node, writer, m.Addr)
	}
	return nil
}
