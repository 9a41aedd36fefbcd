package testwait

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeT records a failure instead of ending the test.
type fakeT struct {
	testing.TB
	failed atomic.Value
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed.Store(format)
	panic(f)
}

func TestUntil(t *testing.T) {
	var n atomic.Int32
	Until(t, time.Second, "the third check", func() (bool, string) { return n.Add(1) >= 3, "" })
	if n.Load() != 3 {
		t.Fatalf("checked %d times, want 3", n.Load())
	}

	f := &fakeT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != f {
				panic(r)
			}
		}()
		Until(f, 50*time.Millisecond, "never", func() (bool, string) { return false, "still no" })
	}()
	if msg, _ := f.failed.Load().(string); !strings.Contains(msg, "timed out") {
		t.Fatalf("Until did not fail after its timeout: %q", msg)
	}
}

func TestPoll(t *testing.T) {
	var n atomic.Int32
	if !Poll(time.Second, func() bool { return n.Add(1) >= 2 }) || n.Load() != 2 {
		t.Fatalf("Poll of a condition that holds on the second check: %d checks", n.Load())
	}
	start := time.Now()
	if Poll(60*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll of a condition that never holds reported it held")
	}
	if time.Since(start) < 60*time.Millisecond {
		t.Fatal("Poll gave up before its timeout")
	}
}
