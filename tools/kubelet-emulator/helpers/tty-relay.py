"""Runs one command on a new pseudo-terminal, for the kubelet emulator's tty exec (src/tty.ts).

usage: python3 tty-relay.py [--stdin] -- COMMAND [ARG...]

fd 0  (with --stdin) bytes typed on the terminal; at EOF the terminal's EOF character (Ctrl-D)
      is typed once if the terminal is in canonical mode, as a user would. Raw mode has no EOF.
fd 1  everything the command writes to the terminal (with the terminal's onlcr: \n -> \r\n).
fd 2  the relay's own error, one line, e.g. when the command cannot be executed (exit 127).
fd 3  window sizes, one "ROWS COLS" line each, applied with TIOCSWINSZ; the kernel then sends
      SIGWINCH to the terminal's foreground process group.

The command starts once the first size has arrived (kubectl sends one right after connecting),
or after FIRST_SIZE_WAIT seconds with the kernel's default 0x0. The relay exits with the
command's exit code, or 128 + N when signal N killed it, after relaying its last output.
"""

import errno
import os
import select
import signal
import struct
import sys
import termios
import time
from fcntl import ioctl

# Seconds the command waits for its first window size.
FIRST_SIZE_WAIT = 1.0
# Bytes per read from any descriptor.
CHUNK = 65536
# Input waiting for the terminal above which stdin is not read (the client's data stays queued).
MAX_PENDING_INPUT = 65536
# The descriptor that carries window sizes.
SIZE_FD = 3


class Sizes:
    """Reads "ROWS COLS" lines from SIZE_FD."""

    def __init__(self):
        self.open = True
        self.partial = b""

    def read(self):
        data = os.read(SIZE_FD, CHUNK)
        if not data:
            self.open = False
        *lines, self.partial = (self.partial + data).split(b"\n")
        sizes = [tuple(int(n) for n in line.split()) for line in lines]
        return [s for s in sizes if len(s) == 2]


def set_size(master, rows, cols):
    clamp = lambda n: max(0, min(n, 0xFFFF))
    ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", clamp(rows), clamp(cols), 0, 0))


def await_first_size(master, sizes):
    deadline = time.monotonic() + FIRST_SIZE_WAIT
    while sizes.open and (left := deadline - time.monotonic()) > 0:
        if select.select([SIZE_FD], [], [], left)[0]:
            received = sizes.read()
            for rows, cols in received:
                set_size(master, rows, cols)
            if received:
                return


def spawn(argv, master, slave):
    """Forks the command onto the terminal; returns its pid, or exits 127 if it cannot run."""
    err_r, err_w = os.pipe()  # close-on-exec: EOF without data means exec succeeded
    pid = os.fork()
    if pid == 0:
        try:
            os.close(master)
            os.login_tty(slave)  # new session, controlling terminal, fds 0-2
            for sig in (signal.SIGPIPE, signal.SIGXFSZ):  # Python ignores them; exec keeps that
                signal.signal(sig, signal.SIG_DFL)
            os.execvp(argv[0], argv)
        except OSError as e:
            os.write(err_w, f"exec {argv[0]}: {e.strerror} ({errno.errorcode.get(e.errno, e.errno)})".encode())
        os._exit(127)
    os.close(err_w)
    os.close(slave)
    with os.fdopen(err_r, "rb") as pipe:
        failure = pipe.read()
    if failure:
        os.waitpid(pid, 0)
        sys.stderr.write(failure.decode(errors="replace") + "\n")
        sys.exit(127)
    return pid


def eof_char(master):
    attrs = termios.tcgetattr(master)  # on a pty master: the terminal's (slave's) settings
    return attrs[6][termios.VEOF] if attrs[3] & termios.ICANON else b""


def write_out(data):
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(1, view):]
    except BrokenPipeError:
        pass  # nobody reads the output any more; keep the terminal drained


def write_input(master, pending):
    """Types what the terminal's input queue takes now; drops it once nobody holds the terminal."""
    try:
        del pending[: os.write(master, pending)]
    except BlockingIOError:
        pass  # the queue is full until the command reads
    except OSError as e:
        if e.errno != errno.EIO:
            raise
        pending.clear()


def read_output(master):
    """Relays what the terminal has now: bytes relayed, or None once no process holds it open."""
    try:
        data = os.read(master, CHUNK)
    except BlockingIOError:
        return 0
    except OSError as e:
        if e.errno != errno.EIO:
            raise
        return None
    write_out(data)
    return len(data)


def relay(master, pid, stdin_open, sizes):
    """Moves bytes until the command exits; returns its wait status."""
    pidfd = os.pidfd_open(pid)  # readable once the command has exited
    os.set_blocking(master, False)
    pending = bytearray()
    output_open = True
    while True:
        wanted = [pidfd]
        wanted += [master] if output_open else []
        wanted += [0] if stdin_open and len(pending) < MAX_PENDING_INPUT else []
        wanted += [SIZE_FD] if sizes.open else []
        readable, writable, _ = select.select(wanted, [master] if pending else [], [])
        if writable:
            write_input(master, pending)
        if 0 in readable:
            data = os.read(0, CHUNK)
            stdin_open = bool(data)
            pending += data if data else eof_char(master)
        if SIZE_FD in readable:
            for rows, cols in sizes.read():
                set_size(master, rows, cols)
        if master in readable:
            output_open = read_output(master) is not None
        if pidfd in readable:
            _, status = os.waitpid(pid, 0)
            while output_open and read_output(master):  # what it wrote before exiting
                pass
            return status


def main():
    args = sys.argv[1:]
    stdin_open = args[:1] == ["--stdin"]
    argv = args[args.index("--") + 1 :]
    os.set_blocking(1, True)
    os.set_inheritable(SIZE_FD, False)
    master, slave = os.openpty()
    sizes = Sizes()
    await_first_size(master, sizes)
    pid = spawn(argv, master, slave)
    code = os.waitstatus_to_exitcode(relay(master, pid, stdin_open, sizes))
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
