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
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import subprocess
import time

_READ = select.POLLIN | select.POLLHUP | select.POLLERR
_CHUNK = 65536
# What we ask of the kernel for gpg's stdout and stderr (1 MiB is Linux's default
# /proc/sys/fs/pipe-max-size), and how long the exit-only wait goes without draining them.
_PIPE_BYTES = 1024 * 1024
_DRAIN_EVERY = 0.25


def _output_bound(input_size: int) -> int:
    # An armored message is about 1.4 times its input (uncompressible text, the
    # signature and the session key packet on top); twice that and 16 KiB is generous.
    return 2 * input_size + 16 * 1024


class GpgRunError(Exception):
    """The run could not be started, fed or read, or passed its time limit."""


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
        self.deadline = time.monotonic() + time_limit
        try:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                pass_fds=pass_fds,
            )
        except (OSError, ValueError) as error:
            raise GpgRunError(f"cannot start gpg: {type(error).__name__}") from error
        self._pidfd = _pidfd(self.process.pid)
        self._input = memoryview(stdin)
        self._in = self.process.stdin.fileno()
        os.set_blocking(self._in, False)
        if len(stdin) > 65536:  # more than a default pipe takes: make room for it all now
            _pipe_grow(self._in)
        self._chunks: dict[int, list[bytes]] = {
            self.process.stdout.fileno(): [],
            self.process.stderr.fileno(): [],
        }
        self.done = False
        # Room for all of the output means finish() need not wake for each status line.
        self._output_fits = self._pidfd is not None and all(
            _pipe_grow(fd) >= _output_bound(len(stdin)) for fd in self._chunks
        )
        self._feed()

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
        self.process.stdin.close()
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
            remaining = self.deadline - time.monotonic()
            # With a pidfd the process has exited and this returns at once; without one
            # (not Linux) gpg closed its output and is on its way out.
            returncode = self.process.wait(timeout=max(remaining, 0.001))
        except (subprocess.TimeoutExpired, GpgRunError):
            self.abandon()
            raise GpgRunError("gpg took too long") from None
        except OSError as error:
            self.abandon()
            raise GpgRunError(f"gpg failed: {type(error).__name__}") from error
        out, err = (b"".join(chunks) for chunks in self._chunks.values())
        self._close()
        return returncode, out, err

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

    def abandon(self) -> None:
        """Kills the run if it is still going and frees everything it holds."""
        if self.done:
            return
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
        self._close()

    def _close(self) -> None:
        self.done = True
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            with contextlib.suppress(OSError):
                stream.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


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
