"""Many real cv25519 keys, fast, cached on disk (for the fan-out tests and the benchmark).

gpg makes the keys in batch mode, one process per home for a whole batch; the people are
spread over `homes` gpg homes (person i lives in home i % homes), so a test can decrypt a
copy in its owner's home and show it does NOT decrypt in a home holding everyone else's
keys. Public keys are exported in one gpg run per home and split here by packet, so
thousands of keys do not cost thousands of gpg runs. Keys never expire (cache forever).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pgpmail import packets as openpgp

GPG = os.environ.get("HAULOUT_GPG_BINARY", "gpg")
EMAIL_DOMAIN = "fanout.example.org"


@dataclass(frozen=True)
class PersonKey:
    index: int
    email: str
    fingerprint: str
    armored: str
    home: str  # gpg home that holds this person's secret key


def gpg_run(home: str | Path, *args: str, stdin: bytes | None = None, check: bool = True):
    cmd = [GPG, "--homedir", str(home), "--batch", "--no-tty", "--no-random-seed-file", *args]
    done = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"gpg {args[:2]} failed: {done.stderr.decode(errors='replace')}")
    return done


def _params(indexes: list[int]) -> str:
    block = (
        "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
        "Subkey-Type: ecdh\nSubkey-Curve: cv25519\nSubkey-Usage: encrypt\n"
        "Name-Real: Person {i}\nName-Email: person{i}@" + EMAIL_DOMAIN + "\n"
        "Expire-Date: 0\n%no-protection\n%commit\n"
    )
    return "".join(block.format(i=i) for i in indexes)


def split_export(data: bytes) -> dict[str, tuple[str, str]]:
    """Binary export of many keys -> {email: (fingerprint, armored)}."""
    keys: dict[str, tuple[str, str]] = {}
    current: list[bytes] = []
    fingerprint = email = None

    def flush():
        if current and fingerprint and email:
            keys[email] = (fingerprint, openpgp.armor(b"".join(current), "PUBLIC KEY BLOCK"))

    for tag, raw, body in openpgp.packets_raw(data):
        if tag == openpgp.PUBLIC_KEY:  # a new key starts
            flush()
            current, email = [], None
            # v4 fingerprint: SHA-1 over 0x99, a two-octet length and the key body.
            fingerprint = (
                hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body, usedforsecurity=False)
                .hexdigest()
                .upper()
            )
        elif tag == openpgp.USER_ID and email is None:
            uid = body.decode()
            email = uid[uid.index("<") + 1 : uid.index(">")]
        current.append(raw)
    flush()
    return keys


def agent_stop(home: str | Path) -> None:
    """Stop the gpg-agent that key generation or a decryption started in `home`."""
    subprocess.run(
        ["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True, check=False
    )


def agents_stop(cache_dir: str | Path) -> None:
    """Stop the agents of every cached home (the homes and their keys stay cached)."""
    for home in Path(cache_dir).glob("home-*"):
        agent_stop(home)


def _generate(home: Path, indexes: list[int]) -> None:
    if not indexes:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".params", delete=False) as params:
        params.write(_params(indexes))
    try:
        gpg_run(home, "--gen-key", params.name)
    finally:
        os.unlink(params.name)


@contextlib.contextmanager
def _cache_locked(cache: Path):
    """One test process at a time fills a key cache (the suite runs in two at once)."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def people_keys(count: int, cache_dir: str | Path, homes: int = 2) -> list[PersonKey]:
    """The first `count` people's keys, generating only those not yet in the cache."""
    cache = Path(cache_dir)
    with _cache_locked(cache):
        return _people_keys(count, cache, homes)


def _people_keys(count: int, cache: Path, homes: int) -> list[PersonKey]:
    manifest_path = cache / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else []
    if len(manifest) < count:
        home_paths = [cache / f"home-{h}" for h in range(homes)]
        for path in home_paths:
            path.mkdir(mode=0o700, exist_ok=True)
        todo = list(range(len(manifest), count))
        # One gpg per home, in parallel: key generation is CPU-bound.
        with ThreadPoolExecutor(max_workers=homes) as pool:
            list(
                pool.map(
                    lambda h: _generate(home_paths[h], [i for i in todo if i % homes == h]),
                    range(homes),
                )
            )
        exported: dict[str, tuple[str, str]] = {}
        for path in home_paths:
            exported.update(split_export(gpg_run(path, "--export").stdout))
            agent_stop(path)
        for i in todo:
            email = f"person{i}@{EMAIL_DOMAIN}"
            fingerprint, armored = exported[email]
            manifest.append(
                {
                    "index": i,
                    "email": email,
                    "fingerprint": fingerprint,
                    "armored": armored,
                    "home": str(home_paths[i % homes]),
                }
            )
        manifest_path.write_text(json.dumps(manifest))
    return [PersonKey(**item) for item in manifest[:count]]


def team_key(cache_dir: str | Path) -> tuple[Path, Path, str]:
    """A signing key for the security team, passphrase-protected as in production.
    Returns (armored secret key file, passphrase file, fingerprint)."""
    cache = Path(cache_dir)
    with _cache_locked(cache):
        return _team_key(cache)


def _team_key(cache: Path) -> tuple[Path, Path, str]:
    key_file, pass_file, fpr_file = cache / "team.sec.asc", cache / "team.pass", cache / "team.fpr"
    if not fpr_file.exists():
        home = Path(tempfile.mkdtemp(prefix="hteam-"))
        try:
            pass_file.write_text("team passphrase for tests only\n")
            pass_file.chmod(0o600)
            gpg_run(
                home,
                "--pinentry-mode",
                "loopback",
                "--passphrase-file",
                str(pass_file),
                "--quick-gen-key",
                f"Security Team <security@{EMAIL_DOMAIN}>",
                "ed25519",
                "sign,cert",
                "0",
            )
            listing = gpg_run(home, "--with-colons", "--list-secret-keys").stdout.decode()
            fingerprint = next(
                line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")
            )
            secret = gpg_run(
                home,
                "--pinentry-mode",
                "loopback",
                "--passphrase-file",
                str(pass_file),
                "--armor",
                "--export-secret-keys",
                fingerprint,
            ).stdout
            key_file.write_bytes(secret)
            key_file.chmod(0o600)
            fpr_file.write_text(fingerprint)
        finally:
            agent_stop(home)
            subprocess.run(["rm", "-rf", str(home)], check=False)
    return key_file, pass_file, fpr_file.read_text().strip()
