// Package docker holds the tests that drive docker-compose.yml: a cluster
// of Kubo daemons and `noms-ipfs sync`s in containers, faulted the way
// hosts fail (killed, paused, partitioned, lost with their disks). Each
// test runs its own compose project and removes its containers, networks
// and volumes, even when it fails. The images are built here first
// (scripts/docker-images.sh): no registry is needed.
package docker

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/cluster"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
)

// Images the tests run: scripts/docker-images.sh builds them.
var (
	kuboImage  = envOr("KUBO_IMAGE", "noms-ipfs-kubo:v0.42.0")
	nomsImage  = envOr("NOMS_IPFS_IMAGE", "noms-ipfs:dev")
	probeImage = envOr("NOMS_IPFS_PROBE_IMAGE", "noms-ipfs-probe:dev")
)

const (
	// database is what the clusters sync; dataset is where tests write.
	database = "cluster"
	dataset  = "data"
	// announce is the clusters' re-announce interval: short, so that a
	// peer that missed a head hears it again soon.
	announce = 2 * time.Second
	// converge bounds the waits for a cluster to agree after a fault.
	converge = 90 * time.Second
)

// writers are the cluster's writing peers; replica is the durable one.
var (
	writers = []string{"a", "b", "c"}
	replica = "r"
	members = []string{"a", "b", "c", "r"}
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

var repoRoot = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}()

// TestMain fails the whole package, with the reason, when Docker or
// docker-compose is missing: these tests are part of the suite, never
// skipped.
func TestMain(m *testing.M) {
	if err := checkDocker(); err != nil {
		fmt.Fprintln(os.Stderr, "docker tests:", err)
		os.Exit(1)
	}
	if os.Getenv("NOMS_IPFS_SKIP_IMAGE_BUILD") == "" {
		cmd := exec.Command(filepath.Join(repoRoot, "scripts", "docker-images.sh"))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "docker tests: cannot build the images:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// composeCmd runs Compose: docker-compose (v1, Debian's package), else the
// v2 plugin.
var composeCmd = []string{"docker-compose"}

func checkDocker() error {
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("the Docker engine is not reachable (`docker info`: %v: %s); these tests need it", err, bytes.TrimSpace(out))
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return nil
	}
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err != nil {
		return fmt.Errorf("neither docker-compose nor `docker compose` is installed (%v: %s); these tests need one (scripts/install-compose.sh)", err, bytes.TrimSpace(out))
	}
	composeCmd = []string{"docker", "compose"}
	return nil
}

// composeCluster is one compose project of docker-compose.yml.
type composeCluster struct {
	tb      testing.TB
	project string
	env     []string

	mu  sync.Mutex
	ids map[string]string // service -> container ID
	// networks the test created (partitions), removed at cleanup
	networks []string
}

// startCluster brings up the cluster's default services (writers a, b, c
// and replica r) under a project of its own and waits until every sync is
// healthy. Cleanup removes everything it made, and prints the containers'
// logs first if the test failed.
func startCluster(tb testing.TB) *composeCluster {
	tb.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := &composeCluster{
		tb:      tb,
		project: "nomsipfstest" + hex.EncodeToString(b[:]),
		ids:     map[string]string{},
	}
	c.env = append(os.Environ(),
		"KUBO_IMAGE="+kuboImage,
		"NOMS_IPFS_IMAGE="+nomsImage,
		"NOMS_IPFS_DB="+database,
		"NOMS_IPFS_ANNOUNCE="+announce.String(),
	)
	tb.Cleanup(c.down)
	c.compose("up", "-d")
	c.waitHealthy(members...)
	return c
}

// compose runs docker-compose on the project and fails the test on error.
func (c *composeCluster) compose(args ...string) string {
	c.tb.Helper()
	out, err := c.composeErr(args...)
	if err != nil {
		c.tb.Fatalf("docker-compose %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func (c *composeCluster) composeErr(args ...string) (string, error) {
	full := slices.Concat(composeCmd[1:], []string{"-p", c.project, "-f", filepath.Join(repoRoot, "docker-compose.yml")}, args)
	cmd := exec.Command(composeCmd[0], full...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// docker runs the docker CLI.
func docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// mustDocker runs the docker CLI and fails the test on error.
func (c *composeCluster) mustDocker(args ...string) string {
	c.tb.Helper()
	out, err := docker(context.Background(), args...)
	if err != nil {
		c.tb.Fatal(err)
	}
	return out
}

// down removes the project's containers, networks and volumes.
func (c *composeCluster) down() {
	if c.tb.Failed() {
		c.dumpLogs()
	}
	if out, err := c.composeErr("--profile", "late", "--profile", "outsider", "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
		c.tb.Errorf("docker-compose down: %v\n%s", err, out)
	}
	for _, n := range c.networks {
		_, _ = docker(context.Background(), "network", "rm", n)
	}
	// Nothing of the project may remain.
	left, _ := docker(context.Background(), "ps", "-aq", "--filter", "label=com.docker.compose.project="+c.project)
	vols, _ := docker(context.Background(), "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+c.project)
	if strings.TrimSpace(left+vols) != "" {
		c.tb.Errorf("project %s left containers %q and volumes %q", c.project, left, vols)
	}
}

func (c *composeCluster) dumpLogs() {
	out, err := c.composeErr("--profile", "late", "--profile", "outsider", "logs", "--no-color", "--tail", "60")
	if err != nil {
		c.tb.Logf("cannot read logs: %v", err)
	}
	c.tb.Logf("container logs (last 60 lines each):\n%s", out)
}

// id returns the container ID of a service (compose names it
// <project>_<service>_1).
func (c *composeCluster) id(service string) string {
	c.tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if id, ok := c.ids[service]; ok {
		return id
	}
	id := strings.TrimSpace(c.compose("--profile", "late", "--profile", "outsider", "ps", "-q", service))
	if id == "" {
		c.tb.Fatalf("service %s has no container", service)
	}
	c.ids[service] = id
	return id
}

// forget drops a cached container ID (the container was removed).
func (c *composeCluster) forget(services ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range services {
		delete(c.ids, s)
	}
}

// health is a container's state and health as Docker reports them.
func (c *composeCluster) health(service string) string {
	out, err := docker(context.Background(), "inspect", "-f", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}", c.id(service))
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(out)
}

// waitHealthy waits until the Kubo and sync of every named peer are
// healthy.
func (c *composeCluster) waitHealthy(peers ...string) {
	c.tb.Helper()
	testwait.Until(c.tb, converge, "healthy peers "+strings.Join(peers, ","), func() (bool, string) {
		var bad []string
		for _, p := range peers {
			for _, s := range []string{"kubo-" + p, "sync-" + p} {
				if h := c.health(s); h != "running/healthy" {
					bad = append(bad, s+": "+h)
				}
			}
		}
		return len(bad) == 0, strings.Join(bad, "; ")
	})
}

// exec runs a command in a service's container.
func (c *composeCluster) exec(ctx context.Context, service string, args ...string) (string, error) {
	return docker(ctx, append([]string{"exec", c.id(service)}, args...)...)
}

// noms runs the noms-ipfs CLI in peer p's sync container (its home, its
// Kubo), as a user on that host would.
func (c *composeCluster) noms(ctx context.Context, p string, args ...string) (string, error) {
	return c.exec(ctx, "sync-"+p, append([]string{"noms-ipfs"}, args...)...)
}

// set writes key=value into the dataset on peer p; nil means acknowledged.
func (c *composeCluster) set(ctx context.Context, p, key string, value int) error {
	_, err := c.noms(ctx, p, "set", dataset, key, fmt.Sprint(value))
	return err
}

// show returns the dataset on peer p as JSON numbers by key.
func (c *composeCluster) show(ctx context.Context, p string) (map[string]int, error) {
	out, err := c.noms(ctx, p, "show", dataset)
	if err != nil {
		return nil, err
	}
	var m map[string]int
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return nil, fmt.Errorf("show on %s: %w: %q", p, err, out)
	}
	return m, nil
}

// peerStatus is the part of `noms-ipfs status --json` the tests read.
type peerStatus struct {
	PeerID   string `json:"peer_id"`
	Root     string `json:"root"`
	Datasets []struct {
		Name string `json:"name"`
		Head string `json:"head"`
	} `json:"datasets"`
	Sync *struct {
		Writer    string `json:"writer"`
		Published string `json:"published"`
		Writers   []struct {
			Writer string `json:"writer"`
			Root   string `json:"root"`
			Seq    uint64 `json:"seq"`
			Synced bool   `json:"synced"`
		} `json:"writers"`
		Heads struct {
			Received int64            `json:"Received"`
			Accepted int64            `json:"Accepted"`
			Dropped  map[string]int64 `json:"Dropped"`
		} `json:"heads"`
		Sync struct {
			FastForwards int64 `json:"FastForwards"`
			Merges       int64 `json:"Merges"`
			Pins         int64 `json:"Pins"`
		} `json:"sync"`
	} `json:"sync"`
}

func (s peerStatus) head(name string) string {
	for _, d := range s.Datasets {
		if d.Name == name {
			return d.Head
		}
	}
	return ""
}

func (c *composeCluster) status(ctx context.Context, p string) (peerStatus, error) {
	var st peerStatus
	out, err := c.noms(ctx, p, "status", "--json")
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("status of %s: %w", p, err)
	}
	return st, nil
}

// writeLoop writes keys <peer>-<n> = n on peer p, one after another, until
// stop is closed, and records the writes that were acknowledged. Failures
// (the peer is down) are counted and retried with the next key after a
// short pause.
type writeLoop struct {
	peer     string
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}

	mu     sync.Mutex
	acked  map[string]int
	failed int
}

func (c *composeCluster) startWrites(p string, pause time.Duration) *writeLoop {
	w := &writeLoop{peer: p, stop: make(chan struct{}), done: make(chan struct{}), acked: map[string]int{}}
	// A test that ends early leaves no writer behind (cleanups run last
	// first: before the cluster goes).
	c.tb.Cleanup(func() { w.Stop() })
	go func() {
		defer close(w.done)
		for n := 0; ; n++ {
			select {
			case <-w.stop:
				return
			default:
			}
			key := fmt.Sprintf("%s-%d", p, n)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := c.set(ctx, p, key, n)
			cancel()
			w.mu.Lock()
			if err == nil {
				w.acked[key] = n
			} else {
				w.failed++
			}
			w.mu.Unlock()
			wait := pause
			if err != nil {
				wait = 500 * time.Millisecond
			}
			select {
			case <-w.stop:
				return
			case <-time.After(wait):
			}
		}
	}()
	return w
}

// Stop ends the loop and returns the acknowledged writes; it may be called
// again.
func (w *writeLoop) Stop() (acked map[string]int, failed int) {
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.acked), w.failed
}

// Acked is how many writes were acknowledged so far.
func (w *writeLoop) Acked() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// waitAcked waits until every loop has had n more writes acknowledged.
func waitAcked(tb testing.TB, n int, loops ...*writeLoop) {
	tb.Helper()
	base := make([]int, len(loops))
	for i, w := range loops {
		base[i] = w.Acked()
	}
	testwait.Until(tb, converge, fmt.Sprintf("%d more acknowledged writes on every writer", n), func() (bool, string) {
		var state []string
		ok := true
		for i, w := range loops {
			got := w.Acked() - base[i]
			ok = ok && got >= n
			state = append(state, fmt.Sprintf("%s: %d", w.peer, got))
		}
		return ok, strings.Join(state, ", ")
	})
}

// waitConverged waits until every named peer has the same head of the
// dataset and that head holds every write in want, then checks the value
// key by key on every peer and returns the common head.
func (c *composeCluster) waitConverged(want map[string]int, peers ...string) string {
	c.tb.Helper()
	var head string
	testwait.Until(c.tb, converge, "one head on "+strings.Join(peers, ","), func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		heads := map[string]string{}
		for _, p := range peers {
			st, err := c.status(ctx, p)
			if err != nil {
				return false, err.Error()
			}
			heads[p] = st.head(dataset)
		}
		first := heads[peers[0]]
		for _, h := range heads {
			if h != first || h == "" {
				return false, fmt.Sprint(heads)
			}
		}
		m, err := c.show(ctx, peers[0])
		if err != nil {
			return false, err.Error()
		}
		if missing := missingWrites(m, want); len(missing) > 0 {
			return false, fmt.Sprintf("common head %s lacks %d writes, e.g. %v", first, len(missing), missing[:min(5, len(missing))])
		}
		head = first
		return true, ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range peers {
		m, err := c.show(ctx, p)
		if err != nil {
			c.tb.Fatalf("show on %s: %v", p, err)
		}
		if missing := missingWrites(m, want); len(missing) > 0 {
			c.tb.Fatalf("peer %s lacks %d acknowledged writes: %v", p, len(missing), missing)
		}
	}
	return head
}

// missingWrites lists the keys of want that m lacks or holds with another
// value.
func missingWrites(m, want map[string]int) []string {
	var out []string
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			out = append(out, fmt.Sprintf("%s=%d (have %d, %v)", k, v, got, ok))
		}
	}
	slices.Sort(out)
	return out
}

// union merges the acknowledged writes of several loops.
func union(ms ...map[string]int) map[string]int {
	out := map[string]int{}
	for _, m := range ms {
		maps.Copy(out, m)
	}
	return out
}

// manifest reads the cluster's manifest from the setup's volume.
func (c *composeCluster) manifest() *cluster.Manifest {
	c.tb.Helper()
	out := c.mustDocker("run", "--rm", "--network", "none", "-v", c.project+"_cluster:/cluster:ro", nomsImage, "cluster", "show", "--dir", "/cluster", "--json")
	var m cluster.Manifest
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		c.tb.Fatalf("cluster manifest: %v: %q", err, out)
	}
	return &m
}
