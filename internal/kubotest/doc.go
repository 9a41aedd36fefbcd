// Package kubotest starts real Kubo (go-ipfs) daemons on loopback for tests.
//
// Integration tests of noms-ipfs run against the same Kubo the project pins in
// go.mod (built into <module root>/.bin/ipfs by scripts/install-kubo.sh, or
// named by $NOMS_IPFS_KUBO). A test that needs Kubo fails when the binary is
// missing: it never skips, so a CI run without Kubo cannot pass by testing
// nothing.
//
// Every daemon is confined to loopback: the repo is initialised with
// `ipfs init --profile=test` and its config is then rewritten so that the API
// and swarm listen on 127.0.0.1 with random ports, there is no gateway, no
// bootstrap peer, no MDNS, no AutoConf or AutoTLS, no delegated routers or DNS
// resolvers, and telemetry is off (both in the config and by IPFS_TELEMETRY=off).
// Start refuses a config (after WithConfig tweaks) that would let the daemon
// reach anything else, and checks that the addresses the running daemon
// announces are loopback too.
//
// Pubsub and IPNS over pubsub are on, because the head announcements of
// noms-ipfs use both. Routing.Type is "dht": with no bootstrap peers the DHT
// only ever holds the test's own daemons (loopback addresses are allowed on the
// LAN DHT), so provider and IPNS lookups between them work without any
// delegated HTTP router.
//
// Lifecycle: the daemon a test starts is stopped by that test. Start registers
// a cleanup that asks the daemon to shut down over the RPC API, waits for the
// process to exit and kills it by PID if it does not; the temporary repo is
// removed after the daemon has exited, so Kubo is never writing into a
// directory that is being deleted. The daemon runs in its own process group
// and, on Linux, receives SIGKILL when the test process dies, so a test binary
// killed by a timeout or a signal leaves no daemon behind.
//
// A daemon starts in well under a second (init, one edit of the JSON config
// file, one daemon process; no `ipfs config` calls). Typical use:
//
//	func TestSync(t *testing.T) {
//		nodes := kubotest.StartCluster(t, 2) // started in parallel, connected pairwise
//		a, b := nodes[0], nodes[1]
//		cid := strings.TrimSpace(a.IPFSWithInput(t, data, "block", "put"))
//		got := b.IPFS(t, "block", "get", cid) // fetched over bitswap
//		...
//	}
//
// The package is for tests only and needs a Unix system (process groups,
// signals).
package kubotest
