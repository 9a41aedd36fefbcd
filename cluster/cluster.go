// Package cluster sets up a private noms-ipfs cluster: one swarm key shared
// by every member, a Kubo repo per member that dials nothing but the other
// members, a writer key per syncing member, and a `noms-ipfs sync` config
// per syncing member that allows exactly the cluster's writers.
//
// docker-compose.yml runs Init once (`noms-ipfs cluster init`) before any
// daemon starts: container images built FROM scratch have no shell to run
// set-up steps, and the keys must be known before the first sync starts.
// Init is idempotent and additive: members already set up keep their
// identity and keys, and new members join.
package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// Role is what a member does in the cluster.
type Role string

const (
	// Writer runs `noms-ipfs sync` in shared mode; its heads are accepted
	// by every member.
	Writer Role = "writer"
	// Replica runs `noms-ipfs sync` in replicate mode: it pins every
	// writer's data, so the data outlives its writers. It is a writer too
	// (its merges are commits).
	Replica Role = "replica"
	// Reader runs `noms-ipfs sync` and follows the writers, but nobody
	// accepts its heads.
	Reader Role = "reader"
	// Outsider is a Kubo node in the private swarm without a writer key or
	// sync config: what a compromised or foreign host looks like.
	Outsider Role = "outsider"
)

// ParseRole accepts the names above; "" is Writer.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case "":
		return Writer, nil
	case Writer, Replica, Reader, Outsider:
		return r, nil
	}
	return "", fmt.Errorf("%w %q (want writer, replica, reader or outsider)", ErrBadRole, s)
}

// syncs reports whether the member runs `noms-ipfs sync`.
func (r Role) syncs() bool { return r != Outsider }

// trusted reports whether the other members accept the member's heads.
func (r Role) trusted() bool { return r == Writer || r == Replica }

var (
	// ErrBadRole: a member's role is unknown, or differs from the role it
	// was set up with.
	ErrBadRole = errors.New("bad cluster role")
	// ErrBadName: member names must be short and plain: they become file
	// and host names.
	ErrBadName = errors.New("bad member name")
	// ErrRepoMismatch: a member's Kubo repo has another identity than the
	// manifest records.
	ErrRepoMismatch = errors.New("kubo repo does not belong to this cluster")
)

// Member is one peer of the cluster as the manifest records it.
type Member struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Node is the Kubo node's peer ID; Addr its swarm address without the
	// /p2p part.
	Node string `json:"node"`
	Addr string `json:"addr"`
	// Writer is the peer ID of the member's writer key (empty for
	// outsiders).
	Writer string `json:"writer,omitempty"`
}

// P2PAddr is the member's swarm address with its peer ID, as `--peer` and
// Kubo's Peering take it.
func (m Member) P2PAddr() string { return m.Addr + "/p2p/" + m.Node }

// Manifest is the cluster's shared description, ManifestFile in the
// cluster directory.
type Manifest struct {
	Version  int      `json:"version"`
	Database string   `json:"database"`
	Announce string   `json:"announce,omitempty"`
	Members  []Member `json:"members"`
}

// Member returns the member called name.
func (m *Manifest) Member(name string) (Member, bool) {
	i := slices.IndexFunc(m.Members, func(x Member) bool { return x.Name == name })
	if i < 0 {
		return Member{}, false
	}
	return m.Members[i], true
}

// Writers are the writer keys every syncing member accepts.
func (m *Manifest) Writers() []string {
	var out []string
	for _, x := range m.Members {
		if x.Role.trusted() {
			out = append(out, x.Writer)
		}
	}
	return out
}

// Files in the cluster directory.
const (
	ManifestFile = "cluster.json"
	SwarmKeyFile = "swarm.key"
)

// SyncConfigFile names a member's `noms-ipfs sync --config` file in the
// cluster directory.
func SyncConfigFile(name string) string { return "sync-" + name + ".json" }

// Spec asks for one member.
type Spec struct {
	Name string
	Role Role
}

// ParseSpec reads "name" or "name:role".
func ParseSpec(s string) (Spec, error) {
	name, role, _ := strings.Cut(s, ":")
	r, err := ParseRole(role)
	if err != nil {
		return Spec{}, err
	}
	if err := checkName(name); err != nil {
		return Spec{}, err
	}
	return Spec{Name: name, Role: r}, nil
}

func checkName(name string) error {
	if name == "" || len(name) > 32 {
		return fmt.Errorf("%w %q: 1 to 32 characters", ErrBadName, name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("%w %q: use a-z, 0-9 and '-'", ErrBadName, name)
		}
	}
	return nil
}

// Config says what Init sets up.
type Config struct {
	// Dir is the cluster directory: manifest, swarm key, sync configs.
	// Every member reads it; it holds no private key.
	Dir string
	// Repos holds each member's Kubo repo at Repos/<name>: the volume the
	// member's Kubo container mounts as its IPFS_PATH.
	Repos string
	// Members to set up; members set up before need not be repeated.
	Members []Spec
	// Database is the database the members sync. Fixed at the first Init.
	Database string
	// AddrTemplate is a member's swarm address with "{name}" for its name,
	// default "/dns4/peer-{name}/tcp/4001" (docker-compose.yml's host
	// names).
	AddrTemplate string
	// Announce is how often syncs re-announce their head ("" for the
	// sync default). Fixed at the first Init.
	Announce time.Duration
	// Owner, if set ("uid:gid"), becomes the owner of every repo created:
	// the official ipfs/kubo image runs its daemon as uid 1000.
	Owner string
	// API is the Kubo RPC address each member's sync uses, default
	// /ip4/127.0.0.1/tcp/5001: in docker-compose.yml a member's Kubo and
	// sync share one network namespace, so the RPC API never leaves it.
	API string
}

// DefaultAddrTemplate is docker-compose.yml's naming.
const DefaultAddrTemplate = "/dns4/peer-{name}/tcp/4001"

// DefaultAPI is where a member's sync finds its Kubo.
const DefaultAPI = "/ip4/127.0.0.1/tcp/5001"

// Init sets up the members of cfg that are not set up yet, and (re)writes
// the manifest and every syncing member's sync config. Members already in
// the manifest keep their identity and keys; their repo, if present, must
// carry the recorded identity. A member whose repo has gone (a host lost
// with its disk) stays in the manifest and is not re-created: it would come
// back as a different node with a different key.
func Init(cfg Config) (*Manifest, error) {
	if cfg.Dir == "" || cfg.Repos == "" {
		return nil, errors.New("cluster: Dir and Repos are required")
	}
	if cfg.AddrTemplate == "" {
		cfg.AddrTemplate = DefaultAddrTemplate
	}
	if cfg.API == "" {
		cfg.API = DefaultAPI
	}
	if cfg.Database == "" {
		cfg.Database = "default"
	}
	if cfg.Owner != "" {
		if _, _, err := parseOwner(cfg.Owner); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create cluster directory: %w", err)
	}
	man, err := ReadManifest(cfg.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		man = &Manifest{Version: 1, Database: cfg.Database}
		if cfg.Announce > 0 {
			man.Announce = cfg.Announce.String()
		}
	case err != nil:
		return nil, err
	case man.Database != cfg.Database:
		return nil, fmt.Errorf("cluster in %s syncs database %q, not %q", cfg.Dir, man.Database, cfg.Database)
	}
	swarmKey, err := ensureSwarmKey(filepath.Join(cfg.Dir, SwarmKeyFile))
	if err != nil {
		return nil, err
	}

	// Identities first: every new repo's Peering names the whole cluster.
	var fresh []newMember
	for _, s := range cfg.Members {
		if err := checkName(s.Name); err != nil {
			return nil, err
		}
		repo := filepath.Join(cfg.Repos, s.Name)
		if known, ok := man.Member(s.Name); ok {
			if known.Role != s.Role {
				return nil, fmt.Errorf("%w: member %s was set up as %s, not %s", ErrBadRole, s.Name, known.Role, s.Role)
			}
			if err := checkRepo(repo, known); err != nil {
				return nil, err
			}
			continue
		}
		if slices.ContainsFunc(fresh, func(n newMember) bool { return n.Name == s.Name }) {
			return nil, fmt.Errorf("%w %q: named twice", ErrBadName, s.Name)
		}
		addr := strings.ReplaceAll(cfg.AddrTemplate, "{name}", s.Name)
		if _, err := ma.NewMultiaddr(addr); err != nil {
			return nil, fmt.Errorf("swarm address %q of member %s: %w", addr, s.Name, err)
		}
		nm, err := prepare(s, repo, addr, man.Database)
		if err != nil {
			return nil, err
		}
		fresh = append(fresh, nm)
		man.Members = append(man.Members, nm.Member)
	}
	for _, nm := range fresh {
		repo := filepath.Join(cfg.Repos, nm.Name)
		if err := writeRepo(repo, nm, man, swarmKey, cfg.Owner); err != nil {
			return nil, fmt.Errorf("member %s: %w", nm.Name, err)
		}
	}
	if err := writeJSON(filepath.Join(cfg.Dir, ManifestFile), man); err != nil {
		return nil, err
	}
	for _, m := range man.Members {
		if !m.Role.syncs() {
			continue
		}
		if err := writeJSON(filepath.Join(cfg.Dir, SyncConfigFile(m.Name)), syncConfig(man, m, cfg.API)); err != nil {
			return nil, err
		}
	}
	return man, nil
}

// ReadManifest reads the manifest of the cluster directory dir.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("cannot read cluster manifest: %w", err)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("cluster manifest version %d is not supported", m.Version)
	}
	return &m, nil
}

// SyncConfig is the subset of `noms-ipfs sync`'s config file that Init
// writes.
type SyncConfig struct {
	API      string   `json:"api"`
	DB       string   `json:"db"`
	Mode     string   `json:"mode"`
	Allow    []string `json:"allow"`
	Announce string   `json:"announce,omitempty"`
	Peers    []string `json:"peers,omitempty"`
}

// syncConfig allows every trusted writer (a reader allows them too, and
// nobody allows the reader) and keeps every trusted member connected.
func syncConfig(man *Manifest, m Member, api string) SyncConfig {
	c := SyncConfig{API: api, DB: man.Database, Mode: "shared", Allow: man.Writers(), Announce: man.Announce}
	if m.Role == Replica {
		c.Mode = "replicate"
	}
	for _, x := range man.Members {
		if x.Name != m.Name && x.Role.trusted() {
			c.Peers = append(c.Peers, x.P2PAddr())
		}
	}
	return c
}

// ensureSwarmKey returns the cluster's pre-shared key, creating it on first
// use. It is the private network: a node without it cannot even complete
// a handshake with a member.
func ensureSwarmKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		if err := checkSwarmKey(b); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("cannot read swarm key: %w", err)
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	b := []byte("/key/swarm/psk/1.0.0/\n/base16/\n" + hex.EncodeToString(k[:]) + "\n")
	if err := writeFileAtomic(path, b, 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

func checkSwarmKey(b []byte) error {
	lines := strings.Fields(string(b))
	if len(lines) != 3 || lines[0] != "/key/swarm/psk/1.0.0/" || lines[1] != "/base16/" {
		return errors.New("not a base16 libp2p swarm key")
	}
	if k, err := hex.DecodeString(lines[2]); err != nil || len(k) != 32 {
		return errors.New("swarm key is not 32 bytes of hex")
	}
	return nil
}

// writeJSON writes v atomically: a member that reads the file while Init
// runs sees the old or the new version.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'), 0o644)
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}
