package syncer

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/merge"
)

// Mode is how a syncer treats the data under an announced head.
type Mode int

const (
	// Shared reads the announced data from the network on demand; nothing
	// is pulled ahead (the decentralized chunk store).
	Shared Mode = iota + 1
	// Replicate pins the announced root recursively into the local node
	// before adopting it, so the data outlives its publisher.
	Replicate
)

func (m Mode) String() string {
	switch m {
	case Shared:
		return "shared"
	case Replicate:
		return "replicate"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ModeNames lists the names ParseMode accepts, for help texts.
var ModeNames = []string{"shared", "replicate"}

// ParseMode returns the mode named s: "shared" (the default for "") or
// "replicate".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "shared":
		return Shared, nil
	case "replicate", "replica":
		return Replicate, nil
	}
	return 0, fmt.Errorf("%w %q (want one of %s)", ErrUnknownMode, s, strings.Join(ModeNames, ", "))
}

// Config says what a Syncer syncs and how. The zero Config syncs every
// dataset in shared mode with the Deterministic policy.
type Config struct {
	// Database names the database, for log lines and the names of replica
	// pins (two databases on one node must differ). Default "default".
	Database string
	// Datasets to sync; empty means every dataset of every writer.
	Datasets []string
	// Mode: Shared (default) or Replicate.
	Mode Mode
	// Policy resolves merge conflicts; default merge.Deterministic, the
	// symmetric policy with which peers converge. A policy that fails
	// (merge.Fail) leaves a conflicting head unmerged until the writer
	// announces another one.
	Policy merge.Policy

	// Workers is how many writers' heads are processed at once. Default 4.
	Workers int
	// HeadTimeout bounds one attempt at one head: reading the writer's
	// root and merging its datasets. Default 30 s.
	HeadTimeout time.Duration
	// PinTimeout bounds one attempt at pinning a writer's root in
	// replicate mode (the whole new part of the DAG is fetched). Default
	// 2 min.
	PinTimeout time.Duration
	// RetryMin and RetryMax bound the exponential backoff between failed
	// attempts at a writer's head. Defaults 1 s and 1 min.
	RetryMin, RetryMax time.Duration
	// SupersedeAfter: a newer head of a writer cancels the attempt at its
	// previous head once that attempt has run this long. Default 2 s;
	// negative never cancels.
	SupersedeAfter time.Duration
	// WatchInterval is how often the persisted root of the store is polled
	// for moves by other processes, to publish them. A store that signals
	// such moves (chunks.RootWatcher, as ipfsstore does) has them published
	// at once; the poll then only covers filesystems that do not report
	// changes. Default 1 s; negative turns the poll off.
	WatchInterval time.Duration
	// NoPush turns off chunk pushes (see PushTopic): chunks then travel
	// over bitswap only, one ~20 ms round trip per level of the DAG.
	NoPush bool
	// PublishTimeout bounds one publish of the local root, and the final
	// one at shutdown. Default 30 s.
	PublishTimeout time.Duration

	// Logger receives progress (info) and details (debug); default
	// slog.Default().
	Logger *slog.Logger
	// OnEvent, if set, is called for every step of the loop (see Event),
	// from the syncer's goroutines: it must be quick and safe for
	// concurrent use. The CLI prints its progress lines from it.
	OnEvent func(Event)
}

const (
	defaultWorkers        = 4
	defaultHeadTimeout    = 30 * time.Second
	defaultPinTimeout     = 2 * time.Minute
	defaultRetryMin       = time.Second
	defaultRetryMax       = time.Minute
	defaultSupersedeAfter = 2 * time.Second
	defaultWatchInterval  = time.Second
	defaultPublishTimeout = 30 * time.Second
)

func (c Config) withDefaults() (Config, error) {
	if c.Database == "" {
		c.Database = "default"
	}
	if c.Mode == 0 {
		c.Mode = Shared
	}
	if c.Mode != Shared && c.Mode != Replicate {
		return c, fmt.Errorf("%w: %v", ErrUnknownMode, c.Mode)
	}
	for _, name := range c.Datasets {
		if !db.ValidName(name) {
			return c, fmt.Errorf("%w: %q", db.ErrInvalidName, name)
		}
	}
	if c.Policy == nil {
		c.Policy = merge.Deterministic
	}
	if c.Workers <= 0 {
		c.Workers = defaultWorkers
	}
	if c.HeadTimeout <= 0 {
		c.HeadTimeout = defaultHeadTimeout
	}
	if c.PinTimeout <= 0 {
		c.PinTimeout = defaultPinTimeout
	}
	if c.RetryMin <= 0 {
		c.RetryMin = defaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = defaultRetryMax
	}
	c.RetryMax = max(c.RetryMax, c.RetryMin)
	if c.SupersedeAfter == 0 {
		c.SupersedeAfter = defaultSupersedeAfter
	}
	if c.WatchInterval == 0 {
		c.WatchInterval = defaultWatchInterval
	}
	if c.PublishTimeout <= 0 {
		c.PublishTimeout = defaultPublishTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
