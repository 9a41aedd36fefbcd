// Package headstore publishes this peer's database head and receives the
// heads of the other writers of the same database, as signed IPNS records
// that travel two ways: through Kubo's IPNS (DHT and IPNS over pubsub; durable,
// for peers that start later) and as announcements on the database's pubsub
// topic (fast, carrying the signed record so that receivers verify it
// without another round trip).
//
// It owns heads, keys and trust; what a head's root contains, and what to do
// with it (fast-forward, merge), belong to the packages above (syncer).
//
// # Writers and keys
//
// A writer is an ed25519 key in Kubo's keystore (Config.KeyName, generated on
// first use); its peer ID (Store.Self) is what other peers list in
// Config.Allowed. Kubo signs: over RPC the private key never leaves the
// daemon, so Publish has Kubo publish the IPNS name and reads the signed
// record back.
//
// # Wire format
//
// An announcement is exactly a marshalled IPNS record (the protobuf of the
// IPNS specification, as Kubo signs it) whose optional PubKey field carries
// the writer's public key: Kubo leaves it out of ed25519 records because the
// IPNS name carries it, but an announcement has no name. The field is not
// signed; the writer is the peer ID derived from it, and the signature must
// verify against it, so changing it only names a writer whose signature
// then fails. `ipfs name inspect` reads an announcement.
//
// # Validation
//
// Every announcement and every resolved record is checked in this order, and
// dropped and counted (Stats.Dropped, logged at debug level) under the first
// reason that applies: larger than MaxRecordSize ("oversized"); not an IPNS
// record carrying an ed25519 key ("malformed"); signature not verifying
// against the key ("bad-signature"); validity over ("expired"); value not
// /ipfs/<CID of a noms-ipfs chunk> ("malformed"); an announcement under our
// own key ("self": pubsub's echo of what we sent, not an error; a forgery of
// our key fails its signature first); writer neither allowed nor
// the database open ("untrusted"); sequence not above the last accepted from
// the writer ("replay"), except a record with the same sequence and root,
// which is a re-announcement ("duplicate", not an error). The daemon that
// relayed a message proves nothing about its writer; only the signature does.
//
// # Sequence numbers
//
// Publish signs with the sequence number after the last one published under
// the key. The last one persists where Kubo keeps it anyway, in the record
// its publisher stores in the repo's datastore: New reads it back, so a
// restarted writer continues above its old numbers with no state file of
// its own. Re-announcements (every Config.Announce) re-publish the same root,
// for which Kubo keeps the sequence number and only renews the validity.
//
// # Catching up
//
// Resolve and ResolveAll read a writer's record straight from Kubo's routing
// (routing/get: the DHT and IPNS over pubsub), never from a resolver cache,
// and not through name/resolve, which gives only the value: the signed record
// is needed to verify it. With Routing.Type "none" (IPNS over pubsub only)
// the first lookup of a name can report ErrNotFound while Kubo subscribes to
// it in the background; the writer's next announcement brings the head anyway.
//
// # Slow routing
//
// Kubo's put of a record to the DHT can take tens of seconds (after peers
// vanish without closing their connections, until the DHT drops them).
// Publish announces the head once Kubo has signed and stored the record and
// leaves that put running in the background (publishRecord); a newer head's
// put replaces it.
//
// # Loss
//
// Pubsub is lossy. Beyond that, Kubo checks every incoming message against
// the highest per-sender sequence number seen, in concurrent validators, so
// of a burst of messages from one node a receiver may drop some, but never
// the newest, which is the one that matters for a head. Re-announcements
// repair the rest within one interval.
//
// # Use
//
//	s, err := headstore.New(ctx, node, headstore.Config{Database: "todo", Allowed: peers})
//	if err != nil { ... }
//	defer s.Close()
//	_ = s.ResolveAll(ctx)        // catch up with heads published before we started
//	err = s.Publish(ctx, root)    // after each local commit
//	for h := range s.Heads() {    // other writers' newer heads
//		... h.Writer, h.Root ...
//	}
//
// One Store per key at a time: two stores publishing under one key (on one
// node or two) would each refuse the other's sequence numbers.
package headstore
