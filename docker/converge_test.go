package docker

import (
	"testing"
)

// All three writers write at once; every peer, the replica too, ends on
// one identical head that holds every acknowledged write of every writer.
func TestAllWritersConvergeOnOneHead(t *testing.T) {
	c := startCluster(t)
	var loops []*writeLoop
	for _, p := range writers {
		loops = append(loops, c.startWrites(p, 0))
	}
	waitAcked(t, 15, loops...)
	var acked []map[string]int
	for _, w := range loops {
		a, failed := w.Stop()
		if failed > 0 {
			t.Errorf("writer %s: %d writes failed on a healthy cluster", w.peer, failed)
		}
		acked = append(acked, a)
	}
	want := union(acked...)
	head := c.waitConverged(want, members...)
	t.Logf("%d writes from %d writers; every peer at %s", len(want), len(writers), head)
}
