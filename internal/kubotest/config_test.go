package kubotest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testProfileConfig is the part of `ipfs init --profile=test` output (Kubo
// v0.42.0) that matters here, with the gateway the profile enables.
const testProfileConfig = `{
  "Identity": {"PeerID": "12D3KooWDidDPoxkcYsvnGM28XxAAEwEMyKixYhJmJBnZhpfDcrn"},
  "Datastore": {"StorageMax": "10GB", "StorageGCWatermark": 90, "BloomFilterSize": 0},
  "Addresses": {"Swarm": ["/ip4/127.0.0.1/tcp/0"], "API": "/ip4/127.0.0.1/tcp/0", "Gateway": "/ip4/127.0.0.1/tcp/0"},
  "Discovery": {"MDNS": {"Enabled": false}},
  "Routing": {"LoopbackAddressesOnLanDHT": true, "DelegatedRouters": []},
  "Bootstrap": [],
  "Swarm": {"DisableNatPortMap": true, "ConnMgr": {}, "ResourceMgr": {"MaxMemory": 10000000000}},
  "AutoTLS": {"Enabled": false},
  "AutoConf": {"Enabled": false},
  "Plugins": {"Plugins": null}
}`

func TestWriteConfigAppliesDefaultsAndKeepsNumbers(t *testing.T) {
	repo := t.TempDir()
	path := filepath.Join(repo, "config")
	if err := os.WriteFile(path, []byte(testProfileConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := writeConfig(repo, nil); err != nil {
		t.Fatalf("writeConfig: %v", err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// As float64 this would come back as 1e+10, which Kubo refuses.
	if !strings.Contains(string(raw), `"MaxMemory": 10000000000`) {
		t.Errorf("large integer not preserved:\n%s", raw)
	}
	cfg, err := readConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range loopbackDefaults {
		got, _ := json.Marshal(configValue(cfg, d.key))
		want, _ := json.Marshal(d.value)
		if string(got) != string(want) {
			t.Errorf("%s = %s, want %s", d.key, got, want)
		}
	}
	if err := checkLoopbackOnly(cfg); err != nil {
		t.Errorf("defaults are not loopback-only: %v", err)
	}
}

func TestCheckLoopbackOnly(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		value any
		want  string // "" = accepted
	}{
		{"ipv6 loopback swarm", "Addresses.Swarm", []any{"/ip6/::1/tcp/0"}, ""},
		{"unix socket api", "Addresses.API", "/unix/tmp/api.sock", ""},
		{"other loopback ip", "Addresses.Swarm", []any{"/ip4/127.0.0.2/tcp/0"}, ""},
		{"no routing", "Routing.Type", "none", ""},
		{"loopback peering", "Peering.Peers", []any{map[string]any{"Addrs": []any{"/ip4/127.0.0.1/tcp/4001"}}}, ""},
		{"public swarm", "Addresses.Swarm", []any{"/ip4/0.0.0.0/tcp/4001"}, "Addresses.Swarm has non-loopback"},
		{"quic on lan", "Addresses.Swarm", []any{"/ip4/10.0.0.1/udp/4001/quic-v1"}, "non-loopback"},
		{"gateway name", "Addresses.Gateway", "/dns4/localhost/tcp/8080", "Addresses.Gateway has non-loopback"},
		{"bootstrap", "Bootstrap", []any{"/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"}, "Bootstrap must be empty"},
		{"delegated router", "Routing.DelegatedRouters", []any{"https://cid.contact"}, "Routing.DelegatedRouters must be empty"},
		{"delegated publisher", "Ipns.DelegatedPublishers", []any{"auto"}, "Ipns.DelegatedPublishers must be empty"},
		{"doh resolver", "DNS.Resolvers", map[string]any{".": "https://1.1.1.1/dns-query"}, "DNS.Resolvers must be empty"},
		{"mdns default", "Discovery.MDNS.Enabled", nil, "Discovery.MDNS.Enabled must be false"},
		{"autoconf", "AutoConf.Enabled", true, "AutoConf.Enabled must be false"},
		{"autotls default", "AutoTLS.Enabled", nil, "AutoTLS.Enabled must be false"},
		{"upnp", "Swarm.DisableNatPortMap", false, "Swarm.DisableNatPortMap must be true"},
		{"telemetry", "Plugins.Plugins.telemetry.Config.Mode", "auto", "telemetry.Config.Mode"},
		{"delegated routing", "Routing.Type", "delegated", "Routing.Type delegated"},
		{"public peering", "Peering.Peers", []any{map[string]any{"Addrs": []any{"/ip4/198.51.100.7/tcp/4001"}}}, "Peering.Peers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := decodeConfig([]byte(testProfileConfig))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range loopbackDefaults {
				if err := setConfigValue(cfg, d.key, d.value); err != nil {
					t.Fatal(err)
				}
			}
			if err := setConfigValue(cfg, tt.key, tt.value); err != nil {
				t.Fatal(err)
			}
			// As writeConfig does: check what Kubo will read.
			out, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if cfg, err = decodeConfig(out); err != nil {
				t.Fatal(err)
			}
			err = checkLoopbackOnly(cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestSetConfigValue(t *testing.T) {
	cfg := map[string]any{"Plugins": map[string]any{"Plugins": nil}, "Bootstrap": []any{}}
	if err := setConfigValue(cfg, "Plugins.Plugins.telemetry.Config.Mode", "off"); err != nil {
		t.Fatalf("through a null object: %v", err)
	}
	if got := configValue(cfg, "Plugins.Plugins.telemetry.Config.Mode"); got != "off" {
		t.Errorf("Mode = %v, want off", got)
	}
	if err := setConfigValue(cfg, "Bootstrap.X", 1); err == nil {
		t.Error("setting a key below a list succeeded, want an error")
	}
}

func TestAPIURL(t *testing.T) {
	tests := []struct{ maddr, want, err string }{
		{"/ip4/127.0.0.1/tcp/5001", "http://127.0.0.1:5001", ""},
		{"/ip6/::1/tcp/5001", "http://[::1]:5001", ""},
		{"/ip4/192.0.2.1/tcp/5001", "", "non-loopback"},
		{"/unix/tmp/api", "", "want /ip4"},
		{"/ip4/127.0.0.1/udp/5001", "", "want /ip4"},
	}
	for _, tt := range tests {
		got, err := apiURL(tt.maddr)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("apiURL(%q) = %q, %v; want %q, error containing %q", tt.maddr, got, err, tt.want, tt.err)
		}
	}
}

func TestPinnedKuboVersion(t *testing.T) {
	tests := []struct{ gomod, want string }{
		{"module m\n\nrequire github.com/ipfs/kubo v0.42.0\n", "0.42.0"},
		{"module m\n\nrequire (\n\tgithub.com/ipfs/boxo v0.40.0 // indirect\n\tgithub.com/ipfs/kubo v0.42.0\n)\n\ntool github.com/ipfs/kubo/cmd/ipfs\n", "0.42.0"},
		{"module m\n\nrequire github.com/ipfs/kubo-x v1.0.0\n", ""},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "go.mod")
		if err := os.WriteFile(path, []byte(tt.gomod), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := pinnedKuboVersion(path); err != nil || got != tt.want {
			t.Errorf("pinnedKuboVersion(%q) = %q, %v; want %q", tt.gomod, got, err, tt.want)
		}
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := &tailBuffer{limit: 8}
	b.Write([]byte("0123456789"))
	b.Write([]byte("ab"))
	if got, want := b.String(), "[earlier output dropped]\n456789ab"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
