// Command noms-ipfs-probe is the cluster tests' tool inside the cluster. It
// runs in one peer's network namespace and talks to that peer's Kubo over
// loopback RPC:
//
//	pubsub-recv  subscribe to a topic, report the one-way latency of the
//	             messages pubsub-send stamps (containers share the host's
//	             clock), as JSON: the raw pubsub baseline
//	pubsub-send  publish timestamped messages on a topic
//	hostile      attack a database's head topic: replayed, forged,
//	             unknown-writer and garbage records, then a bounded flood;
//	             prints what it sent as JSON
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
	count := fs.Int("count", 100, "messages to send or receive")
	interval := fs.Duration("interval", 20*time.Millisecond, "pause between messages sent")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long")
	victim := fs.String("victim", "", "hostile: writer key (peer ID) whose records to replay and forge")
	flood := fs.Int("flood", 1000, "hostile: messages in the flood")
	rate := fs.Int("rate", 200, "hostile: flood messages per second")
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
		id, err := peer.Decode(*victim)
		if err != nil {
			return fmt.Errorf("--victim: %w", err)
		}
		return hostile(ctx, node, *topic, id, *flood, *rate, out)
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// stamp is the body of a timing message.
type stamp struct {
	Seq  int   `json:"seq"`
	Sent int64 `json:"sent"` // unix ns
}

// recv prints {"ready":true} once subscribed, then a summary after count
// stamped messages (or the timeout).
func recv(ctx context.Context, node *ipfsnode.Node, topic string, count int, out *json.Encoder) error {
	sub, err := node.API().PubSub().Subscribe(ctx, topic)
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := out.Encode(map[string]bool{"ready": true}); err != nil {
		return err
	}
	var lat []float64
	seen := map[int]bool{}
	for len(lat) < count {
		msg, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return err
		}
		now := time.Now().UnixNano()
		var s stamp
		if json.Unmarshal(msg.Data(), &s) != nil || s.Sent == 0 || seen[s.Seq] {
			continue
		}
		seen[s.Seq] = true
		lat = append(lat, float64(now-s.Sent)/1e6)
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	return out.Encode(map[string]any{
		"received": len(lat), "p50_ms": quantile(sorted, 0.5), "p99_ms": quantile(sorted, 0.99), "latencies_ms": lat,
	})
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// send waits until the topic has a subscriber, then publishes count stamped
// messages from one goroutine (Kubo drops a sender's message that is not
// newer than its last one, so publishes must not overlap).
func send(ctx context.Context, node *ipfsnode.Node, topic string, count int, interval time.Duration) error {
	if err := waitTopicPeer(ctx, node, topic); err != nil {
		return err
	}
	for i := range count {
		b, _ := json.Marshal(stamp{Seq: i, Sent: time.Now().UnixNano()})
		if err := node.API().PubSub().Publish(ctx, topic, b); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
	return nil
}

func waitTopicPeer(ctx context.Context, node *ipfsnode.Node, topic string) error {
	for {
		ps, err := node.API().PubSub().Peers(ctx, options.PubSub.Topic(topic))
		if err == nil && len(ps) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no peer joined topic %s: %w", topic, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// hostile listens on the topic until it holds two records of the victim
// (the older one is the replay), then sends, each `rounds` times: the
// victim's older record (replay), a record that names the victim's key but
// is signed by another (forged), a valid record of a key nobody allowed
// (unknown writer) and random bytes (garbage); then `flood` messages of all
// four kinds at `rate` per second. It prints how many of each it sent.
func hostile(ctx context.Context, node *ipfsnode.Node, topic string, victim peer.ID, flood, rate int, out *json.Encoder) error {
	sub, err := node.API().PubSub().Subscribe(ctx, topic)
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := out.Encode(map[string]bool{"ready": true}); err != nil {
		return err
	}
	older, newer, err := captureTwo(ctx, sub, victim)
	if err != nil {
		return err
	}
	stranger, _, err := ic.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return err
	}
	root := chunks.Of([]byte("a root no peer may adopt"))
	seq, err := newer.Sequence()
	if err != nil {
		return err
	}
	unknown, err := signedRecord(stranger, root, seq+1)
	if err != nil {
		return err
	}
	forged, err := forgedRecord(stranger, victim, root, seq+1)
	if err != nil {
		return err
	}
	replay, err := ipns.MarshalRecord(older)
	if err != nil {
		return err
	}
	if replay, err = withPublicKey(replay, victim); err != nil {
		return err
	}
	kinds := []struct {
		name string
		data func() []byte
	}{
		{"replay", func() []byte { return replay }},
		{"forged", func() []byte { return forged }},
		{"unknown-writer", func() []byte { return unknown }},
		{"garbage", func() []byte { b := make([]byte, 64+int(randByte())); _, _ = rand.Read(b); return b }},
	}
	sent := map[string]int{}
	publish := func(kind int) error {
		k := kinds[kind%len(kinds)]
		if err := node.API().PubSub().Publish(ctx, topic, k.data()); err != nil {
			return fmt.Errorf("publish %s: %w", k.name, err)
		}
		sent[k.name]++
		return nil
	}
	// Each kind alone first, a few times (pubsub is lossy), slowly enough
	// that a receiver's counters tell them apart.
	for k := range kinds {
		for range 3 {
			if err := publish(k); err != nil {
				return err
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	start := time.Now()
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	for i := range flood {
		if err := publish(i); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return out.Encode(map[string]any{"sent": sent, "flood": flood, "flood_seconds": time.Since(start).Seconds()})
}

func randByte() byte { var b [1]byte; _, _ = rand.Read(b[:]); return b[0] }

// captureTwo returns two records of victim from the topic, older first.
func captureTwo(ctx context.Context, sub iface.PubSubSubscription, victim peer.ID) (older, newer *ipns.Record, err error) {
	var firstSeq uint64
	for {
		msg, err := sub.Next(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("waiting for two heads of %s: %w", victim, err)
		}
		rec, err := ipns.UnmarshalRecord(msg.Data())
		if err != nil {
			continue
		}
		pk, err := rec.PubKey()
		if err != nil {
			continue
		}
		if id, err := peer.IDFromPublicKey(pk); err != nil || id != victim {
			continue
		}
		seq, err := rec.Sequence()
		if err != nil {
			continue
		}
		switch {
		case older == nil:
			older, firstSeq = rec, seq
		case seq > firstSeq:
			return older, rec, nil
		}
	}
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
