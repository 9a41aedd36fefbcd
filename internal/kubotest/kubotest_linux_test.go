package kubotest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/noms-ipfs/noms-ipfs/internal/kubotest"
)

// helperRepoEnv carries the repo to the child test process of
// TestDaemonDiesWithItsTestProcess.
const helperRepoEnv = "KUBOTEST_HELPER_REPO"

// TestDaemonDiesWithItsTestProcess kills a test process the way `go test
// -timeout` or a signal does, before any cleanup can run, and checks that the
// daemon it started does not outlive it.
func TestDaemonDiesWithItsTestProcess(t *testing.T) {
	repo := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperKilledOwner$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperRepoEnv+"="+repo)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("helper test process did not finish within a minute: %v\n%s", ctx.Err(), out)
	}
	m := regexp.MustCompile(`daemon-pid=(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("helper test process (%v) printed no daemon pid:\n%s", err, out)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper test process ended with %v, want SIGKILL:\n%s", err, out)
	}
	t.Cleanup(func() { killIfOurs(t, pid, repo) })

	waitGone(t, pid)
}

// TestHelperKilledOwner runs only as the child of
// TestDaemonDiesWithItsTestProcess: it starts a daemon and SIGKILLs itself.
func TestHelperKilledOwner(t *testing.T) {
	repo := os.Getenv(helperRepoEnv)
	if repo == "" {
		return
	}
	n := kubotest.Start(t, kubotest.WithRepo(repo))
	fmt.Printf("daemon-pid=%d\n", n.PID())
	if err := syscall.Kill(os.Getpid(), syscall.SIGKILL); err != nil {
		t.Fatalf("cannot kill own process: %v", err)
	}
	select {} // SIGKILL cannot be caught; never reached
}

// killIfOurs SIGKILLs pid if it is still the daemon on repo, so a failure of
// the test above does not leave the daemon running; a reused pid belonging to
// anything else is left alone.
func killIfOurs(t *testing.T, pid int, repo string) {
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil || processGone(pid) {
		return
	}
	for _, v := range strings.Split(string(environ), "\x00") {
		if v == "IPFS_PATH="+repo {
			t.Errorf("daemon %d outlived its test process; killing it", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		}
	}
}
