package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/boxo/keystore"
	"github.com/ipfs/kubo/config"
	cserial "github.com/ipfs/kubo/config/serialize"
	"github.com/libp2p/go-libp2p/core/peer"
)

func specs(t *testing.T, ss ...string) []Spec {
	t.Helper()
	var out []Spec
	for _, s := range ss {
		sp, err := ParseSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sp)
	}
	return out
}

func newConfig(t *testing.T, members ...string) Config {
	root := t.TempDir()
	return Config{
		Dir: filepath.Join(root, "cluster"), Repos: filepath.Join(root, "kubo"),
		Database: "todo", Announce: 3 * time.Second, Members: specs(t, members...),
	}
}

func readSync(t *testing.T, cfg Config, name string) SyncConfig {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cfg.Dir, SyncConfigFile(name)))
	if err != nil {
		t.Fatal(err)
	}
	var sc SyncConfig
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

func readRepoConfig(t *testing.T, cfg Config, name string) *config.Config {
	t.Helper()
	c, err := cserial.Load(filepath.Join(cfg.Repos, name, "config"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestInitSetsUpEveryRole(t *testing.T) {
	cfg := newConfig(t, "a", "b", "r:replica", "d:reader", "x:outsider")
	man, err := Init(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(man.Members) != 5 || man.Database != "todo" || man.Announce != "3s" {
		t.Fatalf("manifest: %+v", man)
	}
	writers := man.Writers()
	a, _ := man.Member("a")
	b, _ := man.Member("b")
	r, _ := man.Member("r")
	d, _ := man.Member("d")
	x, _ := man.Member("x")
	if want := []string{a.Writer, b.Writer, r.Writer}; !slices.Equal(writers, want) {
		t.Fatalf("writers %v, want a, b and r: %v", writers, want)
	}
	if x.Writer != "" || d.Writer == "" {
		t.Fatalf("outsider has writer %q, reader %q", x.Writer, d.Writer)
	}
	key, err := os.ReadFile(filepath.Join(cfg.Dir, SwarmKeyFile))
	if err != nil || checkSwarmKey(key) != nil {
		t.Fatalf("swarm key %q: %v", key, err)
	}
	nodes := map[string]bool{}
	for _, m := range man.Members {
		if nodes[m.Node] || (m.Writer != "" && nodes[m.Writer]) {
			t.Fatalf("identity used twice: %+v", m)
		}
		nodes[m.Node], nodes[m.Writer] = true, true
		if m.Addr != "/dns4/peer-"+m.Name+"/tcp/4001" {
			t.Errorf("%s's address %s", m.Name, m.Addr)
		}

		repo := filepath.Join(cfg.Repos, m.Name)
		if rk, err := os.ReadFile(filepath.Join(repo, SwarmKeyFile)); err != nil || !bytes.Equal(rk, key) {
			t.Errorf("%s's repo swarm key %q: %v", m.Name, rk, err)
		}
		c := readRepoConfig(t, cfg, m.Name)
		if c.Identity.PeerID != m.Node {
			t.Errorf("%s's repo is node %s, manifest says %s", m.Name, c.Identity.PeerID, m.Node)
		}
		// Closed network: RPC on loopback, no bootstrap, no discovery, no
		// telemetry, TCP only (a private network cannot run the others).
		if !slices.Equal(c.Addresses.API, config.Strings{DefaultAPI}) || len(c.Addresses.Gateway) != 0 ||
			!slices.Equal(c.Addresses.Swarm, []string{"/ip4/0.0.0.0/tcp/4001"}) {
			t.Errorf("%s's addresses %+v", m.Name, c.Addresses)
		}
		if len(c.Bootstrap) != 0 || c.Discovery.MDNS.Enabled || c.AutoConf.Enabled.WithDefault(true) ||
			c.AutoTLS.Enabled.WithDefault(true) || len(c.Routing.DelegatedRouters) != 0 || len(c.DNS.Resolvers) != 0 {
			t.Errorf("%s dials outside the cluster: bootstrap %v, mdns %v", m.Name, c.Bootstrap, c.Discovery.MDNS.Enabled)
		}
		if tel := c.Plugins.Plugins["telemetry"].Config.(map[string]any)["Mode"]; tel != "off" {
			t.Errorf("%s's telemetry %v", m.Name, tel)
		}
		if c.Swarm.Transports.Network.QUIC.WithDefault(true) || c.Swarm.Transports.Network.WebTransport.WithDefault(true) ||
			c.Swarm.Transports.Network.Websocket.WithDefault(true) || c.Swarm.Transports.Network.WebRTCDirect.WithDefault(true) {
			t.Errorf("%s runs transports a private network refuses: %+v", m.Name, c.Swarm.Transports.Network)
		}
		if !c.Pubsub.Enabled.WithDefault(false) || !c.Ipns.UsePubsub.WithDefault(false) {
			t.Errorf("%s has no pubsub", m.Name)
		}
		// Peering: every trusted member but itself.
		var peering []string
		for _, p := range c.Peering.Peers {
			peering = append(peering, p.ID.String())
		}
		var want []string
		for _, o := range []Member{a, b, r} {
			if o.Name != m.Name {
				want = append(want, o.Node)
			}
		}
		if !slices.Equal(peering, want) {
			t.Errorf("%s peers with %v, want %v", m.Name, peering, want)
		}

		// The writer key is in the member's keystore only.
		ks, err := keystore.NewFSKeystore(filepath.Join(repo, "keystore"))
		if err != nil {
			t.Fatal(err)
		}
		k, err := ks.Get(KeyName("todo"))
		if m.Role == Outsider {
			if !errors.Is(err, keystore.ErrNoSuchKey) {
				t.Errorf("outsider has a writer key: %v", err)
			}
		} else if id, _ := peer.IDFromPrivateKey(k); err != nil || id.String() != m.Writer {
			t.Errorf("%s's keystore holds %s (%v), manifest says %s", m.Name, id, err, m.Writer)
		}

		// Syncing members get a config allowing exactly the writers.
		_, err = os.Stat(filepath.Join(cfg.Dir, SyncConfigFile(m.Name)))
		if m.Role == Outsider {
			if err == nil {
				t.Errorf("outsider has a sync config")
			}
			continue
		}
		sc := readSync(t, cfg, m.Name)
		mode := "shared"
		if m.Role == Replica {
			mode = "replicate"
		}
		if sc.Mode != mode || sc.DB != "todo" || sc.API != DefaultAPI || sc.Announce != "3s" || !slices.Equal(sc.Allow, writers) {
			t.Errorf("%s's sync config %+v", m.Name, sc)
		}
		if len(sc.Peers) != len(want) {
			t.Errorf("%s's sync peers %v, want the nodes %v", m.Name, sc.Peers, want)
		}
	}
}

func TestInitIsIdempotentAndAdditive(t *testing.T) {
	cfg := newConfig(t, "a", "b")
	first, err := Init(cfg)
	if err != nil {
		t.Fatal(err)
	}
	repoA := filepath.Join(cfg.Repos, "a", "config")
	before, _ := os.ReadFile(repoA)
	again, err := Init(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.Members, again.Members) {
		t.Fatalf("a second Init changed the members:\n%+v\n%+v", first.Members, again.Members)
	}
	if after, _ := os.ReadFile(repoA); !bytes.Equal(before, after) {
		t.Fatalf("a second Init rewrote a member's repo")
	}

	// A new writer joins: the others keep their keys and now allow it.
	cfg.Members = specs(t, "c")
	grown, err := Init(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(grown.Members) != 3 || !slices.Equal(grown.Members[:2], first.Members) {
		t.Fatalf("members after adding c: %+v", grown.Members)
	}
	c, _ := grown.Member("c")
	if sc := readSync(t, cfg, "a"); !slices.Contains(sc.Allow, c.Writer) || len(sc.Allow) != 3 {
		t.Fatalf("a's sync config after c joined: %+v", sc)
	}
}

func TestInitRefusesWhatWouldSplitTheCluster(t *testing.T) {
	cfg := newConfig(t, "a", "b")
	if _, err := Init(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Members = specs(t, "a:replica")
	if _, err := Init(cfg); !errors.Is(err, ErrBadRole) {
		t.Errorf("role change: %v, want ErrBadRole", err)
	}
	cfg.Members = specs(t, "a")
	cfg.Database = "other"
	if _, err := Init(cfg); err == nil {
		t.Errorf("Init for another database succeeded")
	}
	cfg.Database = "todo"

	// a's repo replaced by b's: another node than the manifest says.
	repoA, repoB := filepath.Join(cfg.Repos, "a"), filepath.Join(cfg.Repos, "b")
	if err := os.RemoveAll(repoA); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(repoA, os.DirFS(repoB)); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(cfg); !errors.Is(err, ErrRepoMismatch) {
		t.Errorf("swapped repo: %v, want ErrRepoMismatch", err)
	}

	for _, bad := range []string{"", "A", "a b", "a/..", "a:king", "averyveryveryveryverylongmembername"} {
		if _, err := ParseSpec(bad); !errors.Is(err, ErrBadName) && !errors.Is(err, ErrBadRole) {
			t.Errorf("ParseSpec(%q): %v", bad, err)
		}
	}
	cfg.Owner = "ipfs"
	if _, err := Init(cfg); err == nil {
		t.Errorf("owner %q accepted", cfg.Owner)
	}
}

// A member whose repo is gone (the host lost with its disk) stays in the
// cluster and is not re-created under a new identity.
func TestInitLeavesALostMemberGone(t *testing.T) {
	cfg := newConfig(t, "a", "b")
	man, err := Init(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(cfg.Repos, "a")); err != nil {
		t.Fatal(err)
	}
	again, err := Init(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(man.Members, again.Members) {
		t.Fatalf("members changed: %+v", again.Members)
	}
	if _, err := os.Stat(filepath.Join(cfg.Repos, "a")); err == nil {
		t.Fatalf("the lost member's repo was re-created")
	}
}

// An Init that died after writing repos but before the manifest: the next
// one adopts the repos with their identities and writer keys.
func TestInitAdoptsReposWrittenBeforeACrash(t *testing.T) {
	cfg := newConfig(t, "a", "b")
	man, err := Init(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cfg.Dir, ManifestFile)); err != nil {
		t.Fatal(err)
	}
	again, err := Init(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(man.Members, again.Members) {
		t.Fatalf("adopted members differ:\n%+v\n%+v", man.Members, again.Members)
	}
}

func TestInitOwner(t *testing.T) {
	cfg := newConfig(t, "a")
	cfg.Owner = "1000:100"
	if os.Getuid() != 0 {
		// Only root can give files away; the container that runs Init is.
		cfg.Owner = ""
	}
	if _, err := Init(cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Owner == "" {
		return
	}
	err := filepath.Walk(filepath.Join(cfg.Repos, "a"), func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if uid, gid, _ := ownerOf(fi); uid != 1000 || gid != 100 {
			t.Errorf("%s is owned by %d:%d", path, uid, gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func ownerOf(fi os.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return -1, -1, false
	}
	return int(st.Uid), int(st.Gid), true
}
