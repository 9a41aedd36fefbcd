//go:build unix && !linux

package kubotest

import "syscall"

// sysProcAttr puts a Kubo process in its own process group so it can be killed
// as a group. Without Linux's Pdeathsig a daemon outlives a test process that
// is killed before its cleanups run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
