"""One gpg run, started now and finished later, with a hard time limit.

A worker starts the next copy's gpg and sends the previous copy by SMTP while it runs:
gpg is most of a copy's time, and waiting for it idle left a core unused. Between
start() and finish() the run needs nothing from the caller: the input is written at
start when it fits in the pipe (a notice does; more is written in finish()), and the
output waits in the pipe (or gpg waits for finish() to read it: slower, never stuck).

No helper threads: one poll() loop over the pipes and a pidfd (the process's exit) with
the deadline as its timeout. A timer thread per run, or communicate(timeout=)'s sleeping
wait, each cost about a millisecond per copy in a fan-out (benchmarks/fanout.py).
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time

_READ = select.POLLIN | select.POLLHUP | select.POLLERR
_CHUNK = 65536


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
        self._chunks: dict[int, list[bytes]] = {
            self.process.stdout.fileno(): [],
            self.process.stderr.fileno(): [],
        }
        self.done = False
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


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
        return None
