// Command pause holds a network namespace for the containers of one
// docker-compose peer: its Kubo daemon and its `noms-ipfs sync` join this
// container's network (network_mode: service:peer-<name>), so the Kubo RPC
// API listens on a loopback that only they share, and either can be
// killed and restarted without the other losing its network (a container
// that joins another's namespace loses it when that container restarts).
// It waits for SIGTERM or SIGINT and exits 0.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
