package syncer

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/noms-ipfs/noms-ipfs/chunks"
)

// EventKind says what an Event reports.
type EventKind int

const (
	// EventUpToDate: the writer's head of Dataset is already in ours.
	EventUpToDate EventKind = iota + 1
	// EventFastForward: our head of Dataset moved to the writer's, Commit.
	EventFastForward
	// EventMerged: the writer's head of Dataset was merged into ours; Commit
	// is the merge commit, our new head.
	EventMerged
	// EventConflict: the policy left conflicts in Dataset (Err says where);
	// ours is unchanged until the writer announces another head.
	EventConflict
	// EventPinned: replicate mode pinned the writer's Root; Bytes is how
	// much of it was new.
	EventPinned
	// EventRetry: an attempt at the writer's head failed (Err); the next
	// one starts in Retry unless a newer head comes first.
	EventRetry
	// EventPublished: our Root was published.
	EventPublished
	// EventPublishFailed: publishing our Root failed (Err); retried in
	// Retry.
	EventPublishFailed
)

func (k EventKind) String() string {
	switch k {
	case EventUpToDate:
		return "up-to-date"
	case EventFastForward:
		return "fast-forward"
	case EventMerged:
		return "merged"
	case EventConflict:
		return "conflict"
	case EventPinned:
		return "pinned"
	case EventRetry:
		return "retry"
	case EventPublished:
		return "published"
	case EventPublishFailed:
		return "publish-failed"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one step of the sync loop, for progress output (Config.OnEvent).
// Fields that do not apply to the kind are zero.
type Event struct {
	Kind    EventKind
	Writer  peer.ID     // whose head (empty for our own publishes)
	Seq     uint64      // the head's sequence number
	Root    chunks.Hash // the writer's root; ours for EventPublished
	Dataset string
	Commit  chunks.Hash   // the dataset's new head (fast-forward, merged)
	Bytes   int64         // EventPinned: bytes newly under the replica pin
	Took    time.Duration // how long the step took
	Retry   time.Duration // EventRetry, EventPublishFailed: wait before the next try
	Err     error
}

// Stats counts a syncer's work since it was created.
type Stats struct {
	Heads        int64 // heads received from the head store (announced, resolved or known)
	Coalesced    int64 // heads never processed because a newer one of the same writer came first
	Processed    int64 // heads processed to the end
	Failures     int64 // attempts that failed and were retried
	UpToDate     int64 // datasets found already containing the writer's head
	FastForwards int64 // datasets fast-forwarded to a writer's head
	Merges       int64 // merge commits made the head of a dataset
	Conflicts    int64 // merges left undone because the policy left conflicts
	Pins         int64 // replica pins added or moved
	BytesPinned  int64 // bytes of blocks newly under replica pins (each counted once per run)
	Published    int64 // publishes of the local root
	PublishFails int64 // failed publishes
	Pending      int   // writers whose newest head is not processed yet

	// Chunk pushes (see PushTopic): sent with our publishes, and received
	// and imported into the node; dropped ones were malformed or failed to
	// import.
	Pushes, PushedChunks, PushedBytes             int64
	PushesReceived, ReceivedChunks, ReceivedBytes int64
	PushesDropped                                 int64
}

type counters struct {
	heads, coalesced, processed, failures, upToDate, fastForwards, merges,
	conflicts, pins, bytesPinned, published, publishFails atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Heads:        c.heads.Load(),
		Coalesced:    c.coalesced.Load(),
		Processed:    c.processed.Load(),
		Failures:     c.failures.Load(),
		UpToDate:     c.upToDate.Load(),
		FastForwards: c.fastForwards.Load(),
		Merges:       c.merges.Load(),
		Conflicts:    c.conflicts.Load(),
		Pins:         c.pins.Load(),
		BytesPinned:  c.bytesPinned.Load(),
		Published:    c.published.Load(),
		PublishFails: c.publishFails.Load(),
	}
}

// WriterStatus is what the syncer knows of one other writer.
type WriterStatus struct {
	Writer    peer.ID
	Root      chunks.Hash // the writer's newest head seen
	Seq       uint64
	Synced    bool        // that head has been processed
	SyncedAt  time.Time   // when the newest processed head was done
	Done      chunks.Hash // the newest root processed
	Busy      bool        // an attempt is running
	Attempts  int         // failed attempts at the newest head
	NextRetry time.Time   // zero unless waiting to retry
	LastError string      // the last attempt's error, if it failed
}
