"""OpenPGP key fixtures for tests: the checked-in *.asc files and fresh keys on demand.

The *.asc files are written by make_keys.py (see its docstring for what each one is).
A person's own key pair, with the home that decrypts for them, is person.PersonKey.
Every home made here is closed with gpg_home_close, which stops its gpg-agent.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

KEYS_DIR = Path(__file__).resolve().parent
GPG = os.environ.get("HAULOUT_GPG_BINARY", "gpg")
# expiring-soon.asc expires 2045-06-01 12:00 UTC; seen from here it has 12 days left.
EXPIRING_SOON_NOW = datetime(2045, 5, 20, tzinfo=UTC)
GOOD_EMAIL = "good@example.org"

_homes: dict[str, str] = {}


def load(name: str) -> str:
    """The armored text of tests/keys/<name>.asc, e.g. load("good-cv25519")."""
    return (KEYS_DIR / f"{name}.asc").read_text()


def gen_person_key(tmpdir: str | os.PathLike, email: str) -> tuple[str, str, str]:
    """A fresh key for `email` (ed25519 primary, cv25519 encryption subkey, no passphrase,
    never expires). Returns (armored_public, armored_secret, fingerprint).

    Keys made with the same tmpdir share one gpg home (and agent), so making many is
    fast; the home lives under a short /tmp path because gpg-agent's socket does.
    """
    home = _home_for(tmpdir)
    params = (
        "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
        "Subkey-Type: ecdh\nSubkey-Curve: cv25519\nSubkey-Usage: encrypt\n"
        f"Name-Real: Person\nName-Email: {email}\nExpire-Date: 0\n%no-protection\n%commit\n"
    )
    done = gpg_home_run(home, "--status-fd", "1", "--gen-key", stdin=params.encode())
    created = [line.split()[-1] for line in done.decode().splitlines() if "KEY_CREATED" in line]
    fingerprint = created[-1]
    public = gpg_home_run(home, "--armor", "--export", fingerprint).decode()
    secret = gpg_home_run(home, "--armor", "--export-secret-keys", fingerprint).decode()
    return public, secret, fingerprint


def gpg_home_new(prefix: str) -> str:
    """A throwaway gpg home (mode 0700) under a short /tmp path: gpg-agent's socket
    lives inside the home, and a socket path has a length limit."""
    return tempfile.mkdtemp(prefix=prefix)


def gpg_home_close(home: str | os.PathLike) -> None:
    """Stop the home's gpg-agent (secret-key operations start one, and it would outlive
    the tests) and delete the home."""
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"],
                   capture_output=True, check=False)  # fmt: skip
    shutil.rmtree(home, ignore_errors=True)


def gpg_home_run(home: str | os.PathLike, *args: str, stdin: bytes | None = None) -> bytes:
    """gpg in `home`, batch mode, empty passphrase; stdout, or RuntimeError on failure."""
    cmd = [GPG, "--homedir", str(home), "--batch", "--no-tty", "--no-random-seed-file",
           "--pinentry-mode", "loopback", "--passphrase", "", *args]  # fmt: skip
    done = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"gpg {' '.join(args[:2])} failed: {done.stderr.decode()[-1000:]}")
    return done.stdout


def gpg_home_close_all() -> None:
    for home in _homes.values():
        gpg_home_close(home)
    _homes.clear()


atexit.register(gpg_home_close_all)


def _home_for(tmpdir: str | os.PathLike) -> str:
    key = str(tmpdir)
    if key not in _homes:
        _homes[key] = gpg_home_new("hk-")
    return _homes[key]


def gpg_decrypt(
    ciphertext: str | bytes, *, secret: str, signer_public: str | None = None
) -> tuple[int, bytes, str]:
    """Decrypt in a fresh home holding only `secret` (and `signer_public`, to check the
    signature). Returns (gpg exit code, plaintext, status lines)."""
    home = gpg_home_new("hd-")
    try:
        gpg_home_run(home, "--import", stdin=secret.encode())
        if signer_public:
            gpg_home_run(home, "--import", stdin=signer_public.encode())
        data = ciphertext.encode() if isinstance(ciphertext, str) else ciphertext
        done = subprocess.run(
            [GPG, "--homedir", home, "--batch", "--no-tty", "--trust-model", "always",
             "--status-fd", "2", "--decrypt"],
            input=data, capture_output=True, check=False,
        )  # fmt: skip
        return done.returncode, done.stdout, done.stderr.decode(errors="replace")
    finally:
        gpg_home_close(home)


def gpg_list_packets(data: str | bytes) -> str:
    """`gpg --list-packets` of a message, without any key (recipients are listed anyway)."""
    home = gpg_home_new("hl-")
    try:
        done = subprocess.run(
            [GPG, "--homedir", home, "--batch", "--no-tty", "--list-packets"],
            input=data.encode() if isinstance(data, str) else data,
            capture_output=True, check=False,
        )  # fmt: skip
        return done.stdout.decode(errors="replace")
    finally:
        gpg_home_close(home)


def recipients_listed(data: str | bytes) -> list[str]:
    """Key IDs of the public-key session key packets, as gpg --list-packets reports them."""
    return re.findall(r"^:pubkey enc packet: version \d+, algo \d+, keyid ([0-9A-F]{16})",
                      gpg_list_packets(data), re.MULTILINE)  # fmt: skip


def subkey_ids(armored: str) -> list[str]:
    """Long key IDs of the key's encryption-capable subkeys, read by gpg."""
    home = gpg_home_new("hs-")
    try:
        gpg_home_run(home, "--import", stdin=armored.encode())
        listing = gpg_home_run(home, "--with-colons", "--list-keys").decode()
    finally:
        gpg_home_close(home)
    return [
        fields[4]
        for fields in (line.split(":") for line in listing.splitlines())
        if fields[0] == "sub" and "e" in fields[11]
    ]
