package kubotest

import "syscall"

// sysProcAttr puts a Kubo process in its own process group, so it can be
// killed as a group and does not receive the terminal's Ctrl-C before our
// cleanup runs, and asks the kernel to SIGKILL it when the test process dies,
// so a test killed by a timeout or a signal leaves no orphaned daemon.
//
// Pdeathsig fires when the OS thread that forked the child exits; Go only
// retires threads whose goroutine exits while locked to them, which this
// package never does, so in practice it fires when the test process dies.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
