"""Time an embargoed notice's fan-out end to end, against bare gpg doing the same work.

    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python benchmarks/fanout.py --recipients 1000

N need-to-know people with real cv25519 keys (generated once, cached in var/bench-keys/),
two Celery worker processes on the real Redis (a queue of the run's own), gpg, and an
SMTP sink on loopback (benchmarks/smtp_sink.py). Measured: from pressing "send"
(notice_send) to the last message arriving at the sink. Baseline, in the same run:
`gpg --encrypt --sign` of a message of the same size to the same N keys (each given
with --recipient-file, as the workers do) in two parallel processes. Both are run
--rounds times (7), interleaved, each fan-out a new notice to the same people. S and B
are the medians of each; the ratio R is the median of the rounds' own ratios, each round's
fan-out and baseline having run back to back: the machine's speed drifts by several
percent within a minute (and by more in its slow spells), and a slow spell that catches
one side's middle runs moves the ratio of the medians, S/B, by more than the difference
between the two (S/B is printed on stderr too). Database: a scratch
database created next to the one in DATABASE_URL (PostgreSQL) and dropped afterwards,
or a temporary SQLite file.

On stderr, for each phase, the CPU milliseconds per copy of every process that used
any (gpg runs count under the worker that started them, as "worker:children"): where
the time goes, and what the fan-out pays that the baseline does not.

The last line is the result:
    fanout recipients=N seconds=S baseline_seconds=B ratio=R worker_peak_rss_mb=M
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks.scratch import scratch_database  # noqa: E402
from benchmarks.smtp_sink import SmtpSink  # noqa: E402
from devsupport.keyring import people_keys, team_key  # noqa: E402

KEYS_DIR = BASE_DIR / "var" / "bench-keys"
VAR_DIR = BASE_DIR / "var" / "bench"
CELERY = BASE_DIR / ".venv" / "bin" / "celery"
BODY = ("Apply the patch from the private repository before the disclosure date. " * 40)[:3000]


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and of each of its children; the max."""
    peaks = []
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    except OSError:
        pass
    for each in pids:
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return max(peaks, default=0.0)


def cpu_snapshot() -> dict[int, tuple[str, float, float]]:
    """{pid: (command name, own CPU seconds, reaped children's CPU seconds)} for every
    process: gpg runs are short-lived and show up in their parent's children figure."""
    tick = os.sysconf("SC_CLK_TCK")
    snapshot = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        own = (int(fields[11]) + int(fields[12])) / tick
        children = (int(fields[13]) + int(fields[14])) / tick
        snapshot[int(entry.name)] = (name, own, children)
    return snapshot


def cpu_report(before, after, *, copies: int, roles: dict[int, str]) -> str:
    """CPU milliseconds per copy between two snapshots, by role (or command name)."""
    totals: dict[str, float] = {}
    for pid, (name, own, children) in after.items():
        _, own_before, children_before = before.get(pid, (name, 0.0, 0.0))
        role = roles.get(pid, name)
        totals[role] = totals.get(role, 0.0) + own - own_before
        if children - children_before:
            totals[f"{role}:children"] = totals.get(f"{role}:children", 0.0) + (
                children - children_before
            )
    parts = [
        f"{role}={seconds * 1000 / copies:.2f}"
        for role, seconds in sorted(totals.items(), key=lambda item: -item[1])
        if seconds > 0
    ]
    return f"cpu ms per copy: total={sum(totals.values()) * 1000 / copies:.2f} " + " ".join(parts)


def baseline(
    keys, key_file: Path, pass_file: Path, team_fpr: str, size: int, agent_conf: str
) -> float:
    """Bare gpg: encrypt+sign a message of `size` bytes to every key, two processes."""
    pub_dir = KEYS_DIR / "pub"
    pub_dir.mkdir(exist_ok=True)
    for key in keys:
        path = pub_dir / f"{key.fingerprint}.asc"
        if not path.exists():
            path.write_text(key.armored)
    homes = []
    for _ in range(2):
        home = Path(tempfile.mkdtemp(prefix="hb-"))
        home.chmod(0o700)
        # The workers' gpg setup (pgpmail.crypto.AGENT_CONF), so both sides sign alike.
        (home / "gpg-agent.conf").write_text(agent_conf)
        subprocess.run(
            ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback",
             "--passphrase-file", str(pass_file), "--import", str(key_file)],
            capture_output=True, check=True,
        )  # fmt: skip
        homes.append(home)
    plaintext = os.urandom(size // 2).hex().encode()
    halves = [keys[0::2], keys[1::2]]

    def run(home: Path, part) -> None:
        for key in part:
            done = subprocess.run(
                ["gpg", "--homedir", str(home), "--batch", "--no-tty", "--no-random-seed-file",
                 "--trust-model", "always", "--pinentry-mode", "loopback",
                 "--passphrase-file", str(pass_file), "--local-user", team_fpr,
                 "--armor", "--sign", "--encrypt",
                 "--recipient-file", str(pub_dir / f"{key.fingerprint}.asc")],
                input=plaintext, capture_output=True, check=False,
            )  # fmt: skip
            if done.returncode != 0 or not done.stdout.startswith(b"-----BEGIN PGP MESSAGE"):
                raise RuntimeError(done.stderr.decode(errors="replace"))

    # Warm each home's agent, as a running worker's would be.
    for home in homes:
        run(home, keys[:1])
    before = cpu_snapshot()
    start = time.monotonic()
    threads = [threading.Thread(target=run, args=(homes[i], halves[i])) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    print(
        "baseline "
        + cpu_report(before, cpu_snapshot(), copies=len(keys), roles={os.getpid(): "bench"}),
        file=sys.stderr,
    )
    for home in homes:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False)
        subprocess.run(["rm", "-rf", str(home)], check=False)
    return elapsed


def fanout_time(*, notice, actor, sink, count: int, roles: dict, timeout: float) -> float:
    """Presses "send" on `notice` and waits for its `count` copies at the sink; seconds
    from the press to the last arrival. Prints where the CPU went and a timeline."""
    from embargo.models import Delivery
    from embargo.services import notice_send

    first = sink.count()
    before = cpu_snapshot()
    send_at = time.monotonic()
    notice_send(notice=notice, actor=actor)
    sent_queued = time.monotonic() - send_at
    deadline = send_at + timeout
    while sink.count() - first < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {sink.count() - first} of {count} messages arrived")
        time.sleep(0.05)
    messages = sink.messages[first:]
    print(
        "fanout " + cpu_report(before, cpu_snapshot(), copies=count, roles=roles),
        file=sys.stderr,
    )
    states = dict.fromkeys(Delivery.State.values, 0)
    for state in Delivery.objects.filter(notice=notice).values_list("state", flat=True):
        states[state] += 1
    arrivals = sorted(message.at - send_at for message in messages)
    print(
        "timeline: first copy at {:.2f}s; 10%/50%/90% at {:.2f}/{:.2f}/{:.2f}s; "
        "last at {:.2f}s".format(
            arrivals[0],
            *(arrivals[int(len(arrivals) * q)] for q in (0.1, 0.5, 0.9)),
            arrivals[-1],
        ),
        file=sys.stderr,
    )
    print(
        f"send pressed -> {count} queued in {sent_queued:.2f}s; rows {states}; "
        f"message {len(messages[0].data)} bytes",
        file=sys.stderr,
    )
    return arrivals[-1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument(
        "--rounds",
        type=int,
        default=7,
        help="fan-outs and baselines, interleaved; the median of the rounds' ratios",
    )
    args = parser.parse_args(argv)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        parser.error("set REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
    count = args.recipients

    started = time.monotonic()
    keys = people_keys(count, KEYS_DIR)
    key_file, pass_file, team_fpr = team_key(KEYS_DIR)
    print(f"keys ready: {count} in {time.monotonic() - started:.1f}s", file=sys.stderr)

    database_url, drop_database = scratch_database()
    sink = SmtpSink().start()
    queue = f"haulout-bench-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECURE": "0",
        "DJANGO_SECRET_KEY": "benchmark-only-" + uuid.uuid4().hex * 2,
        "HAULOUT_VAR_DIR": str(VAR_DIR),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "EMAIL_URL": f"smtp://127.0.0.1:{sink.port}",
        "HAULOUT_TEAM_KEY_FILE": str(key_file),
        "HAULOUT_TEAM_KEY_PASSPHRASE_FILE": str(pass_file),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    workers: list[subprocess.Popen] = []
    import django

    django.setup()
    try:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from django.contrib.auth import get_user_model

        from devsupport.world import bulk_people, case_ready, notice_draft

        bulk_people(keys)
        staff = get_user_model().objects.create(
            username="bench-staff", email="staff@bench.example.org", is_staff=True
        )
        # The setup just bulk-loaded every table; a real list's tables are not a minute
        # old when "send" is pressed. Settle them now so autovacuum does not analyse the
        # set-up during the timed fan-out (the fan-out's own writes still count).
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")

        logs = []
        for index in range(args.workers):
            log = (VAR_DIR / f"bench-worker-{index}.log").open("wb")
            logs.append(log)
            workers.append(
                subprocess.Popen(
                    [str(CELERY), "-A", "config", "worker", "--concurrency", "1", "-P",
                     "prefork", "-Q", queue, "-n", f"bench{index}-{queue}@%h",
                     "--loglevel", "INFO", "--without-gossip", "--without-mingle",
                     "--without-heartbeat"],
                    cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )  # fmt: skip
        deadline = time.monotonic() + 120
        # Ready, with its gpg home built (pgpmail.crypto.worker_home_prepare), as a worker
        # that has been running for a while is.
        while not all(
            b" ready." in log and b"gpg home ready" in log
            for log in (
                (VAR_DIR / f"bench-worker-{i}.log").read_bytes() for i in range(args.workers)
            )
        ):
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise RuntimeError("workers did not start; see var/bench/bench-worker-*.log")
            time.sleep(0.2)

        # This process stands for the web server where "send" is pressed. A running one
        # has its broker connection open; the first task of a fresh process opens it
        # (~0.2 s of imports and connecting), which is not part of a fan-out.
        from config.celery import app

        with app.producer_or_acquire():
            pass
        # And, like config/wsgi.py, it keeps what it loaded at start out of the garbage
        # collector's full passes.
        import gc

        gc.collect()
        gc.freeze()

        roles = {os.getpid(): "bench"}
        for worker in workers:
            roles[worker.pid] = "celery-main"
            children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text()
            roles.update(dict.fromkeys(map(int, children.split()), "worker"))
        from pgpmail import AGENT_CONF

        def fanout_once() -> float:
            case = case_ready(actor=staff)
            notice = notice_draft(case=case, body=BODY)
            return fanout_time(
                notice=notice, actor=case.created_by, sink=sink, count=count, roles=roles,
                timeout=args.timeout,
            )  # fmt: skip

        def baseline_once() -> float:
            return baseline(
                keys, key_file, pass_file, team_fpr, size=len(BODY) + 600, agent_conf=AGENT_CONF
            )

        # Rounds of both, in alternating order: the machine's speed drifts by several
        # percent within a minute, and the medians of interleaved runs follow it.
        fanouts, baselines = [], []
        for round_number in range(args.rounds):
            order = (fanout_once, baseline_once)
            if round_number % 2:
                order = order[::-1]
            for run in order:
                (fanouts if run is fanout_once else baselines).append(run())
            print(
                f"round {round_number + 1}: fanout {fanouts[-1]:.2f}s baseline "
                f"{baselines[-1]:.2f}s ratio {fanouts[-1] / baselines[-1]:.2f}",
                file=sys.stderr,
            )
        seconds, base = statistics.median(fanouts), statistics.median(baselines)
        ratios = [fanout / base_run for fanout, base_run in zip(fanouts, baselines, strict=True)]
        ratio = statistics.median(ratios)
        print(
            f"ratios of the rounds: {' '.join(f'{r:.2f}' for r in sorted(ratios))}; "
            f"median {ratio:.2f}; ratio of the medians {seconds / base:.2f}",
            file=sys.stderr,
        )
        rss = max(peak_rss_mb(worker.pid) for worker in workers)
    finally:
        for worker in workers:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        sink.stop()
        from django.db import connections

        connections.close_all()
        drop_database()
    print(
        f"fanout recipients={count} seconds={seconds:.2f} baseline_seconds={base:.2f} "
        f"ratio={ratio:.2f} worker_peak_rss_mb={rss:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
