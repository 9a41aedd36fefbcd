package cluster

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ipfs/boxo/keystore"
	"github.com/ipfs/kubo/config"
	cserial "github.com/ipfs/kubo/config/serialize"
	"github.com/ipfs/kubo/core/coreiface/options"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/noms-ipfs/noms-ipfs/headstore"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// newMember is a member about to be written: its manifest entry and the
// secrets that go only into its own repo.
type newMember struct {
	Member
	conf   *config.Config // nil: a repo to create from identity
	id     config.Identity
	writer ic.PrivKey // nil for outsiders, or when the repo already has it
	exists bool       // the repo was initialised before this cluster knew it
}

// KeyName is the Kubo keystore name of a member's writer key: the name
// `noms-ipfs sync` uses by default, so the sync needs no --key.
func KeyName(database string) string { return headstore.DefaultKeyPrefix + database }

// prepare makes a member's identities. A repo already initialised at repo
// is adopted with its identity and writer key (a repo written by an Init
// that died before it wrote the manifest, or a node the operator brings).
func prepare(s Spec, repo, addr, database string) (newMember, error) {
	nm := newMember{Member: Member{Name: s.Name, Role: s.Role, Addr: addr}}
	if _, err := os.Stat(filepath.Join(repo, "config")); err == nil {
		conf, err := cserial.Load(filepath.Join(repo, "config"))
		if err != nil {
			return nm, fmt.Errorf("cannot read Kubo config of member %s: %w", s.Name, err)
		}
		nm.conf, nm.exists, nm.Node = conf, true, conf.Identity.PeerID
	} else {
		id, err := config.CreateIdentity(io.Discard, []options.KeyGenerateOption{options.Key.Type(options.Ed25519Key)})
		if err != nil {
			return nm, fmt.Errorf("cannot create identity of member %s: %w", s.Name, err)
		}
		nm.id, nm.Node = id, id.PeerID
	}
	if !s.Role.syncs() {
		return nm, nil
	}
	if nm.exists {
		ks, err := keystore.NewFSKeystore(filepath.Join(repo, "keystore"))
		if err != nil {
			return nm, err
		}
		switch k, err := ks.Get(KeyName(database)); {
		case err == nil:
			id, err := peer.IDFromPrivateKey(k)
			if err != nil {
				return nm, err
			}
			nm.Writer = id.String()
			return nm, nil
		case !errors.Is(err, keystore.ErrNoSuchKey):
			return nm, fmt.Errorf("cannot read writer key of member %s: %w", s.Name, err)
		}
	}
	k, _, err := ic.GenerateEd25519Key(nil)
	if err != nil {
		return nm, err
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		return nm, err
	}
	nm.writer, nm.Writer = k, id.String()
	return nm, nil
}

// writeRepo creates (or, for an adopted repo, rewrites) the member's Kubo
// repo: cluster settings, swarm key, writer key, owner.
func writeRepo(repo string, nm newMember, man *Manifest, swarmKey []byte, owner string) error {
	conf := nm.conf
	if conf == nil {
		var err error
		if conf, err = config.InitWithIdentity(nm.id); err != nil {
			return fmt.Errorf("cannot create Kubo config: %w", err)
		}
	}
	if err := applySettings(conf, nm.Member, man); err != nil {
		return err
	}
	if nm.exists {
		if err := cserial.WriteConfigFile(filepath.Join(repo, "config"), conf); err != nil {
			return fmt.Errorf("cannot write Kubo config: %w", err)
		}
	} else if err := ipfsnode.InitRepo(repo, conf); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(repo, SwarmKeyFile), swarmKey, 0o600); err != nil {
		return err
	}
	if nm.writer != nil {
		ks, err := keystore.NewFSKeystore(filepath.Join(repo, "keystore"))
		if err != nil {
			return err
		}
		if err := ks.Put(KeyName(man.Database), nm.writer); err != nil {
			return fmt.Errorf("cannot store writer key: %w", err)
		}
	}
	if owner != "" {
		return chownTree(repo, owner)
	}
	return nil
}

// applySettings makes conf a member's: it listens on its swarm port on
// every interface of its (private) network, serves RPC on the given
// loopback address only, dials nobody but the cluster's trusted members,
// and sends no telemetry.
func applySettings(conf *config.Config, m Member, man *Manifest) error {
	addr, err := ma.NewMultiaddr(m.Addr)
	if err != nil {
		return err
	}
	port, err := addr.ValueForProtocol(ma.P_TCP)
	if err != nil {
		return fmt.Errorf("swarm address %s has no TCP port: %w", m.Addr, err)
	}
	if err := config.Profiles["test"].Transform(conf); err != nil {
		return err
	}
	conf.Addresses.Swarm = []string{"/ip4/0.0.0.0/tcp/" + port}
	conf.Addresses.API = config.Strings{DefaultAPI}
	conf.Addresses.Gateway = config.Strings{}
	conf.Routing.Type = config.NewOptionalString("dht")
	// A private network speaks TCP only: Kubo refuses to start with QUIC,
	// WebTransport or WebRTC on, and cannot share the TCP port with
	// websockets.
	conf.Swarm.Transports.Network.QUIC = config.False
	conf.Swarm.Transports.Network.WebTransport = config.False
	conf.Swarm.Transports.Network.WebRTCDirect = config.False
	conf.Swarm.Transports.Network.Websocket = config.False
	conf.Swarm.RelayClient.Enabled = config.False
	conf.Swarm.RelayService.Enabled = config.False
	if conf.Plugins.Plugins == nil {
		conf.Plugins.Plugins = map[string]config.Plugin{}
	}
	conf.Plugins.Plugins["telemetry"] = config.Plugin{Config: map[string]any{"Mode": "off"}}
	conf.Pubsub.Enabled = config.True
	conf.Ipns.UsePubsub = config.True
	conf.Peering.Peers = nil
	for _, x := range man.Members {
		if x.Name == m.Name || !x.Role.trusted() {
			continue
		}
		ai, err := peer.AddrInfoFromString(x.P2PAddr())
		if err != nil {
			return fmt.Errorf("member %s: %w", x.Name, err)
		}
		conf.Peering.Peers = append(conf.Peering.Peers, *ai)
	}
	return nil
}

// checkRepo makes sure a known member's repo, if present, is the node the
// manifest names.
func checkRepo(repo string, m Member) error {
	conf, err := cserial.Load(filepath.Join(repo, "config"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, cserial.ErrNotInitialized) {
		return nil // gone for good; see Init
	}
	if err != nil {
		return fmt.Errorf("cannot read Kubo config of member %s: %w", m.Name, err)
	}
	if conf.Identity.PeerID != m.Node {
		return fmt.Errorf("%w: member %s's repo %s is node %s, the manifest says %s", ErrRepoMismatch, m.Name, repo, conf.Identity.PeerID, m.Node)
	}
	return nil
}

// chownTree gives every file under dir to owner ("uid:gid").
func chownTree(dir, owner string) error {
	uid, gid, err := parseOwner(owner)
	if err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("cannot give %s to %s: %w", path, owner, err)
		}
		return nil
	})
}

func parseOwner(owner string) (uid, gid int, err error) {
	u, g, ok := strings.Cut(owner, ":")
	uid, err1 := strconv.Atoi(u)
	gid, err2 := strconv.Atoi(g)
	if !ok || err1 != nil || err2 != nil || uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("owner %q is not uid:gid", owner)
	}
	return uid, gid, nil
}
