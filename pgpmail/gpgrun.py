"""One gpg run, started now and finished later, with a hard time limit.

A worker starts the next copy's gpg and sends the previous copy by SMTP while it runs:
gpg is most of a copy's time, and waiting for it idle left a core unused. Between
start() and finish() the run needs nothing from the caller: the input is written at
start when it fits in the pipe (a notice does; more is written in finish()), and the
output waits in the pipe (or gpg waits for finish() to read it: slower, never stuck).

No helper threads: one poll() loop over the pipes and a pidfd (the process's exit) with
the deadline as its timeout. A timer thread per run, or communicate(timeout=)'s sleeping
wait, each cost about a millisecond per copy in a fan-out (benchmarks/fanout.py).

When all of gpg's output fits in its pipes (they are enlarged for it on Linux), finish()
waits for the exit alone and reads everything once: gpg writes its status a line at a
time, and waking for each line cost ten wake-ups per copy. It still drains the pipes
every quarter second, so output larger than expected is slower, never stuck.

gpg is started with posix_spawn(), not subprocess.Popen: Popen's own Python cost a
worker about 0.1 ms of CPU per copy, more than the spawn itself. The child gets exactly
its three pipes and the descriptors passed to it (as 3, 4, ...): every other descriptor
of the process is close-on-exec. Python opens all of its own that way (PEP 446), and
so does libpq; descriptors_close_on_exec() makes sure of the rest when a process first
prepares to run gpg, in place of Popen's close_fds.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import shutil
import signal
import time

_READ = select.POLLIN | select.POLLHUP | select.POLLERR
_CHUNK = 65536
# What we ask of the kernel for gpg's stdout and stderr (1 MiB is Linux's default
# /proc/sys/fs/pipe-max-size), and how long the exit-only wait goes without draining them.
_PIPE_BYTES = 1024 * 1024
_DRAIN_EVERY = 0.25
# Where the child finds the descriptors passed to it: 3, 4, ... (after stdin, stdout and
# stderr), whatever their numbers in this process.
FIRST_PASSED_FD = 3
# Popen resets these (Python ignores SIGPIPE, and an ignored signal stays ignored across
# exec); so do we: gpg dies of a closed pipe as it would started from a shell.
_DEFAULT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)


def _output_bound(input_size: int) -> int:
    # An armored message is about 1.4 times its input (uncompressible text, the
    # signature and the session key packet on top); twice that and 16 KiB is generous.
    return 2 * input_size + 16 * 1024


class GpgRunError(Exception):
    """The run could not be started, fed or read, or passed its time limit."""


def descriptors_close_on_exec() -> int:
    """Marks every open descriptor above stderr close-on-exec, so that no program this
    process starts inherits one by accident; returns how many needed it. A process calls
    this once, before its first gpg run (pgpmail.crypto does, building its gpg home)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:  # not Linux: Python's own descriptors are close-on-exec already
        return 0
    changed = 0
    for name in names:
        fd = int(name)
        if fd <= 2:
            continue
        with contextlib.suppress(OSError):  # the listing's own descriptor, now closed
            if os.get_inheritable(fd):
                os.set_inheritable(fd, False)
                changed += 1
    return changed


class GpgRun:
    def __init__(
        self,
        command: list[str],
        *,
        stdin: bytes,
        env: dict,
        time_limit: float,
        pass_fds: tuple[int, ...] = (),
    ):
        """Starts `command` (its first item a path, as given to exec) with `stdin` to
        read; the descriptors in `pass_fds` reach it as 3, 4, ... in that order."""
        self.deadline = time.monotonic() + time_limit
        self.pid: int | None = None
        self.returncode: int | None = None
        self.done = False
        self._pidfd: int | None = None
        self._in = self._out = self._err = -1
        try:
            self._start(command, env, pass_fds)
        except (OSError, ValueError, TypeError) as error:
            self._close()
            raise GpgRunError(f"cannot start gpg: {type(error).__name__}") from error
        self._input = memoryview(stdin)
        os.set_blocking(self._in, False)
        if len(stdin) > 65536:  # more than a default pipe takes: make room for it all now
            _pipe_grow(self._in)
        self._chunks: dict[int, list[bytes]] = {self._out: [], self._err: []}
        # Room for all of the output means finish() need not wake for each status line.
        self._output_fits = self._pidfd is not None and all(
            _pipe_grow(fd) >= _output_bound(len(stdin)) for fd in self._chunks
        )
        self._feed()

    def _start(self, command: list[str], env: dict, pass_fds: tuple[int, ...]) -> None:
        child_in, self._in = os.pipe()
        child_out = child_err = -1
        try:
            self._out, child_out = os.pipe()
            self._err, child_err = os.pipe()
            self.pid = _spawn(command, env, [child_in, child_out, child_err, *pass_fds])
        finally:
            for fd in (child_in, child_out, child_err):  # the child has its own now
                if fd >= 0:
                    os.close(fd)
        self._pidfd = _pidfd(self.pid)

    def _feed(self) -> None:
        """Write what the pipe takes now; close stdin once everything is written (or gpg
        stopped reading: its status says why)."""
        try:
            while self._input:
                written = os.write(self._in, self._input[:_CHUNK])
                self._input = self._input[written:]
        except BlockingIOError:
            return
        except OSError:  # BrokenPipeError and friends: gpg is not reading any more
            self._input = memoryview(b"")
        os.close(self._in)
        self._in = -1

    def finish(self) -> tuple[int, bytes, bytes]:
        """Waits for the run: (exit status, stdout, stderr). Kills it at the deadline."""
        if self.done:
            raise GpgRunError("this gpg run was already finished")
        if self._output_fits and self._in < 0:
            try:
                self._wait_for_exit()
            except GpgRunError:
                self.abandon()
                raise
        poller = select.poll()
        if self._in >= 0:
            poller.register(self._in, select.POLLOUT | select.POLLERR | select.POLLHUP)
        reading = set(self._chunks)
        for fd in reading:
            poller.register(fd, _READ)
        exited = self._pidfd is None
        if not exited:
            poller.register(self._pidfd, select.POLLIN)
        try:
            while reading or not exited:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    raise GpgRunError("gpg took too long")
                for fd, _event in poller.poll(remaining * 1000):
                    if fd == self._in:
                        self._feed()
                        if self._in < 0:
                            poller.unregister(fd)
                    elif fd == self._pidfd:
                        exited = True
                        poller.unregister(fd)
                    else:
                        data = os.read(fd, _CHUNK)
                        if data:
                            self._chunks[fd].append(data)
                        else:
                            reading.discard(fd)
                            poller.unregister(fd)
            # With a pidfd the process has exited and this returns at once; without one
            # (not Linux) gpg closed its output and is on its way out.
            self._reap(self.deadline)
        except GpgRunError:
            self.abandon()
            raise GpgRunError("gpg took too long") from None
        except OSError as error:
            self.abandon()
            raise GpgRunError(f"gpg failed: {type(error).__name__}") from error
        out, err = (b"".join(chunks) for chunks in self._chunks.values())
        self._close()
        return self.returncode, out, err

    def _wait_for_exit(self) -> None:
        """Sleeps until gpg exits (or the deadline), draining its pipes now and then;
        the loop in finish() then reads what is left and reaps it."""
        poller = select.poll()
        poller.register(self._pidfd, select.POLLIN)
        for fd in self._chunks:
            os.set_blocking(fd, False)
        while True:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise GpgRunError("gpg took too long")
            if poller.poll(min(remaining, _DRAIN_EVERY) * 1000):
                return
            for fd, chunks in self._chunks.items():
                with contextlib.suppress(BlockingIOError):
                    while data := os.read(fd, _CHUNK):
                        chunks.append(data)

    def _reap(self, deadline: float | None) -> None:
        """Collects the exit status; GpgRunError if it has not exited by `deadline`
        (None: wait as long as it takes, for a process just killed)."""
        pause = 0.0005
        while self.returncode is None:
            pid, status = os.waitpid(self.pid, 0 if deadline is None else os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
                return
            if time.monotonic() >= deadline:
                raise GpgRunError("gpg took too long")
            time.sleep(pause)  # no pidfd (not Linux): gpg closed its output, exits soon
            pause = min(pause * 2, 0.05)

    def abandon(self) -> None:
        """Kills the run if it is still going and frees everything it holds."""
        if self.done:
            return
        if self.pid is not None and self.returncode is None:
            with contextlib.suppress(OSError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                self._reap(None)
        self._close()

    @property
    def closed(self) -> bool:
        """Whether every pipe and descriptor of the run is closed."""
        return self._in < 0 and self._out < 0 and self._err < 0 and self._pidfd is None

    def _close(self) -> None:
        self.done = True
        for name in ("_in", "_out", "_err"):
            fd = getattr(self, name)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, -1)
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


def _spawn(command: list[str], env: dict, sources: list[int]) -> int:
    """posix_spawn() of `command` (its first item the program's path) with sources[i] as
    the child's descriptor i; returns the pid."""
    program = command[0]
    if os.sep not in program:  # a bare name: found on the child's PATH, as Popen would
        program = shutil.which(program, path=env.get("PATH", os.defpath)) or program
    count = len(sources)
    # A source among the targets (0 .. count-1) is first copied above them: dup2() onto
    # a target that another source still needs would clobber it, and dup2() of a
    # descriptor onto itself would leave it close-on-exec, so the child would not get it.
    copies = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, count) for fd in sources if fd < count]
    moved = iter(copies)
    actions = [
        (os.POSIX_SPAWN_DUP2, next(moved) if fd < count else fd, target)
        for target, fd in enumerate(sources)
    ]
    try:
        return os.posix_spawn(
            program, command, env, file_actions=actions, setsigdef=_DEFAULT_SIGNALS
        )
    finally:
        for fd in copies:
            os.close(fd)


def _pipe_grow(fd: int) -> int:
    """Asks for a bigger pipe; returns the capacity it has (0 when it cannot tell)."""
    try:
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (AttributeError, OSError):  # not Linux, or above the system's limit
        try:
            return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
        except (AttributeError, OSError):
            return 0


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
        return None
