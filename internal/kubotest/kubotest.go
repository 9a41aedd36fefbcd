package kubotest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EnvKubo names the environment variable that points the tests at a Kubo
// binary other than <module root>/.bin/ipfs.
const EnvKubo = "NOMS_IPFS_KUBO"

// Bounds on every wait, so that a broken daemon fails the test with a message
// instead of hanging it until `go test -timeout`.
const (
	startTimeout    = 30 * time.Second // from ipfs daemon until its RPC API answers
	pollInterval    = 20 * time.Millisecond
	requestTimeout  = 5 * time.Second // one RPC call made by this package
	shutdownTimeout = 15 * time.Second
	killTimeout     = 5 * time.Second
	connectTimeout  = 10 * time.Second
	cliTimeout      = 2 * time.Minute // one `ipfs` CLI command run by a test
	logLimit        = 256 << 10       // daemon output kept per node
)

// errNotLoopback marks a daemon that announces an address off loopback:
// waiting longer cannot fix it.
var errNotLoopback = errors.New("the daemon announces a non-loopback address")

// Binary returns the Kubo binary the tests run: $NOMS_IPFS_KUBO if set, else
// <module root>/.bin/ipfs, which must report the Kubo version go.mod pins.
// It fails the test, never skips it, when there is no usable binary.
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := findBinary()
	if err != nil {
		t.Fatalf("kubotest: %v", err)
	}
	return bin
}

func findBinary() (string, error) {
	if p := os.Getenv(EnvKubo); p != "" {
		// Whoever sets the variable chose the binary, perhaps another Kubo
		// version on purpose, so its version is not checked.
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("cannot use $%s: %w (unset it to use .bin/ipfs as built by scripts/install-kubo.sh)", EnvKubo, err)
		}
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".bin", "ipfs")
	if err := checkExecutable(p); err != nil {
		return "", fmt.Errorf("no Kubo binary (%w): run scripts/install-kubo.sh (or make kubo) in %s, or set $%s to an ipfs binary",
			err, root, EnvKubo)
	}
	if err := checkPinnedVersion(p, root); err != nil {
		return "", err
	}
	return p, nil
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

// moduleRoot walks up from the working directory, which `go test` sets to the
// package directory, to the directory holding go.mod.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("cannot find module root: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("cannot find module root: no go.mod in %s or above", wd)
		}
	}
}

// versionChecks remembers, per binary path, whether it reports the pinned
// version, so a test process runs `ipfs version` once, not once per daemon.
var versionChecks sync.Map // path → *versionCheck

type versionCheck struct {
	once sync.Once
	err  error
}

// checkPinnedVersion catches a stale .bin/ipfs left over from before go.mod
// moved to another Kubo: the tests would otherwise pass or fail against a
// daemon the code was not built for.
func checkPinnedVersion(bin, root string) error {
	v, _ := versionChecks.LoadOrStore(bin, &versionCheck{})
	c := v.(*versionCheck)
	c.once.Do(func() { c.err = comparePinnedVersion(bin, root) })
	return c.err
}

func comparePinnedVersion(bin, root string) error {
	want, err := pinnedKuboVersion(filepath.Join(root, "go.mod"))
	if err != nil || want == "" {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "version", "--number")
	cmd.Env = kuboEnv("")
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("cannot run %s version: %w", bin, err)
	}
	if have := strings.TrimSpace(string(out)); have != want {
		return fmt.Errorf("%s is Kubo %s but go.mod pins %s: run scripts/install-kubo.sh (or make kubo) to rebuild it",
			bin, have, want)
	}
	return nil
}

// pinnedKuboVersion reads the github.com/ipfs/kubo requirement from go.mod
// without the leading v, as `ipfs version --number` prints it; "" if absent.
func pinnedKuboVersion(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", fmt.Errorf("cannot read Kubo version from go.mod: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(s.Text()), "require "))
		if len(fields) >= 2 && fields[0] == "github.com/ipfs/kubo" && fields[1] != "=>" {
			return strings.TrimPrefix(fields[1], "v"), nil
		}
	}
	if err := s.Err(); err != nil {
		return "", fmt.Errorf("cannot read Kubo version from %s: %w", gomod, err)
	}
	return "", nil
}

// kuboEnv is the environment of every Kubo process: the caller's, with the
// repo and telemetry forced (os/exec uses the last value of a duplicated key).
func kuboEnv(repo string) []string {
	env := os.Environ()
	if repo != "" {
		env = append(env, "IPFS_PATH="+repo)
	}
	return append(env, "IPFS_TELEMETRY=off")
}

// Option changes how Start sets up a node.
type Option func(*options)

type options struct {
	repo       string
	config     []configMutator
	daemonArgs []string
}

// WithRepo runs the daemon on dir instead of a fresh temporary repo: an
// initialised repo is reused (same peer ID and blocks), an empty or missing
// dir is initialised. The caller owns dir and removes it; the daemon is still
// stopped by the test's cleanup, which runs before that of a t.TempDir made
// earlier in the test.
func WithRepo(dir string) Option {
	return func(o *options) { o.repo = dir }
}

// TempDir returns a fresh directory removed when the test ends, in memory
// (/dev/shm) when the machine has a writable one, else t.TempDir(). Tests
// that run Kubo's garbage collector in a loop put repos there: a GC walks
// every block file, several times faster in memory. Durability does not
// change: Kubo's locks, not the disk, decide what a GC removes.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "kubotest-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("kubotest: remove %s: %v", dir, err)
		}
	})
	return dir
}

// WithConfig lets fn edit the decoded Kubo config (as `ipfs config show`
// prints it; numbers are json.Number) after the loopback defaults are set.
// It runs before every start of the node, Restart included. Start fails if
// the result could reach a non-loopback address.
func WithConfig(fn func(cfg map[string]any)) Option {
	return func(o *options) {
		o.config = append(o.config, func(cfg map[string]any) error { fn(cfg); return nil })
	}
}

// WithConfigValue sets one dotted config key, as `ipfs config --json key value`
// would (e.g. "Swarm.ConnMgr.Type", "none"), creating missing objects.
func WithConfigValue(key string, value any) Option {
	return func(o *options) {
		o.config = append(o.config, func(cfg map[string]any) error { return setConfigValue(cfg, key, value) })
	}
}

// WithDaemonArgs adds arguments to `ipfs daemon`, e.g. "--enable-gc".
func WithDaemonArgs(args ...string) Option {
	return func(o *options) { o.daemonArgs = append(o.daemonArgs, args...) }
}

// Node is a Kubo daemon started by a test. Its fields describe the running
// daemon and change on Restart; a Node is not safe for concurrent Stop or
// Restart calls.
type Node struct {
	// Repo is the daemon's IPFS_PATH.
	Repo string
	// APIAddr is the RPC API multiaddr, e.g. /ip4/127.0.0.1/tcp/40123, as
	// written to $IPFS_PATH/api; empty while stopped.
	APIAddr string
	// PeerID is the node's libp2p identity; it survives Stop and Restart.
	PeerID string
	// SwarmAddrs are the loopback swarm multiaddrs without the /p2p/ suffix
	// (see P2PAddr); empty while stopped.
	SwarmAddrs []string

	bin    string
	opts   options
	client *http.Client
	apiURL string // http://127.0.0.1:port of the running daemon
	proc   *process
	pid    int
	starts int
	log    *tailBuffer
}

// process is one run of `ipfs daemon`.
type process struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited and been reaped
	err    error         // Wait's result, set before done is closed
	apiURL string        // where its RPC API answered; "" until ready
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *process) waitFor(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-p.done:
		return true
	case <-timer.C:
		return false
	}
}

// Start initialises a repo and starts a Kubo daemon on loopback, waiting until
// its RPC API answers. The daemon is stopped and its repo removed (unless
// WithRepo named it) when the test ends. Start fails the test if Kubo is
// missing or does not come up within 30 s.
func Start(t testing.TB, opts ...Option) *Node {
	t.Helper()
	n := newNode(t, Binary(t), opts)
	began := time.Now()
	if err := n.start(); err != nil {
		t.Fatalf("kubotest: %v\ndaemon output:\n%s", err, n.log)
	}
	n.logStarted(t, time.Since(began))
	return n
}

// StartCluster starts count daemons in parallel (each takes a few hundred
// milliseconds, mostly waiting) and connects every pair, so blocks, pubsub
// messages and IPNS records flow between any two of them. opts apply to every
// node; WithRepo cannot be shared by several nodes.
func StartCluster(t testing.TB, count int, opts ...Option) []*Node {
	t.Helper()
	if count < 1 {
		t.Fatalf("kubotest: StartCluster needs at least one node, got %d", count)
	}
	bin := Binary(t)
	nodes := make([]*Node, count)
	for i := range nodes {
		// In the test goroutine: newNode calls t.TempDir, which may call t.Fatal.
		nodes[i] = newNode(t, bin, opts)
		if count > 1 && nodes[i].opts.repo != "" {
			t.Fatalf("kubotest: StartCluster cannot give %d nodes the one WithRepo dir %s", count, nodes[i].opts.repo)
		}
	}
	// Registered after the nodes' own cleanups, so it runs first: a daemon's
	// shutdown occasionally waits most of a second on its DHT provider, and
	// these waits overlap instead of adding up. The nodes' cleanups then find
	// nothing left to stop.
	t.Cleanup(func() {
		errs := make([]error, count)
		var wg sync.WaitGroup
		for i, n := range nodes {
			wg.Go(func() { errs[i] = n.stop() })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Errorf("kubotest: %v", err)
			}
		}
	})
	began := time.Now()
	errs := make([]error, count)
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { errs[i] = n.start() })
	}
	wg.Wait()
	failed := false
	for i, err := range errs {
		if err != nil {
			t.Errorf("kubotest: cluster node %d: %v\ndaemon output:\n%s", i, err, nodes[i].log)
			failed = true
		}
	}
	if failed {
		t.FailNow()
	}
	for _, n := range nodes {
		n.logStarted(t, time.Since(began))
	}
	for i := range nodes {
		for j := i + 1; j < count; j++ {
			if err := nodes[i].connect(nodes[j]); err != nil {
				t.Fatalf("kubotest: %v", err)
			}
		}
	}
	return nodes
}

// newNode prepares a node and registers its cleanup; it starts nothing.
func newNode(t testing.TB, bin string, opts []Option) *Node {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	repo := o.repo
	if repo == "" {
		// Made before the cleanup below is registered, so removed after it
		// has run: Kubo has exited before its repo is deleted.
		repo = t.TempDir()
	}
	n := &Node{
		Repo: repo,
		bin:  bin,
		opts: o,
		// Our own transport: no proxy (the API is loopback), and idle
		// connections that die with this node instead of a shared pool.
		client: &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}},
		log:    &tailBuffer{limit: logLimit},
	}
	t.Cleanup(func() {
		if err := n.stop(); err != nil {
			t.Errorf("kubotest: %v", err)
		}
		if t.Failed() && n.starts > 0 {
			t.Logf("kubotest: output of Kubo daemon %s (repo %s):\n%s", n.PeerID, n.Repo, n.log)
		}
	})
	return n
}

func (n *Node) logStarted(t testing.TB, took time.Duration) {
	t.Helper()
	t.Logf("kubotest: Kubo %s ready in %v (pid %d, api %s, swarm %v)",
		n.PeerID, took.Round(time.Millisecond), n.pid, n.APIAddr, n.SwarmAddrs)
}

// start initialises the repo if needed, rewrites its config and runs the
// daemon until its API answers. On error the process, if any, is left to
// the cleanup registered by newNode. It does not touch the testing.TB, so
// StartCluster can call it from several goroutines.
func (n *Node) start() error {
	if err := n.initRepo(); err != nil {
		return err
	}
	// A daemon that was killed leaves its api file behind, pointing the
	// readiness check and the ipfs CLI at a port that nobody listens on.
	if err := os.Remove(filepath.Join(n.Repo, "api")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot remove stale api file: %w", err)
	}
	if err := writeConfig(n.Repo, n.opts.config); err != nil {
		return err
	}

	// --migrate=false: a repo needing migration must fail here rather than
	// make Kubo download migration binaries from the network.
	args := append([]string{"daemon", "--migrate=false"}, n.opts.daemonArgs...)
	cmd := exec.Command(n.bin, args...)
	cmd.Dir = n.Repo
	cmd.Env = kuboEnv(n.Repo)
	cmd.Stdout = n.log
	cmd.Stderr = n.log
	cmd.SysProcAttr = sysProcAttr()
	// Bound Wait's copying of the output pipe should anything inherit it.
	cmd.WaitDelay = killTimeout
	n.starts++
	fmt.Fprintf(n.log, "--- kubotest: ipfs %s (start %d) ---\n", strings.Join(args, " "), n.starts)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cannot start %s daemon: %w", n.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	n.proc, n.pid = p, cmd.Process.Pid

	if err := n.waitReady(p); err != nil {
		return fmt.Errorf("the Kubo daemon (pid %d, repo %s) did not become ready: %w", n.pid, n.Repo, err)
	}
	p.apiURL = n.apiURL
	return nil
}

// initRepo runs `ipfs init` unless the repo already has a config.
func (n *Node) initRepo() error {
	if _, err := os.Stat(filepath.Join(n.Repo, "config")); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot inspect Kubo repo: %w", err)
	}
	// --empty-repo skips adding the welcome documents: tests expect an empty
	// blockstore, and it saves time.
	if _, err := n.runCLI(nil, []string{"init", "--profile=test", "--empty-repo"}); err != nil {
		return fmt.Errorf("cannot initialise Kubo repo: %w", err)
	}
	return nil
}

// waitReady polls until the daemon has written its api file and answers
// /api/v0/id with loopback swarm addresses, then records them.
func (n *Node) waitReady(p *process) error {
	deadline := time.Now().Add(startTimeout)
	for {
		err := n.readIdentity()
		if err == nil {
			return nil
		}
		if errors.Is(err, errNotLoopback) {
			return err
		}
		if p.exited() {
			return fmt.Errorf("daemon exited: %v", p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not ready after %v: %w", startTimeout, err)
		}
		timer := time.NewTimer(pollInterval)
		select {
		case <-p.done:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// readIdentity reads the API address from the api file and the peer ID and
// swarm addresses from /api/v0/id.
func (n *Node) readIdentity() error {
	raw, err := os.ReadFile(filepath.Join(n.Repo, "api"))
	if err != nil {
		return fmt.Errorf("no api file yet: %w", err)
	}
	maddr := strings.TrimSpace(string(raw))
	base, err := apiURL(maddr)
	if err != nil {
		return err
	}
	var id struct {
		ID        string
		Addresses []string
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := n.rpcAt(ctx, base, "id", nil, &id); err != nil {
		return err
	}
	var swarm []string
	for _, a := range id.Addresses {
		a = strings.TrimSuffix(a, "/p2p/"+id.ID)
		if !isLocalMultiaddr(a) {
			return fmt.Errorf("%w: %s", errNotLoopback, a)
		}
		// A relayed address (through another test daemon) is still loopback
		// but is no address to dial this node directly.
		if !strings.Contains(a, "/p2p-circuit") {
			swarm = append(swarm, a)
		}
	}
	if id.ID == "" || len(swarm) == 0 {
		return fmt.Errorf("/api/v0/id reports no peer ID or no swarm address yet: %+v", id)
	}
	n.APIAddr, n.apiURL, n.PeerID, n.SwarmAddrs = maddr, base, id.ID, swarm
	return nil
}

// apiURL turns the multiaddr Kubo writes to its api file into an HTTP base URL.
func apiURL(maddr string) (string, error) {
	parts := strings.Split(maddr, "/")
	if len(parts) != 5 || parts[0] != "" || (parts[1] != "ip4" && parts[1] != "ip6") || parts[3] != "tcp" {
		return "", fmt.Errorf("cannot use API address %q: want /ip4|ip6/<host>/tcp/<port>", maddr)
	}
	if ip := net.ParseIP(parts[2]); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("%w: API on %s", errNotLoopback, maddr)
	}
	return "http://" + net.JoinHostPort(parts[2], parts[4]), nil
}

// PID returns the process ID of the node's most recently started daemon,
// which may have exited since.
func (n *Node) PID() int { return n.pid }

// APIURL returns the HTTP base URL of the running daemon's RPC API, e.g.
// http://127.0.0.1:40123 (commands are under /api/v0/); empty while stopped.
func (n *Node) APIURL() string { return n.apiURL }

// P2PAddr returns a multiaddr other peers can dial, the first swarm address
// with the /p2p/<PeerID> suffix; empty while stopped.
func (n *Node) P2PAddr() string {
	if len(n.SwarmAddrs) == 0 {
		return ""
	}
	return n.SwarmAddrs[0] + "/p2p/" + n.PeerID
}

// Stop shuts the daemon down and waits for it to exit, keeping the repo, so
// that Restart can bring it back. Stopping a stopped node does nothing.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	if err := n.stop(); err != nil {
		t.Fatalf("kubotest: %v\ndaemon output:\n%s", err, n.log)
	}
}

// Restart stops the daemon if it runs and starts it again on the same repo:
// same peer ID and blocks, new process, and usually new ports (APIAddr and
// SwarmAddrs are read again). Peers must Connect again.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if err := n.stop(); err != nil {
		t.Fatalf("kubotest: %v\ndaemon output:\n%s", err, n.log)
	}
	before := n.PeerID
	began := time.Now()
	if err := n.start(); err != nil {
		t.Fatalf("kubotest: %v\ndaemon output:\n%s", err, n.log)
	}
	if before != "" && n.PeerID != before {
		t.Fatalf("kubotest: restart on %s changed the peer ID from %s to %s", n.Repo, before, n.PeerID)
	}
	n.logStarted(t, time.Since(began))
}

// Kill ends the daemon with SIGKILL, as a crash or power cut would, and waits
// for it to exit, keeping the repo; Restart brings it back. Fault tests use
// it instead of killing the PID themselves, which the cleanup would report as
// a crash.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	p := n.proc
	if p == nil {
		return
	}
	n.proc = nil
	n.APIAddr, n.apiURL, n.SwarmAddrs = "", "", nil
	n.client.CloseIdleConnections()
	pid := p.cmd.Process.Pid
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("kubotest: cannot kill Kubo daemon %d: %v", pid, err)
	}
	if !p.waitFor(killTimeout) {
		t.Fatalf("kubotest: Kubo daemon %d still running %v after SIGKILL", pid, killTimeout)
	}
}

// stop asks the daemon to shut down over the API (SIGTERM if the API never
// came up), waits for the process to exit and SIGKILLs its process group if
// it does not. The shutdown request lets Kubo close its datastore cleanly;
// the kill is the bound.
func (n *Node) stop() error {
	p := n.proc
	if p == nil {
		return nil
	}
	n.proc = nil
	n.APIAddr, n.apiURL, n.SwarmAddrs = "", "", nil
	defer n.client.CloseIdleConnections()
	pid := p.cmd.Process.Pid

	if p.exited() {
		// The test may have shut it down itself (`ipfs shutdown`); only a
		// crash is worth a failure.
		if p.err != nil {
			return fmt.Errorf("the Kubo daemon (pid %d) exited before it was stopped: %w", pid, p.err)
		}
		return nil
	}

	var asked error
	if p.apiURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
		// The server may drop the connection as it exits, so an error here
		// proves nothing; whether the process exits decides.
		asked = n.rpcAt(ctx, p.apiURL, "shutdown", nil, nil)
		cancel()
	} else {
		asked = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	if p.waitFor(shutdownTimeout) {
		if p.err != nil {
			return fmt.Errorf("the Kubo daemon (pid %d) failed while shutting down: %w", pid, p.err)
		}
		return nil
	}
	// The daemon leads its own process group (Setpgid), so -pid reaches it
	// and anything it spawned, and nothing else.
	killErr := syscall.Kill(-pid, syscall.SIGKILL)
	if !p.waitFor(killTimeout) {
		return fmt.Errorf("the Kubo daemon (pid %d) still running %v after SIGKILL (kill: %v)", pid, killTimeout, killErr)
	}
	return fmt.Errorf("the Kubo daemon (pid %d) did not exit within %v of being asked to shut down (request: %v) and was killed",
		pid, shutdownTimeout, asked)
}

// Connect dials other from n and waits until each lists the other among its
// swarm peers, so that bitswap and pubsub between them can be used at once
// (a pubsub mesh still needs its own heartbeat to form).
func (n *Node) Connect(t testing.TB, other *Node) {
	t.Helper()
	if err := n.connect(other); err != nil {
		t.Fatalf("kubotest: %v", err)
	}
}

func (n *Node) connect(other *Node) error {
	addr := other.P2PAddr()
	if addr == "" || n.apiURL == "" {
		return fmt.Errorf("cannot connect %s to %s: both daemons must be running", n.PeerID, other.PeerID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	connected := func() (bool, error) {
		if ok, err := n.hasPeer(ctx, other.PeerID); !ok || err != nil {
			return false, err
		}
		return other.hasPeer(ctx, n.PeerID)
	}
	// A dial can cross one that other makes to n at the same moment (it
	// learnt n's address from a third node): the two TLS handshakes then
	// fail each other ("unexpected handshake message"). Either dial may
	// still have won; if neither did, dial again.
	for attempt := 1; ; attempt++ {
		err := n.rpc(ctx, "swarm/connect", url.Values{"arg": {addr}}, nil)
		if err == nil {
			break
		}
		wait, stop := context.WithTimeout(ctx, time.Second)
		perr := poll(wait, connected)
		stop()
		if perr == nil {
			return nil
		}
		if attempt == 3 || ctx.Err() != nil {
			return fmt.Errorf("cannot connect %s to %s: %w", n.PeerID, addr, err)
		}
	}
	// swarm/connect returns once n holds the connection; other registers it
	// on its own schedule.
	err := poll(ctx, connected)
	if err != nil {
		return fmt.Errorf("%s and %s do not list each other as peers within %v: %w", n.PeerID, other.PeerID, connectTimeout, err)
	}
	return nil
}

// Peers returns the peer IDs n is connected to, from /api/v0/swarm/peers.
func (n *Node) Peers(t testing.TB) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	peers, err := n.peers(ctx)
	if err != nil {
		t.Fatalf("kubotest: %v", err)
	}
	return peers
}

func (n *Node) peers(ctx context.Context) ([]string, error) {
	var out struct {
		Peers []struct{ Peer string }
	}
	if err := n.rpc(ctx, "swarm/peers", nil, &out); err != nil {
		return nil, fmt.Errorf("cannot list peers of %s: %w", n.PeerID, err)
	}
	ids := make([]string, 0, len(out.Peers))
	for _, p := range out.Peers {
		ids = append(ids, p.Peer)
	}
	return ids, nil
}

func (n *Node) hasPeer(ctx context.Context, id string) (bool, error) {
	peers, err := n.peers(ctx)
	if err != nil {
		return false, err
	}
	for _, p := range peers {
		if p == id {
			return true, nil
		}
	}
	return false, nil
}

// IPFS runs the ipfs CLI with IPFS_PATH set to the node's repo and returns
// its standard output unchanged (trim it for CIDs; `block get` is binary).
// While the daemon runs the CLI talks to it; while stopped it opens the repo
// itself. A failing command, or one running over 2 minutes, fails the test
// with its stderr.
func (n *Node) IPFS(t testing.TB, args ...string) string {
	t.Helper()
	return n.IPFSWithInput(t, nil, args...)
}

// IPFSWithInput is IPFS with stdin, e.g. the bytes for `block put`.
func (n *Node) IPFSWithInput(t testing.TB, stdin []byte, args ...string) string {
	t.Helper()
	out, err := n.runCLI(stdin, args)
	if err != nil {
		t.Fatalf("kubotest: %v", err)
	}
	return out
}

func (n *Node) runCLI(stdin []byte, args []string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin, args...)
	cmd.Env = kuboEnv(n.Repo)
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = killTimeout
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("killed after %v: %w", cliTimeout, err)
		}
		return "", fmt.Errorf("ipfs %s (IPFS_PATH=%s): %w\nstderr: %s",
			strings.Join(args, " "), n.Repo, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// rpc calls a command of the running daemon's RPC API.
func (n *Node) rpc(ctx context.Context, cmd string, args url.Values, out any) error {
	if n.apiURL == "" {
		return fmt.Errorf("cannot call %s: Kubo daemon %s is not running", cmd, n.PeerID)
	}
	return n.rpcAt(ctx, n.apiURL, cmd, args, out)
}

// rpcAt POSTs /api/v0/<cmd> (Kubo's RPC refuses GET) and decodes the JSON
// answer into out unless out is nil.
func (n *Node) rpcAt(ctx context.Context, base, cmd string, args url.Values, out any) error {
	u := base + "/api/v0/" + cmd
	if len(args) > 0 {
		u += "?" + args.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return fmt.Errorf("cannot call %s: %w", cmd, err)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return fmt.Errorf("cannot call %s: %w", cmd, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("cannot read %s response: %w", cmd, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: HTTP %d: %s", cmd, resp.StatusCode, bytes.TrimSpace(body))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("cannot decode %s response %q: %w", cmd, body, err)
		}
	}
	return nil
}

// poll calls cond every pollInterval until it reports done or ctx ends; the
// last error cond returned explains a timeout.
func poll(ctx context.Context, cond func() (bool, error)) error {
	var last error
	for {
		done, err := cond()
		if done {
			return nil
		}
		if err != nil {
			last = err
		}
		timer := time.NewTimer(pollInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			if last != nil {
				return fmt.Errorf("%w (last error: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-timer.C:
		}
	}
}

// tailBuffer keeps the last limit bytes written to it; it collects a daemon's
// stdout and stderr, which os/exec copies from another goroutine.
type tailBuffer struct {
	mu      sync.Mutex
	buf     []byte
	limit   int
	dropped bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.dropped = true
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped {
		return "[earlier output dropped]\n" + string(b.buf)
	}
	return string(b.buf)
}
