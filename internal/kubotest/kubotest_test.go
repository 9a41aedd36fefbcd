package kubotest_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
)

// goneTimeout bounds the wait for an exited process to disappear.
const goneTimeout = 10 * time.Second

func TestClusterConnectsEveryPair(t *testing.T) {
	nodes := kubotest.StartCluster(t, 3)

	ids := map[string]bool{}
	for i, n := range nodes {
		if ids[n.PeerID] {
			t.Fatalf("node %d has the peer ID %s of another node", i, n.PeerID)
		}
		ids[n.PeerID] = true
		if len(n.SwarmAddrs) == 0 {
			t.Fatalf("node %d has no swarm address", i)
		}
		for _, a := range n.SwarmAddrs {
			if !strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") {
				t.Errorf("node %d swarm address %q is not loopback TCP", i, a)
			}
		}
		if want := n.SwarmAddrs[0] + "/p2p/" + n.PeerID; n.P2PAddr() != want {
			t.Errorf("node %d P2PAddr() = %q, want %q", i, n.P2PAddr(), want)
		}
		if !strings.HasPrefix(n.APIAddr, "/ip4/127.0.0.1/tcp/") || !strings.HasPrefix(n.APIURL(), "http://127.0.0.1:") {
			t.Errorf("node %d API %q (%q) is not on loopback", i, n.APIAddr, n.APIURL())
		}
	}
	for i, n := range nodes {
		peers := n.Peers(t)
		for j, other := range nodes {
			if i != j && !slices.Contains(peers, other.PeerID) {
				t.Errorf("node %d does not list node %d (%s) among its peers %v", i, j, other.PeerID, peers)
			}
		}
	}
}

func TestBlockTravelsOverBitswap(t *testing.T) {
	nodes := kubotest.StartCluster(t, 2)
	a, b := nodes[0], nodes[1]
	data := randomCBORBytes(t, 1024)

	// The project's CID scheme: dag-cbor, sha2-512 truncated to 20 bytes.
	cid := strings.TrimSpace(a.IPFSWithInput(t, data,
		"block", "put", "--cid-codec", "dag-cbor", "--mhtype", "sha2-512", "--mhlen", "20"))
	if _, err := runIPFS(t, b, "--offline", "block", "stat", cid); err == nil {
		t.Fatalf("fresh node b already has block %s before fetching it", cid)
	}
	if got := b.IPFS(t, "block", "get", cid); got != string(data) {
		t.Fatalf("b got %d bytes for %s, want the %d bytes a stored", len(got), cid, len(data))
	}
	// Fetched, not just streamed through: b now has it locally.
	b.IPFS(t, "--offline", "block", "stat", cid)
}

func TestRestartKeepsIdentityAndBlocks(t *testing.T) {
	nodes := kubotest.StartCluster(t, 2)
	a, b := nodes[0], nodes[1]
	data := randomCBORBytes(t, 512)
	cid := strings.TrimSpace(a.IPFSWithInput(t, data, "block", "put", "--cid-codec", "dag-cbor"))
	id, pid := a.PeerID, a.PID()

	a.Restart(t)

	if a.PeerID != id {
		t.Errorf("peer ID after restart = %s, want %s", a.PeerID, id)
	}
	if a.PID() == pid {
		t.Errorf("restart kept pid %d, want a new process", pid)
	}
	waitGone(t, pid)
	if a.APIAddr == "" || len(a.SwarmAddrs) == 0 {
		t.Fatalf("restarted node has no addresses: api %q swarm %v", a.APIAddr, a.SwarmAddrs)
	}
	if got := a.IPFS(t, "--offline", "block", "get", cid); got != string(data) {
		t.Fatalf("block %s after restart: got %d bytes, want %d", cid, len(got), len(data))
	}

	// The restarted node is reachable again once reconnected.
	b.Connect(t, a)
	if got := b.IPFS(t, "block", "get", cid); got != string(data) {
		t.Fatalf("b got %d bytes for %s from the restarted node, want %d", len(got), cid, len(data))
	}
}

func TestStopEndsProcessAndKeepsRepo(t *testing.T) {
	n := kubotest.Start(t)
	pid, id := n.PID(), n.PeerID

	n.Stop(t)

	waitGone(t, pid)
	if n.APIAddr != "" || n.APIURL() != "" || n.P2PAddr() != "" {
		t.Errorf("stopped node still reports api %q %q, p2p %q", n.APIAddr, n.APIURL(), n.P2PAddr())
	}
	if _, err := os.Stat(filepath.Join(n.Repo, "api")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("api file after a clean shutdown: stat err = %v, want not exist", err)
	}
	// The repo survives; with no daemon the CLI opens it directly.
	if got := strings.TrimSpace(n.IPFS(t, "config", "Identity.PeerID")); got != id {
		t.Errorf("repo's peer ID after stop = %q, want %q", got, id)
	}
	n.Stop(t) // stopping twice is harmless
}

func TestKillThenRestart(t *testing.T) {
	n := kubotest.Start(t)
	data := randomCBORBytes(t, 300)
	cid := strings.TrimSpace(n.IPFSWithInput(t, data, "block", "put", "--cid-codec", "dag-cbor"))
	pid, id := n.PID(), n.PeerID

	n.Kill(t)
	waitGone(t, pid)
	// SIGKILL leaves the api file behind; Restart must not be fooled by it.
	if _, err := os.Stat(filepath.Join(n.Repo, "api")); err != nil {
		t.Logf("no stale api file after SIGKILL (%v); the restart below proves less", err)
	}

	n.Restart(t)
	if n.PeerID != id {
		t.Errorf("peer ID after kill and restart = %s, want %s", n.PeerID, id)
	}
	if got := n.IPFS(t, "--offline", "block", "get", cid); got != string(data) {
		t.Fatalf("block %s after kill and restart: got %d bytes, want %d", cid, len(got), len(data))
	}
}

func TestTestShutsDownDaemonItself(t *testing.T) {
	// `ipfs shutdown` from the test is a clean stop, not a crash to report.
	n := kubotest.Start(t)
	pid := n.PID()
	n.IPFS(t, "shutdown")
	waitGone(t, pid)
	n.Stop(t)
}

func TestConfigIsLoopbackOnly(t *testing.T) {
	n := kubotest.Start(t)

	raw, err := os.ReadFile(filepath.Join(n.Repo, "config"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Addresses struct {
			API, Gateway, Swarm any
		}
		Bootstrap []string
		Discovery struct{ MDNS struct{ Enabled *bool } }
		AutoConf  struct{ Enabled *bool }
		AutoTLS   struct{ Enabled *bool }
		DNS       struct{ Resolvers map[string]string }
		Routing   struct {
			Type             string
			DelegatedRouters []string
		}
		Ipns struct {
			UsePubsub           *bool
			DelegatedPublishers []string
		}
		Pubsub  struct{ Enabled *bool }
		Swarm   struct{ DisableNatPortMap bool }
		Plugins struct {
			Plugins map[string]struct{ Config map[string]any }
		}
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("cannot decode %s/config: %v", n.Repo, err)
	}
	for name, v := range map[string]any{"API": cfg.Addresses.API, "Swarm": cfg.Addresses.Swarm} {
		for _, a := range asStrings(v) {
			if !strings.HasPrefix(a, "/ip4/127.0.0.1/") {
				t.Errorf("Addresses.%s has %q, want only 127.0.0.1", name, a)
			}
		}
		if len(asStrings(v)) == 0 {
			t.Errorf("Addresses.%s is empty", name)
		}
	}
	if g := asStrings(cfg.Addresses.Gateway); len(g) != 0 {
		t.Errorf("Addresses.Gateway = %q, want none", g)
	}
	if cfg.Bootstrap == nil || len(cfg.Bootstrap) != 0 {
		t.Errorf("Bootstrap = %#v, want []", cfg.Bootstrap)
	}
	wantFalse := map[string]*bool{
		"Discovery.MDNS.Enabled": cfg.Discovery.MDNS.Enabled,
		"AutoConf.Enabled":       cfg.AutoConf.Enabled,
		"AutoTLS.Enabled":        cfg.AutoTLS.Enabled,
	}
	for k, v := range wantFalse {
		if v == nil || *v {
			t.Errorf("%s = %v, want an explicit false (it defaults to true)", k, v)
		}
	}
	for k, v := range map[string]*bool{"Pubsub.Enabled": cfg.Pubsub.Enabled, "Ipns.UsePubsub": cfg.Ipns.UsePubsub} {
		if v == nil || !*v {
			t.Errorf("%s = %v, want true", k, v)
		}
	}
	if len(cfg.DNS.Resolvers) != 0 || len(cfg.Routing.DelegatedRouters) != 0 || len(cfg.Ipns.DelegatedPublishers) != 0 {
		t.Errorf("DNS resolvers %v, delegated routers %v, publishers %v: want none",
			cfg.DNS.Resolvers, cfg.Routing.DelegatedRouters, cfg.Ipns.DelegatedPublishers)
	}
	if cfg.Routing.Type != "dht" {
		t.Errorf("Routing.Type = %q, want dht", cfg.Routing.Type)
	}
	if !cfg.Swarm.DisableNatPortMap {
		t.Error("Swarm.DisableNatPortMap is false")
	}
	if mode := cfg.Plugins.Plugins["telemetry"].Config["Mode"]; mode != "off" {
		t.Errorf("telemetry plugin Mode = %v, want off", mode)
	}

	// What the running daemon listens on, not only what it was told.
	// "/p2p-circuit" is the relay client's virtual listener, not a socket.
	for _, a := range strings.Fields(n.IPFS(t, "swarm", "addrs", "listen")) {
		if !strings.HasPrefix(a, "/ip4/127.0.0.1/") && a != "/p2p-circuit" {
			t.Errorf("daemon listens on %q", a)
		}
	}
	if runtime.GOOS == "linux" {
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", n.PID()))
		if err != nil {
			t.Fatalf("cannot read the daemon's environment: %v", err)
		}
		vars := strings.Split(string(environ), "\x00")
		for _, want := range []string{"IPFS_TELEMETRY=off", "IPFS_PATH=" + n.Repo} {
			if !slices.Contains(vars, want) {
				t.Errorf("daemon environment lacks %s", want)
			}
		}
	}
}

func TestWithConfigAndWithRepo(t *testing.T) {
	repo := t.TempDir()
	n := kubotest.Start(t, kubotest.WithRepo(repo),
		kubotest.WithConfigValue("Swarm.ConnMgr.Type", "none"),
		kubotest.WithConfig(func(cfg map[string]any) {
			cfg["Datastore"].(map[string]any)["StorageMax"] = "1GB"
		}),
	)
	if n.Repo != repo {
		t.Fatalf("Repo = %s, want %s", n.Repo, repo)
	}
	if got := strings.TrimSpace(n.IPFS(t, "config", "Swarm.ConnMgr.Type")); got != "none" {
		t.Errorf("Swarm.ConnMgr.Type = %q, want none", got)
	}
	if got := strings.TrimSpace(n.IPFS(t, "config", "Datastore.StorageMax")); got != "1GB" {
		t.Errorf("Datastore.StorageMax = %q, want 1GB", got)
	}
	id := n.PeerID
	n.Stop(t)

	// A second Start on the same repo is the same node.
	again := kubotest.Start(t, kubotest.WithRepo(repo))
	if again.PeerID != id {
		t.Errorf("peer ID on reused repo = %s, want %s", again.PeerID, id)
	}
}

func TestStartRefusesNonLoopbackConfig(t *testing.T) {
	tests := []struct {
		name string
		opt  kubotest.Option
		want string
	}{
		{"bootstrap peer", kubotest.WithConfigValue("Bootstrap",
			[]string{"/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWDidDPoxkcYsvnGM28XxAAEwEMyKixYhJmJBnZhpfDcrn"}),
			"Bootstrap must be empty"},
		{"wildcard swarm", kubotest.WithConfig(func(cfg map[string]any) {
			cfg["Addresses"].(map[string]any)["Swarm"] = []string{"/ip4/0.0.0.0/tcp/0"}
		}), `non-loopback address "/ip4/0.0.0.0/tcp/0"`},
		{"mdns", kubotest.WithConfigValue("Discovery.MDNS.Enabled", true), "Discovery.MDNS.Enabled must be false"},
		{"dns name", kubotest.WithConfigValue("Addresses.API", "/dns4/localhost/tcp/0"), "non-loopback address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := failRecorder(t, func(tb testing.TB) { kubotest.Start(tb, tt.opt) })
			if !strings.Contains(rec, tt.want) {
				t.Errorf("Start failed with %q, want it to mention %q", rec, tt.want)
			}
		})
	}
}

func TestMissingKuboFailsInsteadOfSkipping(t *testing.T) {
	t.Run("env points nowhere", func(t *testing.T) {
		t.Setenv(kubotest.EnvKubo, filepath.Join(t.TempDir(), "no-such-ipfs"))
		msg := failRecorder(t, func(tb testing.TB) { kubotest.Start(tb) })
		if !strings.Contains(msg, kubotest.EnvKubo) {
			t.Errorf("failure %q does not name $%s", msg, kubotest.EnvKubo)
		}
	})
	t.Run("not installed", func(t *testing.T) {
		t.Setenv(kubotest.EnvKubo, "")
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "go.mod"), "module example.com/m\n\nrequire github.com/ipfs/kubo v0.42.0\n")
		t.Chdir(root)
		msg := failRecorder(t, func(tb testing.TB) { kubotest.StartCluster(tb, 2) })
		if !strings.Contains(msg, "scripts/install-kubo.sh") {
			t.Errorf("failure %q does not say how to install Kubo", msg)
		}
	})
	t.Run("stale build", func(t *testing.T) {
		t.Setenv(kubotest.EnvKubo, "")
		root := t.TempDir()
		writeFile(t, filepath.Join(root, "go.mod"), "module example.com/m\n\nrequire (\n\tgithub.com/ipfs/kubo v0.42.0\n)\n")
		if err := os.Mkdir(filepath.Join(root, ".bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		fake := filepath.Join(root, ".bin", "ipfs")
		writeFile(t, fake, "#!/bin/sh\necho 0.41.0\n")
		if err := os.Chmod(fake, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Chdir(root)
		msg := failRecorder(t, func(tb testing.TB) { kubotest.Binary(tb) })
		if !strings.Contains(msg, "0.41.0") || !strings.Contains(msg, "0.42.0") {
			t.Errorf("failure %q does not report both versions", msg)
		}
	})
}

// BenchmarkStartStop measures one daemon's start (init, config, daemon until
// its API answers) and clean stop.
func BenchmarkStartStop(b *testing.B) {
	for b.Loop() {
		n := kubotest.Start(b)
		n.Stop(b)
	}
}

// recorder is a testing.TB whose Fatal and Skip calls are recorded and end
// the calling goroutine, so a test can check that kubotest fails, and never
// skips, without failing itself. Everything else reaches the real test.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	failure string
	skipped bool
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.fail(fmt.Sprintf(format, args...)) }
func (r *recorder) Fatal(args ...any)                 { r.fail(fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, args ...any) { r.record(fmt.Sprintf(format, args...)) }
func (r *recorder) FailNow()                          { r.fail("FailNow") }
func (r *recorder) Skip(args ...any)                  { r.skip() }
func (r *recorder) Skipf(string, ...any)              { r.skip() }
func (r *recorder) SkipNow()                          { r.skip() }

func (r *recorder) record(msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failure += msg + "\n"
}

func (r *recorder) fail(msg string) {
	r.record(msg)
	runtime.Goexit()
}

func (r *recorder) skip() {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}

// failRecorder runs fn with a recorder and returns the failure it recorded,
// failing t if fn skipped or did not fail.
func failRecorder(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.skipped {
		t.Fatal("kubotest skipped the test; it must fail")
	}
	if r.failure == "" {
		t.Fatal("kubotest did not fail the test")
	}
	return r.failure
}

// runIPFS runs the CLI against n's repo and returns stdout and any error, for
// commands that are expected to fail (Node.IPFS would fail the test).
func runIPFS(t *testing.T, n *kubotest.Node, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(kubotest.Binary(t), args...)
	cmd.Env = append(os.Environ(), "IPFS_PATH="+n.Repo, "IPFS_TELEMETRY=off")
	out, err := cmd.Output()
	return string(out), err
}

// waitGone polls until pid no longer names a live process.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	testwait.Until(t, goneTimeout, fmt.Sprintf("process %d to exit after its daemon was stopped", pid), func() (bool, string) {
		return processGone(pid), "still alive"
	})
}

// processGone reports whether pid is gone: no such process, or a zombie
// (dead, waiting for a parent that is not us to reap it).
func processGone(pid int) bool {
	err := syscall.Kill(pid, 0)
	if errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, rerr := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if rerr != nil {
		return false
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// randomCBORBytes returns a DAG-CBOR document: a byte string of size random
// bytes, so every run stores a block no other node has.
func randomCBORBytes(t *testing.T, size int) []byte {
	t.Helper()
	if size < 256 || size > 65535 {
		t.Fatalf("randomCBORBytes: size %d outside the 2-byte length form", size)
	}
	buf := make([]byte, 3+size)
	buf[0], buf[1], buf[2] = 0x59, byte(size>>8), byte(size)
	if _, err := rand.Read(buf[3:]); err != nil {
		t.Fatal(err)
	}
	return buf
}

func asStrings(v any) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
