#!/usr/bin/env python3
"""Runs a command on a new pseudo-terminal, the way a person at a terminal runs it, and types
Ctrl-C into that terminal when told to: the terminal's line discipline then sends SIGINT to the
command's foreground process group, exactly as a keyboard Ctrl-C does.

Usage: ptyrun.py [--interrupt-on REGEX] [--interrupt-file PATH] [--timeout SECONDS] -- CMD...

  --interrupt-on REGEX   type Ctrl-C once, when the output so far matches REGEX
  --interrupt-file PATH  type Ctrl-C once, when PATH exists (the test creates it)
  --timeout SECONDS      SIGKILL the command after this long (exit status 124)

Everything the command writes to the terminal is copied to this script's stdout. The exit status
is the command's, or 128+N when signal N ended it.
"""
import argparse
import os
import pty
import re
import select
import signal
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--interrupt-on")
    ap.add_argument("--interrupt-file")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    pattern = re.compile(a.interrupt_on) if a.interrupt_on else None

    pid, fd = pty.fork()
    if pid == 0:
        # A shell started in the background may have left SIGINT ignored; a terminal's is not.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execvp(cmd[0], cmd)

    deadline = time.monotonic() + a.timeout
    seen = ""
    interrupted = False
    out = sys.stdout.buffer
    while True:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            out.write(b"\nptyrun: timed out\n")
            out.flush()
            sys.exit(124)
        if not interrupted and (
            (pattern and pattern.search(seen))
            or (a.interrupt_file and os.path.exists(a.interrupt_file))
        ):
            os.write(fd, b"\x03")
            interrupted = True
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the command closed the terminal (it exited)
            data = b""
        if not data:
            break
        out.write(data)
        out.flush()
        seen = (seen + data.decode("utf-8", "replace"))[-100000:]
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    sys.exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
