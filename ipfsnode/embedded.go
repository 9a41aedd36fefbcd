package ipfsnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ipfs/kubo/config"
	"github.com/ipfs/kubo/core"
	"github.com/ipfs/kubo/core/coreapi"
	"github.com/ipfs/kubo/core/coreiface/options"
	"github.com/ipfs/kubo/plugin/loader"
	"github.com/ipfs/kubo/repo/fsrepo"
)

// EmbeddedConfig says how to run a Kubo node inside this process.
type EmbeddedConfig struct {
	// Repo is the node's repo directory, created and initialised on first
	// use. A daemon and an embedded node cannot share one repo.
	Repo string
	// Online starts libp2p (swarm, bitswap, pubsub) so the node can talk to
	// other peers; offline it serves only its local blockstore.
	Online bool
	// SwarmAddrs are the listen addresses for a new repo; default loopback on
	// a random port. The embedded node never dials the public network: no
	// bootstrap peers, MDNS, AutoTLS, AutoConf or telemetry.
	SwarmAddrs []string
}

var (
	pluginsOnce sync.Once
	pluginsErr  error
)

// loadPlugins registers Kubo's built-in plugins (datastores, codecs). Kubo
// allows this once per process, whatever the number of nodes.
func loadPlugins() error {
	pluginsOnce.Do(func() {
		l, err := loader.NewPluginLoader("")
		if err == nil {
			err = l.Initialize()
		}
		if err == nil {
			err = l.Inject()
		}
		if err != nil {
			pluginsErr = fmt.Errorf("cannot load Kubo plugins: %w", err)
		}
	})
	return pluginsErr
}

// StartEmbedded opens (creating if needed) the repo at cfg.Repo and starts a
// Kubo node on it in this process. The node runs until Close: ctx carries
// values only, not its end (Kubo stops a node when the context it was built
// with ends, which would kill a node started under a request's or a
// signal's context while it still flushes and publishes).
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Node, error) {
	if cfg.Repo == "" {
		return nil, errors.New("cannot start embedded Kubo: no repo directory given")
	}
	if err := loadPlugins(); err != nil {
		return nil, err
	}
	if !fsrepo.IsInitialized(cfg.Repo) {
		if err := initRepo(cfg); err != nil {
			return nil, err
		}
	}
	r, err := fsrepo.Open(cfg.Repo)
	if err != nil {
		return nil, fmt.Errorf("cannot open Kubo repo %s: %w", cfg.Repo, err)
	}
	if err := enforceClosedNetwork(r); err != nil {
		_ = r.Close()
		return nil, err
	}
	node, err := core.NewNode(context.WithoutCancel(ctx), &core.BuildCfg{
		Online:    cfg.Online,
		Permanent: true,
		Repo:      r,
		ExtraOpts: map[string]bool{"pubsub": cfg.Online, "ipnsps": cfg.Online},
	})
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("cannot start embedded Kubo on %s: %w", cfg.Repo, err)
	}
	api, err := coreapi.NewCoreAPI(node)
	if err != nil {
		_ = node.Close()
		return nil, fmt.Errorf("cannot create CoreAPI for embedded Kubo: %w", err)
	}
	off, err := api.WithOptions(options.Api.Offline(true))
	if err != nil {
		_ = node.Close()
		return nil, fmt.Errorf("cannot create offline CoreAPI for embedded Kubo: %w", err)
	}
	return &Node{api: api, offline: off, core: node, addr: cfg.Repo, close: node.Close}, nil
}

// initRepo creates a repo with an ed25519 identity (config.Init would make
// RSA) and the loopback-only settings of Kubo's test profile.
func initRepo(cfg EmbeddedConfig) error {
	if err := os.MkdirAll(cfg.Repo, 0o700); err != nil {
		return fmt.Errorf("cannot create Kubo repo directory: %w", err)
	}
	id, err := config.CreateIdentity(io.Discard, []options.KeyGenerateOption{options.Key.Type(options.Ed25519Key)})
	if err != nil {
		return fmt.Errorf("cannot create Kubo identity: %w", err)
	}
	c, err := config.InitWithIdentity(id)
	if err != nil {
		return fmt.Errorf("cannot create Kubo config: %w", err)
	}
	if err := config.Profiles["test"].Transform(c); err != nil {
		return fmt.Errorf("cannot apply Kubo test profile: %w", err)
	}
	// No HTTP servers: this process is the only client.
	c.Addresses.API = nil
	c.Addresses.Gateway = nil
	if len(cfg.SwarmAddrs) > 0 {
		c.Addresses.Swarm = cfg.SwarmAddrs
	}
	c.Pubsub.Enabled = config.True
	c.Ipns.UsePubsub = config.True
	if err := fsrepo.Init(cfg.Repo, c); err != nil {
		return fmt.Errorf("cannot initialise Kubo repo %s: %w", cfg.Repo, err)
	}
	return nil
}

// InitRepo creates a Kubo repo at dir with the given config, as `ipfs init`
// does; an initialised repo is left alone. The caller owns every setting:
// cluster set-up writes repos that daemons elsewhere will run.
func InitRepo(dir string, c *config.Config) error {
	if err := loadPlugins(); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create Kubo repo directory: %w", err)
	}
	if err := fsrepo.Init(dir, c); err != nil {
		return fmt.Errorf("cannot initialise Kubo repo %s: %w", dir, err)
	}
	return nil
}

// enforceClosedNetwork makes sure an existing repo cannot reach outside
// loopback or send telemetry, whatever its config says.
func enforceClosedNetwork(r interface {
	SetConfigKey(string, any) error
}) error {
	for key, v := range map[string]any{
		"Bootstrap":                             []string{},
		"Discovery.MDNS.Enabled":                false,
		"AutoTLS.Enabled":                       false,
		"AutoConf.Enabled":                      false,
		"Plugins.Plugins.telemetry.Config.Mode": "off",
	} {
		if err := r.SetConfigKey(key, v); err != nil {
			return fmt.Errorf("cannot set Kubo config %s: %w", key, err)
		}
	}
	return nil
}
