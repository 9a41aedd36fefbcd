// Package testwait waits in tests for conditions that other goroutines or
// processes bring about, with a bound and a clear failure.
package testwait

import (
	"testing"
	"time"
)

// Interval is how often Until checks its condition.
const Interval = 20 * time.Millisecond

// Until checks cond every Interval until it holds, and fails t if it still
// does not after timeout, naming what it waited for and the state cond
// last described.
func Until(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, state string)) {
	t.Helper()
	var state string
	if !Poll(timeout, func() (ok bool) { ok, state = cond(); return ok }) {
		t.Fatalf("timed out after %v waiting for %s; last state: %s", timeout, what, state)
	}
}

// Poll checks cond every Interval until it holds or timeout passes, and
// reports whether it held: for a wait whose failure the caller handles,
// such as resending a message that may have been dropped.
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(Interval)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
