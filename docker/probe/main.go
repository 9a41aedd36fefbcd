// Command noms-ipfs-probe is the cluster tests' tool inside the cluster. It
// runs in one peer's network namespace and talks to that peer's Kubo over
// loopback RPC. It prints one JSON object per line, each with an "event":
//
//	pubsub-recv  subscribe to a topic ("ready"), then report the one-way
//	             latency of the messages pubsub-send stamps ("done"):
//	             containers share the host's clock. The raw pubsub baseline.
//	pubsub-send  publish timestamped messages on a topic, then end markers
//	hostile      attack a database's head topic: replayed, forged,
//	             unknown-writer, garbage and oversized records, then a
//	             bounded flood of them ("ready", "captured", "flood-start",
//	             "done" with what it sent)
//
// It is a test tool: the images docker-compose.yml runs do not contain it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ipfs/boxo/ipns"
	ipns_pb "github.com/ipfs/boxo/ipns/pb"
	"github.com/ipfs/boxo/path"
	iface "github.com/ipfs/kubo/core/coreiface"
	"github.com/ipfs/kubo/core/coreiface/options"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/headstore"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "noms-ipfs-probe:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: noms-ipfs-probe pubsub-recv|pubsub-send|hostile [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	api := fs.String("api", "/ip4/127.0.0.1/tcp/5001", "Kubo RPC address")
	topic := fs.String("topic", "", "pubsub topic")
	count := fs.Int("count", 100, "pubsub-send, pubsub-recv: messages to send or receive")
	interval := fs.Duration("interval", 20*time.Millisecond, "pubsub-send: pause between messages")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	victims := fs.String("victim", "", "hostile: comma-separated writer keys (peer IDs) whose records to replay and forge")
	flood := fs.Int("flood", 1000, "hostile: messages in the flood")
	rate := fs.Int("rate", 200, "hostile: flood messages per second")
	floodFor := fs.Duration("flood-for", 0, "hostile: end the flood after this long even if messages remain (0: no bound)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *topic == "" {
		return errors.New("--topic is required")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	node, err := ipfsnode.Connect(ctx, *api)
	if err != nil {
		return err
	}
	defer node.Close()
	out := json.NewEncoder(os.Stdout)
	switch args[0] {
	case "pubsub-recv":
		return recv(ctx, node, *topic, *count, out)
	case "pubsub-send":
		return send(ctx, node, *topic, *count, *interval)
	case "hostile":
		var ids []peer.ID
		for _, v := range strings.Split(*victims, ",") {
			id, err := peer.Decode(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("--victim %q: %w", v, err)
			}
			ids = append(ids, id)
		}
		if *flood < 0 || *rate <= 0 || *floodFor < 0 {
			return errors.New("--flood and --flood-for must be ≥ 0, --rate > 0")
		}
		return hostile(ctx, node, *topic, ids, flooding{count: *flood, rate: *rate, maxTime: *floodFor}, out)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// stamp is the body of a timing message; End marks the end of a run.
type stamp struct {
	Seq  int   `json:"seq"`
	Sent int64 `json:"sent"` // unix ns
	End  bool  `json:"end,omitempty"`
}

// endMarkers is how many end markers pubsub-send sends after its messages:
// pubsub may lose one.
const endMarkers = 5

// recv prints {"event":"ready"} once subscribed, then a summary after count
// stamped messages, an end marker, or the timeout, whichever comes first.
func recv(ctx context.Context, node *ipfsnode.Node, topic string, count int, out *json.Encoder) error {
	sub, err := node.API().PubSub().Subscribe(ctx, topic)
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := out.Encode(map[string]any{"event": "ready"}); err != nil {
		return err
	}
	var lat []float64
	seen := map[int]bool{}
	ended := false
	for len(lat) < count && !ended {
		msg, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		now := time.Now().UnixNano()
		var s stamp
		if json.Unmarshal(msg.Data(), &s) != nil {
			continue
		}
		if s.End {
			ended = true
			continue
		}
		if s.Sent == 0 || seen[s.Seq] {
			continue
		}
		seen[s.Seq] = true
		lat = append(lat, float64(now-s.Sent)/1e6)
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	return out.Encode(map[string]any{
		"event": "done", "received": len(lat), "expected": count, "ended": ended, "timed_out": ctx.Err() != nil,
		"p50_ms": quantile(sorted, 0.5), "p99_ms": quantile(sorted, 0.99), "latencies_ms": lat,
	})
}

// quantile is the nearest-rank q-quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// send waits until the topic has a subscriber, then publishes count stamped
// messages from one goroutine (Kubo drops a sender's message that is not
// newer than its last one, so publishes must not overlap), then end
// markers.
func send(ctx context.Context, node *ipfsnode.Node, topic string, count int, interval time.Duration) error {
	if err := waitTopicPeer(ctx, node, topic); err != nil {
		return err
	}
	for i := range count + endMarkers {
		b, err := json.Marshal(stamp{Seq: i, Sent: time.Now().UnixNano(), End: i >= count})
		if err != nil {
			return err
		}
		if err := node.API().PubSub().Publish(ctx, topic, b); err != nil {
			return fmt.Errorf("publish message %d: %w", i, err)
		}
		if err := pause(ctx, interval); err != nil {
			return err
		}
	}
	return nil
}

func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func waitTopicPeer(ctx context.Context, node *ipfsnode.Node, topic string) error {
	for {
		ps, err := node.API().PubSub().Peers(ctx, options.PubSub.Topic(topic))
		if err == nil && len(ps) > 0 {
			return nil
		}
		if err := pause(ctx, 50*time.Millisecond); err != nil {
			return fmt.Errorf("no peer joined topic %s: %w", topic, err)
		}
	}
}

// attack is one kind of hostile message and the drop reason a sync other
// than the record's named writer should count it under.
type attack struct {
	name   string
	reason string
	data   func() ([]byte, error)
}

// flooding bounds the flood: count messages at rate per second, for no
// longer than maxTime unless it is zero. Publishes go one at a time (see
// send), so a slow daemon lowers the rate.
type flooding struct {
	count, rate int
	maxTime     time.Duration
}

// hostile listens on the topic until it holds two records of every victim
// (the older one is the replay), then sends, each a few times: every
// victim's older record (replay), a record that names the victim's key but
// is signed by another (forged), a valid record of a key nobody allowed
// (unknown writer), random bytes (garbage) and a record larger than any
// sync reads (oversized); then a flood of all those kinds. A sync takes a
// replay of its own record for its echo ("self"), so attacking two victims
// makes every sync see every reason. It ends with a "done" line saying
// what it sent.
func hostile(ctx context.Context, node *ipfsnode.Node, topic string, victims []peer.ID, flood flooding, out *json.Encoder) error {
	sub, err := node.API().PubSub().Subscribe(ctx, topic)
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := out.Encode(map[string]any{"event": "ready"}); err != nil {
		return err
	}
	captured, err := captureTwo(ctx, sub, victims)
	if err != nil {
		return err
	}
	stranger, _, err := ic.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return err
	}
	strangerID, err := peer.IDFromPrivateKey(stranger)
	if err != nil {
		return err
	}
	// Every forged or unknown record names this root: no sync may ever
	// hold it as anyone's head.
	root := chunks.Of([]byte("a root no peer may adopt"))
	unknown, err := signedRecord(stranger, root, 1)
	if err != nil {
		return err
	}
	var attacks []attack
	for _, v := range victims {
		older, newer := captured[v][0], captured[v][1]
		seq, err := newer.Sequence()
		if err != nil {
			return err
		}
		forged, err := forgedRecord(stranger, v, root, seq+1)
		if err != nil {
			return err
		}
		replay, err := ipns.MarshalRecord(older)
		if err != nil {
			return err
		}
		if replay, err = withPublicKey(replay, v); err != nil {
			return err
		}
		attacks = append(attacks,
			attack{"replay", headstore.ReasonReplay, constant(replay)},
			attack{"forged", headstore.ReasonBadSignature, constant(forged)})
	}
	attacks = append(attacks,
		attack{"unknown-writer", headstore.ReasonUntrusted, constant(unknown)},
		attack{"garbage", headstore.ReasonMalformed, garbage},
		attack{"oversized", headstore.ReasonOversized, oversized})
	if err := out.Encode(map[string]any{"event": "captured", "victims": victims}); err != nil {
		return err
	}
	sent := map[string]int{}
	publish := func(a attack) error {
		data, err := a.data()
		if err != nil {
			return err
		}
		if err := node.API().PubSub().Publish(ctx, topic, data); err != nil {
			return fmt.Errorf("publish %s: %w", a.name, err)
		}
		sent[a.name]++
		return nil
	}
	// Each kind alone first, a few times (pubsub is lossy), spaced out so
	// that a receiver's counters tell them apart.
	for _, a := range attacks {
		for range 3 {
			if err := publish(a); err != nil {
				return err
			}
			if err := pause(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
	}
	start := time.Now()
	if err := out.Encode(map[string]any{"event": "flood-start", "time": start}); err != nil {
		return err
	}
	tick := time.NewTicker(time.Second / time.Duration(flood.rate))
	defer tick.Stop()
	var stop <-chan time.Time // nil, never ready, without a bound
	if flood.maxTime > 0 {
		t := time.NewTimer(flood.maxTime)
		defer t.Stop()
		stop = t.C
	}
	flooded := 0
floodLoop:
	for flooded < flood.count {
		if err := publish(attacks[flooded%len(attacks)]); err != nil {
			return err
		}
		flooded++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			break floodLoop
		case <-tick.C:
		}
	}
	end := time.Now()
	reasons := map[string]string{}
	for _, a := range attacks {
		reasons[a.name] = a.reason
	}
	return out.Encode(map[string]any{
		"event": "done", "sent": sent, "reasons": reasons, "flood": flooded,
		"flood_start": start, "flood_end": end, "flood_seconds": end.Sub(start).Seconds(),
		"forged_root": root.String(), "stranger": strangerID.String(),
	})
}

func constant(b []byte) func() ([]byte, error) { return func() ([]byte, error) { return b, nil } }

// garbage is 64 to 319 random bytes: no IPNS record.
func garbage() ([]byte, error) {
	var n [1]byte
	if _, err := rand.Read(n[:]); err != nil {
		return nil, err
	}
	b := make([]byte, 64+int(n[0]))
	_, err := rand.Read(b)
	return b, err
}

// oversized is random bytes just over the largest record a sync reads.
func oversized() ([]byte, error) {
	b := make([]byte, headstore.MaxRecordSize+1)
	_, err := rand.Read(b)
	return b, err
}

// captureTwo returns, for every victim, two of its records from the topic,
// older (lower sequence number) first.
func captureTwo(ctx context.Context, sub iface.PubSubSubscription, victims []peer.ID) (map[peer.ID][2]*ipns.Record, error) {
	got := map[peer.ID][2]*ipns.Record{}
	want := map[peer.ID]bool{}
	for _, v := range victims {
		want[v] = true
	}
	complete := 0
	for complete < len(want) {
		msg, err := sub.Next(ctx)
		if err != nil {
			return nil, fmt.Errorf("waiting for two heads of each of %v (%d complete): %w", victims, complete, err)
		}
		rec, err := ipns.UnmarshalRecord(msg.Data())
		if err != nil {
			continue
		}
		pk, err := rec.PubKey()
		if err != nil {
			continue
		}
		id, err := peer.IDFromPublicKey(pk)
		if err != nil || !want[id] {
			continue
		}
		seq, err := rec.Sequence()
		if err != nil {
			continue
		}
		pair := got[id]
		switch {
		case pair[0] == nil:
			pair[0] = rec
		case pair[1] == nil:
			first, err := pair[0].Sequence()
			if err != nil || seq <= first {
				continue
			}
			pair[1] = rec
			complete++
		default:
			continue
		}
		got[id] = pair
	}
	return got, nil
}

func signedRecord(k ic.PrivKey, root chunks.Hash, seq uint64) ([]byte, error) {
	rec, err := ipns.NewRecord(k, path.FromCid(root.CID()), seq, time.Now().Add(time.Hour), time.Minute, ipns.WithPublicKey(true))
	if err != nil {
		return nil, err
	}
	return ipns.MarshalRecord(rec)
}

// forgedRecord is signed by k but carries victim's public key: it claims to
// be the victim's head.
func forgedRecord(k ic.PrivKey, victim peer.ID, root chunks.Hash, seq uint64) ([]byte, error) {
	b, err := signedRecord(k, root, seq)
	if err != nil {
		return nil, err
	}
	return withPublicKey(b, victim)
}

// withPublicKey embeds the public key of id in a record, as noms-ipfs
// announcements carry it.
func withPublicKey(record []byte, id peer.ID) ([]byte, error) {
	pk, err := id.ExtractPublicKey()
	if err != nil {
		return nil, err
	}
	raw, err := ic.MarshalPublicKey(pk)
	if err != nil {
		return nil, err
	}
	var pb ipns_pb.IpnsRecord
	if err := proto.Unmarshal(record, &pb); err != nil {
		return nil, err
	}
	pb.PubKey = raw
	return proto.Marshal(&pb)
}
