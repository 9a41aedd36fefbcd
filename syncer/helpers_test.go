package syncer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/chunks"
	"github.com/noms-ipfs/noms-ipfs/db"
	"github.com/noms-ipfs/noms-ipfs/internal/testwait"
	"github.com/noms-ipfs/noms-ipfs/value"
)

// testLogger sends the syncer's logs to the test log at debug level when
// SYNCER_DEBUG is set, else drops them below warnings.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if debugLogs {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(tbWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tbWriter struct{ t testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// headOf returns the dataset's head hash, zero if none.
func headOf(t testing.TB, d *db.Database, dataset string) chunks.Hash {
	t.Helper()
	c, err := d.Head(context.Background(), dataset)
	if err != nil {
		return chunks.Hash{}
	}
	return c.Hash
}

// sameHeads waits until every database has the same non-zero head of the
// dataset, and returns it.
func sameHeads(t testing.TB, timeout time.Duration, dataset string, dbs ...*db.Database) chunks.Hash {
	t.Helper()
	var h chunks.Hash
	testwait.Until(t, timeout, "identical heads of "+dataset, func() (bool, string) {
		heads := make([]string, len(dbs))
		same := true
		for i, d := range dbs {
			hi := headOf(t, d, dataset)
			heads[i] = hi.String()
			if hi.IsEmpty() || hi != headOf(t, dbs[0], dataset) {
				same = false
			}
		}
		h = headOf(t, dbs[0], dataset)
		return same, strings.Join(heads, " ")
	})
	return h
}

// commitKey sets key to val in the dataset's Map (created if needed),
// merging with concurrent changes; it returns the new head.
func commitKey(t testing.TB, commit func(ctx context.Context, ds string, v value.Value, base chunks.Hash) (chunks.Hash, error), d *db.Database, dataset, key string, val int64) chunks.Hash {
	t.Helper()
	ctx := context.Background()
	st := d.Store()
	var m value.Map
	var base chunks.Hash
	head, err := d.Head(ctx, dataset)
	switch {
	case err == nil:
		base = head.Hash
		var ok bool
		if m, ok = head.Value.(value.Map); !ok {
			t.Fatalf("head of %s is a %s", dataset, head.Value.Kind())
		}
	default:
		if m, err = value.NewMap(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	m, err = m.Set(ctx, st, value.String(key), value.Int(val))
	if err != nil {
		t.Fatal(err)
	}
	h, err := commit(ctx, dataset, m, base)
	if err != nil {
		t.Fatalf("commit %s=%d to %s: %v", key, val, dataset, err)
	}
	return h
}

// mapOf reads the dataset's head as a Go map of key -> int.
func mapOf(t testing.TB, d *db.Database, dataset string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	head, err := d.Head(ctx, dataset)
	if err != nil {
		t.Fatalf("head of %s: %v", dataset, err)
	}
	m, ok := head.Value.(value.Map)
	if !ok {
		t.Fatalf("head of %s is a %s", dataset, head.Value.Kind())
	}
	out := map[string]int64{}
	for e, err := range m.All(ctx, d.Store(), nil) {
		if err != nil {
			t.Fatalf("reading %s: %v", dataset, err)
		}
		out[string(e.Key.(value.String))] = int64(e.Value.(value.Int))
	}
	return out
}

func keysMissing(got map[string]int64, want []string) []string {
	var missing []string
	for _, k := range want {
		if _, ok := got[k]; !ok {
			missing = append(missing, k)
		}
	}
	return missing
}

func key(peer string, i int) string { return fmt.Sprintf("%s-%03d", peer, i) }
