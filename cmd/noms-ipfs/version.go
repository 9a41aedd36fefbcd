package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of noms-ipfs and of the Kubo it embeds",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			v := map[string]string{"noms-ipfs": "(devel)", "kubo": "unknown", "go": "unknown"}
			if bi, ok := debug.ReadBuildInfo(); ok {
				v["go"] = bi.GoVersion
				if bi.Main.Version != "" {
					v["noms-ipfs"] = bi.Main.Version
				}
				for _, d := range bi.Deps {
					if d.Path == "github.com/ipfs/kubo" {
						v["kubo"] = d.Version
					}
				}
			}
			if g.JSON {
				return g.printJSON(v)
			}
			_, err := fmt.Fprintf(g.out, "noms-ipfs %s (embedded Kubo %s, %s)\n", v["noms-ipfs"], v["kubo"], v["go"])
			return err
		},
	}
}
