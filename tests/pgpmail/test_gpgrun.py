"""pgpmail.gpgrun: a gpg run started now and finished later, never left running."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from pgpmail.gpgrun import GpgRun, GpgRunError, descriptors_close_on_exec

PYTHON = sys.executable


def _run(code: str, *, stdin: bytes = b"", time_limit: float = 10) -> GpgRun:
    # Any program stands in for gpg here: the runner only feeds, reads and waits.
    return GpgRun([PYTHON, "-c", code], stdin=stdin, env=dict(os.environ), time_limit=time_limit)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_it_returns_the_exit_status_and_both_outputs():
    run = _run(
        "import sys; data = sys.stdin.buffer.read(); sys.stdout.buffer.write(data[::-1]);"
        " sys.stderr.write('status line'); sys.exit(3)",
        stdin=b"abc",
    )
    assert run.finish() == (3, b"cba", b"status line")


def test_input_and_output_larger_than_a_pipe_do_not_deadlock():
    # 1 MiB each way: far more than a pipe holds, so feeding and reading must interleave.
    data = os.urandom(1 << 20)
    run = _run(
        "import sys\nwhile chunk := sys.stdin.buffer.read(4096): sys.stdout.buffer.write(chunk)",
        stdin=data,
    )
    returncode, out, _ = run.finish()
    assert returncode == 0 and out == data


def test_the_caller_can_work_while_the_program_runs():
    run = _run("import time; time.sleep(0.3); print('done')")
    started = time.monotonic()
    time.sleep(0.3)  # the caller's own work, while the program runs
    returncode, out, _ = run.finish()
    # Both waits overlapped: finish() took far less than the program's 0.3 s.
    assert returncode == 0 and out.strip() == b"done"
    assert time.monotonic() - started < 0.55


def test_a_program_that_hangs_is_killed_at_the_time_limit():
    run = _run("import time; time.sleep(60)", time_limit=0.5)
    started = time.monotonic()
    with pytest.raises(GpgRunError, match="too long"):
        run.finish()
    assert time.monotonic() - started < 5
    assert run.returncode is not None  # killed and reaped


def test_a_program_that_closes_its_output_but_keeps_running_is_killed_too():
    run = _run("import os, time; os.close(1); os.close(2); time.sleep(60)", time_limit=0.5)
    with pytest.raises(GpgRunError, match="too long"):
        run.finish()
    assert run.returncode is not None


def test_a_program_that_stops_reading_its_input_is_not_an_error_of_the_runner():
    run = _run("import sys; sys.stdout.write('early'); sys.exit(2)", stdin=os.urandom(1 << 20))
    returncode, out, _ = run.finish()
    assert (returncode, out) == (2, b"early")


def test_abandon_kills_and_reaps_the_program_and_frees_its_pipes():
    run = _run("import time; time.sleep(60)")
    pid = run.pid
    run.abandon()
    assert run.returncode is not None and _gone(pid)
    assert run.closed
    run.abandon()  # twice is harmless
    with pytest.raises(GpgRunError):
        run.finish()


def test_a_missing_program_raises_gpg_run_error():
    with pytest.raises(GpgRunError, match="cannot start"):
        GpgRun(["/nonexistent/gpg"], stdin=b"", env={}, time_limit=1)


_LINE_BY_LINE = (
    "import sys, time\n"
    "for n in range(40):\n"
    "    sys.stderr.write(f'[GNUPG:] LINE {n}\\n'); sys.stderr.flush(); time.sleep(0.002)\n"
    "sys.stdout.write('done')"
)


def test_status_written_a_line_at_a_time_is_collected_whole_with_few_wake_ups(monkeypatch):
    import pgpmail.gpgrun as gpgrun

    polls = []
    real_poll = gpgrun.select.poll

    class CountingPoll:
        def __init__(self):
            self._poll = real_poll()
            self.register, self.unregister = self._poll.register, self._poll.unregister

        def poll(self, timeout):
            polls.append(timeout)
            return self._poll.poll(timeout)

    monkeypatch.setattr(gpgrun.select, "poll", CountingPoll)
    run = _run(_LINE_BY_LINE)

    returncode, out, err = run.finish()

    assert (returncode, out) == (0, b"done")
    assert err.decode().splitlines() == [f"[GNUPG:] LINE {n}" for n in range(40)]
    # The output fits in the pipes: finish() sleeps until the exit, then reads it all,
    # instead of waking for each of the forty lines.
    assert len(polls) < 8, len(polls)


def test_output_far_beyond_the_expected_size_is_drained_not_left_stuck():
    # A tiny input promises a small output; 3 MiB fills any pipe several times over.
    run = _run("import sys; sys.stdout.buffer.write(b'x' * (3 << 20))", stdin=b"x")
    started = time.monotonic()

    returncode, out, _ = run.finish()

    assert returncode == 0 and out == b"x" * (3 << 20)
    assert time.monotonic() - started < 5


# The child reports its open descriptors without opening one (listing /proc/self/fd would).
_OPEN_DESCRIPTORS = (
    "import os, sys\n"
    "def is_open(fd):\n"
    "    try:\n"
    "        os.fstat(fd)\n"
    "    except OSError:\n"
    "        return False\n"
    "    return True\n"
    "print(os.read(3, 100).decode() if is_open(3) else '-')\n"
    "print(' '.join(str(fd) for fd in range(1024) if is_open(fd)))"
)


def _passed_pipe(content: bytes) -> int:
    read, write = os.pipe()
    os.write(write, content)
    os.close(write)
    return read


def _descriptors_seen(passed: int) -> tuple[int, list[str]]:
    """Runs the reporting program with `passed` handed to it: (exit status, what it read
    from descriptor 3, then the descriptors it had open)."""
    run = GpgRun(
        [PYTHON, "-c", _OPEN_DESCRIPTORS],
        stdin=b"",
        env=dict(os.environ),
        time_limit=10,
        pass_fds=(passed,),
    )
    returncode, out, _ = run.finish()
    return returncode, out.decode().splitlines()


def test_the_program_gets_its_pipes_and_the_passed_descriptor_and_nothing_else():
    key = _passed_pipe(b"key material")
    stray = os.open(os.devnull, os.O_RDONLY)  # close-on-exec, as Python opens them all
    leaky = os.open(os.devnull, os.O_RDONLY)
    os.set_inheritable(leaky, True)  # as a careless C library might leave one
    try:
        assert descriptors_close_on_exec() >= 1
        assert not os.get_inheritable(leaky)
        returncode, lines = _descriptors_seen(key)
    finally:
        for fd in (key, stray, leaky):
            os.close(fd)
    assert returncode == 0
    assert lines == ["key material", "0 1 2 3"]


@pytest.mark.parametrize("number", [0, 3])
def test_a_passed_descriptor_numbered_like_one_of_the_programs_still_reaches_it(number):
    # A process whose stdin is closed gets 0 for its next pipe, and the key pipe can be
    # 3 in the worker too: as 0 it must not be overwritten by the program's stdin before
    # it is handed on as 3; as 3 it must be handed on, not left close-on-exec.
    key = _passed_pipe(b"same number")
    saved, inheritable = os.dup(number), os.get_inheritable(number)
    try:
        os.dup2(key, number, inheritable=False)
        returncode, lines = _descriptors_seen(number)
    finally:
        os.dup2(saved, number, inheritable=inheritable)
        os.close(saved)
        os.close(key)
    assert returncode == 0
    assert lines == ["same number", "0 1 2 3"]


def test_a_program_named_without_a_path_is_found_on_the_given_path():
    folder = os.path.dirname(PYTHON)
    run = GpgRun(
        [os.path.basename(PYTHON), "-c", "print('found')"],
        stdin=b"",
        env={"PATH": folder},
        time_limit=10,
    )
    assert run.finish()[:2] == (0, b"found\n")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's /proc")
def test_the_program_dies_of_a_closed_pipe_as_it_would_from_a_shell():
    # Python ignores SIGPIPE, and an ignored signal stays ignored across exec unless the
    # spawn resets it. cat reports the signals it was started ignoring.
    run = GpgRun(["/bin/cat", "/proc/self/status"], stdin=b"", env={}, time_limit=10)
    returncode, out, _ = run.finish()
    ignored = next(line for line in out.decode().splitlines() if line.startswith("SigIgn:"))
    assert returncode == 0
    assert not int(ignored.split()[1], 16) & (1 << (signal.SIGPIPE - 1))
