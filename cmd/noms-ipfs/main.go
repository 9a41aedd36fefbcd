// Command noms-ipfs is the command-line face of noms-ipfs, a versioned,
// decentralized database whose chunks are IPFS blocks.
//
// It talks to a running Kubo daemon over RPC (--api, $IPFS_API, or the api
// file in $IPFS_PATH, as Kubo's own client does), or starts an embedded Kubo
// node in its home directory when none runs or --embedded is given.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes are stable so scripts can branch on them.
const (
	exitOK       = 0
	exitError    = 1 // the command failed
	exitUsage    = 2 // bad flags or arguments
	exitNotFound = 3 // a chunk or root was not found
	// exitConflict (4, merge.go): a merge left conflicts unresolved.
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the CLI with args and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := newRootCommand()
	cmd.SetArgs(args)
	cmd.SetIn(stdin)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "noms-ipfs:", err)
	if code, ok := exitCodeOf(err); ok {
		return code
	}
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case isNotFound(err):
		return exitNotFound
	default:
		return exitError
	}
}

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }
