package headstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	iface "github.com/ipfs/kubo/core/coreiface"
	"github.com/ipfs/kubo/core/coreiface/options"
	ic "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/ipfsnode"
)

// Head is one writer's signed database root.
type Head struct {
	Writer peer.ID     // the writer's key (libp2p peer ID form of its ed25519 public key)
	Root   chunks.Hash // the writer's database root (a noms-ipfs db root chunk)
	Seq    uint64      // IPNS sequence number
	EOL    time.Time   // record validity
	Record []byte      // the signed IPNS record (marshalled), as received, with the writer's public key embedded so that it verifies on its own
}

// Config says which database a Store serves and whom it trusts.
type Config struct {
	// Database names the database; its heads travel on the pubsub topic
	// "noms-ipfs/db/<Database>". Required.
	Database string
	// KeyName is the Kubo keystore name of this writer's key; default
	// "noms-ipfs-<Database>". An ed25519 key is generated on first use.
	KeyName string
	// Allowed are the writers whose heads are accepted; our own key always is.
	Allowed []peer.ID
	// Open accepts any writer with a valid signature instead.
	Open bool
	// MaxWriters bounds how many writers an open database keeps heads of,
	// beyond the allowed ones: anyone can make keys, and each accepted
	// writer costs memory and sync work. Heads of further new writers are
	// dropped (ReasonTooManyWriters). Default 1024.
	MaxWriters int
	// Announce is how often the last head is re-published (IPNS) and
	// re-announced (pubsub), so that peers that missed a message or joined
	// late catch up within one interval. Default 10 s; negative turns
	// re-announcing off.
	Announce time.Duration
	// TTL is the IPNS record TTL: how long resolvers may cache it.
	// Default 30 s.
	TTL time.Duration
	// Logger receives drops and accepts at debug level, trouble at warn;
	// default discards.
	Logger *slog.Logger
}

const (
	defaultAnnounce = 10 * time.Second
	defaultTTL      = 30 * time.Second
	// defaultMaxWriters bounds the writers an open database tracks.
	defaultMaxWriters = 1024
	// TopicPrefix is prefixed to Config.Database to name the pubsub topic.
	TopicPrefix = "noms-ipfs/db/"
	// DefaultKeyPrefix is prefixed to Config.Database to name the key when
	// Config.KeyName is empty.
	DefaultKeyPrefix = "noms-ipfs-"
)

// Stats counts what a Store received and did. Received counts messages
// taken off the topic (our own echoes included) and Resolved records
// fetched by Resolve; each is counted together with its outcome, accepted
// or dropped under a reason (a resolved record older than the known head is
// neither: the routing system lags behind announcements).
type Stats struct {
	Received  int64            // announcements received on the topic
	Resolved  int64            // records fetched by Resolve and ResolveAll
	Accepted  int64            // heads accepted from announcements or resolves
	Published int64            // heads published by Publish
	Announced int64            // announcements sent: Publish plus re-announcements
	Dropped   map[string]int64 // by Reason*
}

// Store publishes this writer's head and receives the heads of the others
// for one database. Its methods are safe for concurrent use.
type Store struct {
	node    *ipfsnode.Node
	api     iface.CoreAPI
	log     *slog.Logger
	topic   string
	keyName string
	self    peer.ID
	selfPK  ic.PubKey
	open    bool
	allowed map[peer.ID]bool // never modified after New
	ttl     time.Duration

	ctx    context.Context // cancelled by Close: stops every goroutine
	cancel context.CancelFunc
	wg     sync.WaitGroup
	queue  *headQueue

	// pubMu makes publishes one at a time: Kubo drops a pubsub message
	// whose per-node sequence number is not above the last one ("validation
	// ignored"), which concurrent publishes from one node trigger.
	pubMu    sync.Mutex
	lastSeq  uint64      // sequence of the last record published under our key; under pubMu
	lastRoot chunks.Hash // its root; under pubMu
	hasLast  bool        // a record of ours exists; under pubMu
	lastAnn  []byte      // its announcement; under pubMu
	// bgPut is the put of our last record that publishRecord left running,
	// if it may still run; under pubMu.
	bgPut *backgroundPut
	// putToken is held while a put of our record runs; Close takes it to
	// wait for the last one.
	putToken chan struct{}

	maxWriters int // of Config.MaxWriters

	mu     sync.Mutex
	known  map[peer.ID]Head
	others int // writers in known that are not allowed (open databases)
	stats  Stats
	closed bool
}

// New starts a head store on the Kubo node n, which the caller keeps
// owning: it finds or generates the writer key, reads the last record
// published under it (so sequence numbers keep growing across restarts),
// subscribes to the database topic, and starts the goroutines that receive
// announcements and re-announce. Close stops them. Call ResolveAll after New
// to catch up with heads announced before the subscription.
func New(ctx context.Context, n *ipfsnode.Node, cfg Config) (*Store, error) {
	if cfg.Database == "" {
		return nil, errors.New("cannot start head store: no database name")
	}
	if n == nil {
		return nil, errors.New("cannot start head store: no Kubo node")
	}
	if cfg.KeyName == "" {
		cfg.KeyName = DefaultKeyPrefix + cfg.Database
	}
	if cfg.Announce == 0 {
		cfg.Announce = defaultAnnounce
	}
	if cfg.TTL <= 0 {
		cfg.TTL = defaultTTL
	}
	if cfg.MaxWriters <= 0 {
		cfg.MaxWriters = defaultMaxWriters
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// The store's goroutines and its subscription live until Close, not
	// until the ctx of New ends.
	s := newStore(context.WithoutCancel(ctx), cfg)
	s.node, s.api = n, n.API()
	s.log = cfg.Logger.With("database", cfg.Database)

	id, pk, err := s.writerKey(ctx)
	if err != nil {
		s.cancel()
		return nil, err
	}
	s.self, s.selfPK = id, pk
	s.allowed[id] = true
	s.loadOwnHead(ctx)

	// Over RPC the subscription is a streaming request bound to the ctx it
	// was made with, so it takes the store's; ctx only bounds the call.
	stop := context.AfterFunc(ctx, s.cancel)
	sub, cancelSub, err := s.subscribe(s.ctx)
	if !stop() {
		if err == nil {
			s.endSubscription(sub, cancelSub)
		}
		err = errors.Join(err, ctx.Err())
	}
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("cannot subscribe to pubsub topic %q on %s (is Pubsub.Enabled set?): %w", s.topic, n, err)
	}
	s.wg.Go(func() { s.queue.run(s.ctx) })
	s.wg.Go(func() { s.receive(sub, cancelSub) })
	if cfg.Announce > 0 {
		s.wg.Go(func() { s.reannounce(cfg.Announce) })
	}
	s.log.Debug("head store started", "writer", s.self, "key", s.keyName, "topic", s.topic, "open", s.open, "allowed", len(s.allowed))
	return s, nil
}

// newStore sets up the state that needs no Kubo node; tests of trust,
// replay and delivery use it directly.
func newStore(parent context.Context, cfg Config) *Store {
	s := &Store{
		topic:      TopicPrefix + cfg.Database,
		keyName:    cfg.KeyName,
		open:       cfg.Open,
		allowed:    make(map[peer.ID]bool, len(cfg.Allowed)+1),
		ttl:        cfg.TTL,
		maxWriters: cfg.MaxWriters,
		log:        cfg.Logger,
		known:      make(map[peer.ID]Head),
		queue:      newHeadQueue(),
		stats:      Stats{Dropped: make(map[string]int64)},
		putToken:   make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxWriters <= 0 {
		s.maxWriters = defaultMaxWriters
	}
	for _, w := range cfg.Allowed {
		s.allowed[w] = true
	}
	s.ctx, s.cancel = context.WithCancel(parent)
	return s
}

// writerKey finds the key named s.keyName in Kubo's keystore, generating an
// ed25519 one if there is none, and returns its public key, which the peer
// ID of an ed25519 key contains (Kubo never exports private keys over RPC,
// and nothing here needs it: Kubo signs).
func (s *Store) writerKey(ctx context.Context) (peer.ID, ic.PubKey, error) {
	id, err := s.findKey(ctx)
	if err != nil {
		return "", nil, err
	}
	if id == "" {
		k, err := s.api.Key().Generate(ctx, s.keyName, options.Key.Type(options.Ed25519Key))
		if err != nil {
			// Another process may have generated it since we listed.
			if id, _ = s.findKey(ctx); id == "" {
				return "", nil, fmt.Errorf("cannot generate writer key %q in %s: %w", s.keyName, s.node, err)
			}
		} else {
			id = k.ID()
			s.log.Info("generated writer key", "key", s.keyName, "writer", id)
		}
	}
	pk, err := id.ExtractPublicKey()
	if err != nil || pk.Type() != ic.Ed25519 {
		return "", nil, fmt.Errorf("%w: key %q is %s", ErrKeyType, s.keyName, id)
	}
	return id, pk, nil
}

func (s *Store) findKey(ctx context.Context) (peer.ID, error) {
	keys, err := s.api.Key().List(ctx)
	if err != nil {
		return "", fmt.Errorf("cannot list keys of %s: %w", s.node, err)
	}
	for _, k := range keys {
		if k.Name() == s.keyName {
			return k.ID(), nil
		}
	}
	return "", nil
}

// Self returns this writer's key: what other peers put in their Allowed.
func (s *Store) Self() peer.ID { return s.self }

// KeyName returns the keystore name of this writer's key.
func (s *Store) KeyName() string { return s.keyName }

// Topic returns the pubsub topic the store announces on.
func (s *Store) Topic() string { return s.topic }

// Heads returns the heads accepted from other writers, in order of arrival
// per writer. It never yields our own. If the reader falls behind, only the
// newest head of each writer is kept for it. The channel is closed by Close.
func (s *Store) Heads() <-chan Head { return s.queue.out }

// Known returns the newest accepted head of every writer, our own last
// published (or, after a restart, last found) head included.
func (s *Store) Known() map[peer.ID]Head {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.known)
}

// Stats returns a copy of the counters.
func (s *Store) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Dropped = maps.Clone(s.stats.Dropped)
	return st
}

// Close stops receiving and re-announcing and closes the Heads channel. It
// does not close the Kubo node. Calls after the first return nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	// A put left running by a publish ends with s.ctx: wait for it.
	s.putToken <- struct{}{}
	return nil
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// trusted reports whether heads of w are accepted.
func (s *Store) trusted(w peer.ID) bool { return s.open || s.allowed[w] }

// source says where a record came from, for the counters.
type source int

const (
	viaTopic   source = iota // an announcement: counted in Received
	viaResolve               // a routing lookup: counted in Resolved
	viaLocal                 // handed in directly (tests): not counted
)

// countLocked counts a record from src; the caller holds s.mu, so that the
// record and its outcome are counted together and Stats never shows one
// without the other.
func (s *Store) countLocked(src source) {
	switch src {
	case viaTopic:
		s.stats.Received++
	case viaResolve:
		s.stats.Resolved++
	}
}

// accept runs the checks that need the store's state on a verified head
// and records it: trust, then newness. It returns the error naming the drop
// reason, or nil when h is now the writer's newest head, counted. Heads of
// other writers go to the Heads channel.
func (s *Store) accept(h Head, src source) error {
	if !s.trusted(h.Writer) {
		return fmt.Errorf("%w: %s", ErrUntrusted, h.Writer)
	}
	s.mu.Lock()
	last, ok := s.known[h.Writer]
	if !ok && !s.allowed[h.Writer] && s.others >= s.maxWriters {
		s.mu.Unlock()
		return fmt.Errorf("%w: %d writers known", errTooManyWriters, s.others)
	}
	if ok && h.Seq <= last.Seq {
		dup := h.Seq == last.Seq && h.Root == last.Root
		if dup && h.EOL.After(last.EOL) {
			// The same head re-announced with a later EOL: keep the
			// freshest record so Known serves it.
			s.known[h.Writer] = h
		}
		s.mu.Unlock()
		if dup {
			return fmt.Errorf("%w: seq %d", errDuplicate, h.Seq)
		}
		return fmt.Errorf("%w: seq %d (root %s), last accepted seq %d (root %s)", ErrReplay, h.Seq, h.Root, last.Seq, last.Root)
	}
	if !ok && !s.allowed[h.Writer] {
		s.others++
	}
	s.known[h.Writer] = h
	s.countLocked(src)
	s.stats.Accepted++
	s.mu.Unlock()
	if h.Writer != s.self {
		s.queue.offer(h)
	}
	return nil
}

// drop counts (with its source) and logs a record not accepted.
func (s *Store) drop(err error, src source, attrs ...any) {
	reason := reasonOf(err)
	s.mu.Lock()
	s.countLocked(src)
	s.stats.Dropped[reason]++
	s.mu.Unlock()
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("head record dropped", append([]any{"reason", reason, "err", err}, attrs...)...)
	}
}

// allowedWriters lists the writers ResolveAll visits: the allowed ones and
// any other writer already accepted (an open database learns them as it
// goes), without ourselves.
func (s *Store) allowedWriters() []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := make(map[peer.ID]bool, len(s.allowed)+len(s.known))
	for w := range s.allowed {
		set[w] = true
	}
	for w := range s.known {
		set[w] = true
	}
	delete(set, s.self)
	return slices.SortedFunc(maps.Keys(set), func(a, b peer.ID) int { return strings.Compare(string(a), string(b)) })
}
