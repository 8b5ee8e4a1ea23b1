#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""reaper.py [--pid-file FILE] -- COMMAND [ARG...]

Runs COMMAND as its child and is a child subreaper (PR_SET_CHILD_SUBREAPER) for everything below it:
processes that COMMAND starts and leaves behind (libvirtd's qemu and dnsmasq, which daemonize) are
re-parented to this process instead of PID 1, which on these machines does not reap them promptly, so
that <defunct> processes never pile up and libvirt sees a stopped qemu as gone at once.
Writes COMMAND's pid to FILE (for programs that cannot write their own), forwards SIGTERM/SIGINT to it,
and exits when nothing is left below it, with COMMAND's exit status.
Used by scripts/testbed, which starts one reaper per daemon inside the test bed's network namespace.
"""
import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def main() -> int:
    args = sys.argv[1:]
    pid_file = None
    if len(args) >= 2 and args[0] == "--pid-file":
        pid_file = args[1]
        args = args[2:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        print(f"reaper: prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(err)}", file=sys.stderr)
        return 1

    child = os.fork()
    if child == 0:
        try:
            os.execvp(args[0], args)
        except OSError as e:
            print(f"reaper: cannot run {args[0]}: {e}", file=sys.stderr)
            os._exit(127)

    if pid_file:
        tmp = f"{pid_file}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(f"{child}\n")
        os.replace(tmp, pid_file)

    def forward(signum, _frame):
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)

    status = 0
    while True:
        try:
            pid, wstatus = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid == child:
            status = os.waitstatus_to_exitcode(wstatus)
            if pid_file:
                try:
                    with open(pid_file) as f:
                        if f.read().strip() == str(child):
                            os.unlink(pid_file)
                except OSError:
                    pass
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
