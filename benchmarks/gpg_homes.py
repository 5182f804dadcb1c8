"""Do concurrent gpg processes sharing one home stall on random_seed? Measure it.

    .venv/bin/python benchmarks/gpg_homes.py [--messages 100] [--workers 2] [--sign]

Each scenario runs `workers` processes in parallel, each encrypting `messages` short
notices (python-gnupg, one gpg run per message) to the same cv25519 key:

- shared home:           one GNUPGHOME for all workers, gpg's default random_seed file;
- per-process homes:     one GNUPGHOME per worker (what pgpmail.crypto does);
- shared, no seed file:  one GNUPGHOME, --no-random-seed-file (what pgpmail.crypto adds).

With --sign every message is also signed by a passphrase-less key, through the agent.
Prints wall time, messages per second and the ratio to the shared-home baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import gnupg

ROOT = Path(__file__).resolve().parent.parent
RECIPIENT = (ROOT / "tests" / "keys" / "good-cv25519.asc").read_text()
GPG = os.environ.get("HAULOUT_GPG_BINARY", "gpg")


def prepare_home(path: str, sign: bool) -> tuple[str, str | None]:
    os.makedirs(path, mode=0o700, exist_ok=True)
    gpg = gnupg.GPG(gpgbinary=GPG, gnupghome=path)
    fingerprint = gpg.import_keys(RECIPIENT).fingerprints[0]
    signer = None
    if sign:
        subprocess.run(
            [GPG, "--homedir", path, "--batch", "--passphrase", "", "--pinentry-mode",
             "loopback", "--quick-gen-key", "Bench Team <bench@example.org>", "ed25519",
             "sign", "never"],
            check=True, capture_output=True,
        )  # fmt: skip
        signer = gpg.list_keys(secret=True)[0]["fingerprint"]
    return fingerprint, signer


def worker(home: str, fingerprint: str, signer: str | None, messages: int, options: list[str]):
    gpg = gnupg.GPG(gpgbinary=GPG, gnupghome=home, options=options)
    started = time.monotonic()
    for i in range(messages):
        result = gpg.encrypt(
            f"notice {i} ".encode() * 20, [fingerprint], always_trust=True, sign=signer
        )
        if not result.ok:
            raise RuntimeError(f"gpg failed: {result.status} {result.stderr[-500:]}")
    return time.monotonic() - started


def scenario(name: str, *, per_process: bool, options: list[str], args) -> float:
    root = tempfile.mkdtemp(prefix="hb-")
    try:
        homes = [
            os.path.join(root, f"w{i}" if per_process else "shared") for i in range(args.workers)
        ]
        keys = {home: prepare_home(home, args.sign) for home in set(homes)}
        started = time.monotonic()
        with ProcessPoolExecutor(args.workers) as pool:
            futures = [
                pool.submit(worker, home, *keys[home], args.messages, options) for home in homes
            ]
            for future in futures:
                future.result()
        wall = time.monotonic() - started
    finally:
        for home in os.listdir(root):
            subprocess.run(["gpgconf", "--homedir", os.path.join(root, home), "--kill",
                            "gpg-agent"], capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sign", action="store_true")
    args = parser.parse_args()
    total = args.messages * args.workers
    print(f"{args.workers} processes x {args.messages} messages, sign={args.sign}, "
          f"gpg {gnupg.GPG(gpgbinary=GPG).version}, {os.cpu_count()} CPUs")  # fmt: skip
    scenarios = [
        ("shared home", False, []),
        ("per-process homes", True, []),
        ("shared, no seed file", False, ["--no-random-seed-file"]),
        ("per-process, no seed file", True, ["--no-random-seed-file"]),
    ]
    baseline = None
    for name, per_process, options in scenarios:
        wall = scenario(name, per_process=per_process, options=options, args=args)
        baseline = baseline or wall
        print(f"{name:<28} {wall:7.2f} s  {total / wall:7.1f} msg/s  x{baseline / wall:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
