package kubotest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
)

// loopbackDefaults are written into every repo's config before each start, on
// top of what `ipfs init --profile=test` generates, before any WithConfig
// tweak. The test profile of Kubo v0.42.0 already sets most of them; they are
// repeated so that a repo reused with WithRepo, or a future Kubo whose profile
// changes, still comes up loopback-only.
var loopbackDefaults = []struct {
	key   string
	value any
}{
	{"Addresses.API", "/ip4/127.0.0.1/tcp/0"},
	{"Addresses.Swarm", []string{"/ip4/127.0.0.1/tcp/0"}},
	// The test profile starts a gateway on a random port; no test uses it, and
	// an unused listener only costs start time.
	{"Addresses.Gateway", []string{}},
	{"Bootstrap", []string{}},
	{"Discovery.MDNS.Enabled", false},
	// AutoConf would fetch bootstrap peers, routers and DNS resolvers from
	// conf.ipfs-mainnet.org; AutoTLS would register with libp2p.direct.
	{"AutoConf.Enabled", false},
	{"AutoTLS.Enabled", false},
	{"DNS.Resolvers", map[string]string{}},
	{"Routing.DelegatedRouters", []string{}},
	{"Ipns.DelegatedPublishers", []string{}},
	// "auto" (the default) is the DHT plus delegated HTTP routers; with the
	// lists above empty it equals "dht", but naming "dht" keeps it so even if a
	// later Kubo expands an empty list to its built-in routers.
	{"Routing.Type", "dht"},
	{"Routing.LoopbackAddressesOnLanDHT", true},
	// UPnP and NAT-PMP discovery multicast on the LAN.
	{"Swarm.DisableNatPortMap", true},
	// The environment variable IPFS_TELEMETRY=off already wins over the
	// config; the config entry keeps a daemon started by hand on a test repo
	// quiet too.
	{"Plugins.Plugins.telemetry.Config.Mode", "off"},
	// noms-ipfs announces dataset heads over pubsub and IPNS-over-pubsub.
	{"Pubsub.Enabled", true},
	{"Ipns.UsePubsub", true},
}

// configMutator changes a decoded Kubo config in place.
type configMutator func(cfg map[string]any) error

// writeConfig applies the loopback defaults and then the caller's mutators to
// the config file of repo, refuses the result if it could reach a non-loopback
// address, and writes it back. Editing the JSON directly costs one file write;
// each `ipfs config` call would cost a process start.
func writeConfig(repo string, mutators []configMutator) error {
	path := filepath.Join(repo, "config")
	cfg, err := readConfig(path)
	if err != nil {
		return err
	}
	for _, d := range loopbackDefaults {
		if err := setConfigValue(cfg, d.key, d.value); err != nil {
			return err
		}
	}
	for _, m := range mutators {
		if err := m(cfg); err != nil {
			return fmt.Errorf("cannot apply config option to %s: %w", path, err)
		}
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode Kubo config %s: %w", path, err)
	}
	// Check what Kubo will read, not the Go values the mutators put in: a
	// []string and a []any of strings look alike only after a round trip.
	checked, err := decodeConfig(out)
	if err != nil {
		return fmt.Errorf("cannot decode Kubo config %s after editing: %w", path, err)
	}
	if err := checkLoopbackOnly(checked); err != nil {
		return fmt.Errorf("refusing Kubo config %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(out, '\n'), 0o600); err != nil {
		return fmt.Errorf("cannot write Kubo config: %w", err)
	}
	return nil
}

// readConfig decodes a Kubo config file.
func readConfig(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read Kubo config: %w", err)
	}
	cfg, err := decodeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("cannot decode Kubo config %s: %w", path, err)
	}
	return cfg, nil
}

// decodeConfig decodes numbers as json.Number: as float64 a value such as
// 10000000 would be written back as 1e+07, which Kubo's integer fields refuse.
func decodeConfig(data []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var cfg map[string]any
	if err := dec.Decode(&cfg); err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, errors.New("config is not a JSON object")
	}
	return cfg, nil
}

// setConfigValue sets the dotted key (as `ipfs config` names it, e.g.
// "Swarm.ConnMgr.Type") to value, creating missing or null objects on the way.
func setConfigValue(cfg map[string]any, key string, value any) error {
	parts := strings.Split(key, ".")
	m := cfg
	for i, p := range parts[:len(parts)-1] {
		switch next := m[p].(type) {
		case map[string]any:
			m = next
		case nil:
			child := map[string]any{}
			m[p] = child
			m = child
		default:
			return fmt.Errorf("cannot set config key %q: %q is a %T, not an object",
				key, strings.Join(parts[:i+1], "."), next)
		}
	}
	m[parts[len(parts)-1]] = value
	return nil
}

// configValue returns the value at the dotted key, or nil when absent.
func configValue(cfg map[string]any, key string) any {
	var v any = cfg
	for _, p := range strings.Split(key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// checkLoopbackOnly reports every setting of a decoded config that would let
// the daemon listen on, dial or query anything but loopback.
func checkLoopbackOnly(cfg map[string]any) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for _, key := range []string{"Addresses.API", "Addresses.Gateway", "Addresses.Swarm"} {
		addrs, err := configStrings(cfg, key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range addrs {
			if !isLocalMultiaddr(a) {
				bad("%s has non-loopback address %q", key, a)
			}
		}
	}
	for _, key := range []string{"Bootstrap", "Routing.DelegatedRouters", "Ipns.DelegatedPublishers"} {
		if v, err := configStrings(cfg, key); err != nil {
			errs = append(errs, err)
		} else if len(v) > 0 {
			bad("%s must be empty, is %q", key, v)
		}
	}
	if r, ok := configValue(cfg, "DNS.Resolvers").(map[string]any); ok && len(r) > 0 {
		bad("DNS.Resolvers must be empty, is %v", r)
	}
	peers, _ := configValue(cfg, "Peering.Peers").([]any)
	for _, p := range peers {
		pm, _ := p.(map[string]any)
		addrs, _ := pm["Addrs"].([]any)
		for _, a := range addrs {
			if s, _ := a.(string); !isLocalMultiaddr(s) {
				bad("Peering.Peers has non-loopback address %v", a)
			}
		}
	}
	// These default to on when absent, so they must be present and false.
	for _, key := range []string{"Discovery.MDNS.Enabled", "AutoConf.Enabled", "AutoTLS.Enabled"} {
		if v := configValue(cfg, key); v != false {
			bad("%s must be false, is %v", key, v)
		}
	}
	if v := configValue(cfg, "Swarm.DisableNatPortMap"); v != true {
		bad("Swarm.DisableNatPortMap must be true, is %v", v)
	}
	if v := configValue(cfg, "Plugins.Plugins.telemetry.Config.Mode"); v != "off" {
		bad(`Plugins.Plugins.telemetry.Config.Mode must be "off", is %v`, v)
	}
	// "delegated" and "custom" route through HTTP routers.
	switch v := configValue(cfg, "Routing.Type"); v {
	case nil, "", "auto", "autoclient", "dht", "dhtclient", "dhtserver", "none":
	default:
		bad("Routing.Type %v may query HTTP routers; use dht or none", v)
	}
	return errors.Join(errs...)
}

// configStrings reads a key holding a string list; Kubo also accepts a single
// string for address lists, where "" means none.
func configStrings(cfg map[string]any, key string) ([]string, error) {
	switch v := configValue(cfg, key).(type) {
	case nil:
		return nil, nil
	case string:
		if v == "" {
			return nil, nil
		}
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s holds %T %v, not a string", key, e, e)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%s is a %T, not a list of strings", key, v)
	}
}

// isLocalMultiaddr reports whether a multiaddr names a loopback IP or a Unix
// socket. Names that need DNS (/dns4/localhost) are refused: resolving them
// is itself a query that may leave the machine.
func isLocalMultiaddr(addr string) bool {
	parts := strings.Split(addr, "/")
	if len(parts) < 3 || parts[0] != "" {
		return false
	}
	switch parts[1] {
	case "unix":
		return true
	case "ip4", "ip6":
		ip := net.ParseIP(parts[2])
		return ip != nil && ip.IsLoopback()
	default:
		return false
	}
}
