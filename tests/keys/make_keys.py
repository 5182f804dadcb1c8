"""Write the OpenPGP key fixtures in tests/keys/*.asc from scratch with the gpg binary.

    .venv/bin/python tests/keys/make_keys.py              # every fixture, into tests/keys/
    .venv/bin/python tests/keys/make_keys.py --out DIR expired sign-only

Every key is made by gpg itself (batch mode, empty passphrase, a throwaway home), so
the fixtures are real keys, not hand-edited bytes. Keys meant to be valid expire on
VALID_UNTIL, far enough ahead that the checked-in files stay valid for years.

Sizes are chosen against the caps in pgpmail/keys.py:
- many-uids: 80 user IDs (cap 50), still under the 64 KB size cap, so the UID cap trips;
- many-signatures: 250 third-party certifications (cap 200), under 64 KB;
- oversized: 2,000 user IDs, about 500 KB; the size cap refuses it before anything
  parses it (the UID cap would catch it too).

Weak and odd keys (issue 15, item 7):
- weak-dsa1024: DSA-1024 primary, ElGamal-1024 encryption subkey (refused);
- dsa2048: DSA-2048 primary, ElGamal-2048 encryption subkey (accepted, "deprecated");
- weak-rsa-subkey: RSA-3072 primary with an RSA-3072 encryption subkey and a newer
  RSA-1024 one, which gpg would pick (refused);
- markup-uid: a user ID with HTML markup besides its address (accepted with a warning).
gpg will not make a user ID of 2,048 characters or more; the tests splice such a packet
into a good key instead (as they do for a key with no user ID, or a damaged one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

GPG = os.environ.get("HAULOUT_GPG_BINARY", "gpg")
HERE = Path(__file__).resolve().parent
VALID_UNTIL = "2046-01-01"
# expiring-soon expires on this day; tests inspect it with `now` a few days before.
EXPIRING_SOON_UNTIL = "2045-06-01"
MANY_UIDS = 80
MANY_SIGNATURES = 250
OVERSIZED_UIDS = 2000


class Home:
    """A throwaway GNUPGHOME. Short path: gpg-agent's socket lives inside it."""

    def __init__(self) -> None:
        self.path = tempfile.mkdtemp(prefix="hk-")
        os.chmod(self.path, 0o700)

    def __enter__(self) -> Home:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        # gen-key starts an agent in this home; stop it before the home disappears.
        subprocess.run(
            ["gpgconf", "--homedir", self.path, "--kill", "gpg-agent"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.path, ignore_errors=True)

    def gpg(self, *args: str, stdin: bytes | None = None, faked_time: str | None = None) -> bytes:
        cmd = [
            GPG, "--homedir", self.path, "--batch", "--no-tty", "--no-random-seed-file",
            "--passphrase", "", "--pinentry-mode", "loopback", "--trust-model", "always",
        ]  # fmt: skip
        if faked_time:
            # "!" freezes the clock, so creation and expiry land exactly where we say.
            cmd += ["--faked-system-time", f"{faked_time}!"]
        done = subprocess.run(cmd + list(args), input=stdin, capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)} failed: {done.stderr.decode()[-2000:]}")
        return done.stdout

    def gen(self, uid: str, algo: str = "ed25519", usage: str = "cert,sign",
            expire: str = VALID_UNTIL, faked_time: str | None = None) -> str:  # fmt: skip
        """Make a primary key and return its fingerprint."""
        self.gpg("--quick-gen-key", uid, algo, usage, expire, faked_time=faked_time)
        return self.fingerprints()[-1]

    def add_encryption_subkey(self, fpr: str, algo: str = "cv25519", expire: str = VALID_UNTIL,
                              faked_time: str | None = None) -> None:  # fmt: skip
        self.gpg("--quick-add-key", fpr, algo, "encr", expire, faked_time=faked_time)

    def person(self, uid: str, expire: str = VALID_UNTIL, faked_time: str | None = None) -> str:
        """ed25519 primary (certify, sign) plus a cv25519 encryption subkey."""
        fpr = self.gen(uid, expire=expire, faked_time=faked_time)
        self.add_encryption_subkey(fpr, expire=expire, faked_time=faked_time)
        return fpr

    def fingerprints(self) -> list[str]:
        out = self.gpg("--with-colons", "--list-keys").decode()
        fprs, want = [], False
        for line in out.splitlines():
            fields = line.split(":")
            if fields[0] == "pub":
                want = True
            elif fields[0] == "fpr" and want:
                fprs.append(fields[9])
                want = False
            elif fields[0] == "sub":
                want = False
        return fprs

    def export(self, *fprs: str) -> str:
        return self.gpg("--armor", "--export", *fprs).decode()

    def export_secret(self, fpr: str) -> str:
        return self.gpg("--armor", "--export-secret-keys", fpr).decode()

    def edit(self, fpr: str, commands: list[str]) -> None:
        """Drive --edit-key in one session (one keyring write, not one per command)."""
        script = "\n".join([*commands, "save", ""]).encode()
        self.gpg("--command-fd", "0", "--edit-key", fpr, stdin=script)


def good_cv25519(home: Home) -> dict[str, str]:
    fpr = home.person("Good Person <good@example.org>")
    return {"good-cv25519": home.export(fpr), "good-cv25519.secret": home.export_secret(fpr)}


def good_rsa3072(home: Home) -> dict[str, str]:
    fpr = home.gen("Rsa Person <rsa@example.org>", algo="rsa3072")
    home.add_encryption_subkey(fpr, algo="rsa3072")
    return {"good-rsa3072": home.export(fpr)}


def expired(home: Home) -> dict[str, str]:
    # gpg refuses an expiry date in the past, so the key is made "in" 2020 instead.
    fpr = home.person("Expired Person <expired@example.org>", expire="1y",
                      faked_time="20200101T120000")  # fmt: skip
    return {"expired": home.export(fpr)}


def revoked(home: Home) -> dict[str, str]:
    fpr = home.person("Revoked Person <revoked@example.org>")
    # gen-key always writes a revocation certificate; importing it revokes the key.
    cert = Path(home.path, "openpgp-revocs.d", f"{fpr}.rev").read_text()
    cert = cert.replace(
        ":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----"
    )
    home.gpg("--import", stdin=cert.encode())
    return {"revoked": home.export(fpr)}


def revoked_subkey(home: Home) -> dict[str, str]:
    fpr = home.person("Revoked Subkey <revoked-subkey@example.org>")
    # Answers to the prompts: confirm, reason 0 (no reason), empty text, confirm.
    home.edit(fpr, ["key 1", "revkey", "y", "0", "", "y"])
    return {"revoked-subkey": home.export(fpr)}


def sign_only(home: Home) -> dict[str, str]:
    fpr = home.gen("Sign Only <sign-only@example.org>")
    return {"sign-only": home.export(fpr)}


def two_keys(home: Home) -> dict[str, str]:
    first = home.person("First Key <first@example.org>")
    second = home.person("Second Key <second@example.org>")
    return {"two-keys": home.export(first, second)}


def many_uids(home: Home) -> dict[str, str]:
    fpr = home.person("Many Uids <many-uids@example.org>")
    home.edit(fpr, adduid_commands(MANY_UIDS - 1, "many"))
    return {"many-uids": home.export(fpr)}


def many_signatures(home: Home) -> dict[str, str]:
    fpr = home.person("Well Connected <well-connected@example.org>")
    # One parameter file makes every signer in one run (a run per key is 8x slower).
    params = "".join(
        f"Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: cert\nName-Real: Signer {i}\n"
        f"Name-Email: signer{i}@example.org\nExpire-Date: {VALID_UNTIL}\n%no-protection\n%commit\n"
        for i in range(MANY_SIGNATURES)
    )
    home.gpg("--gen-key", stdin=params.encode())
    local_users = []
    for signer in home.fingerprints():
        if signer != fpr:
            local_users += ["--local-user", signer]
    # One --quick-sign-key certifies with every --local-user key at once.
    home.gpg(*local_users, "--quick-sign-key", fpr)
    return {"many-signatures": home.export(fpr)}


def oversized(home: Home) -> dict[str, str]:
    fpr = home.person("Oversized <oversized@example.org>")
    home.edit(fpr, adduid_commands(OVERSIZED_UIDS - 1, "big"))
    return {"oversized": home.export(fpr)}


def expiring_soon(home: Home) -> dict[str, str]:
    fpr = home.person("Expiring Soon <expiring-soon@example.org>", expire=EXPIRING_SOON_UNTIL)
    return {"expiring-soon": home.export(fpr)}


def other_email(home: Home) -> dict[str, str]:
    fpr = home.person("Carol Elsewhere <carol@elsewhere.example>")
    return {"other-email": home.export(fpr)}


def garbage(home: Home) -> dict[str, str]:
    body = "\n".join(["VGhpcyBpcyBub3QgYSBrZXks", "IGp1c3Qgd29yZHMu!!!", "=AAAA"])
    return {
        "garbage": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n"
        f"{body}\n-----END PGP PUBLIC KEY BLOCK-----\n"
    }


def weak_dsa1024(home: Home) -> dict[str, str]:
    fpr = home.gen("Weak Dsa <weak-dsa@example.org>", algo="dsa1024")
    home.add_encryption_subkey(fpr, algo="elg1024")
    return {"weak-dsa1024": home.export(fpr)}


def dsa2048(home: Home) -> dict[str, str]:
    fpr = home.gen("Old Dsa <dsa2048@example.org>", algo="dsa2048")
    home.add_encryption_subkey(fpr, algo="elg2048")
    return {"dsa2048": home.export(fpr)}


def weak_rsa_subkey(home: Home) -> dict[str, str]:
    # Distinct creation times, so the weak subkey is the newest: the one gpg encrypts to.
    fpr = home.gen("Weak Subkey <weak-subkey@example.org>", algo="rsa3072",
                   faked_time="20260101T000000")  # fmt: skip
    home.add_encryption_subkey(fpr, algo="rsa3072", faked_time="20260102T000000")
    home.add_encryption_subkey(fpr, algo="rsa1024", faked_time="20260103T000000")
    return {"weak-rsa-subkey": home.export(fpr)}


def markup_uid(home: Home) -> dict[str, str]:
    fpr = home.person("Mallory <script>alert(1)</script> <markup@example.org>")
    return {"markup-uid": home.export(fpr)}


def adduid_commands(count: int, prefix: str) -> list[str]:
    commands = []
    for i in range(count):
        # adduid prompts for name, email and comment in turn.
        commands += ["adduid", f"{prefix.title()} User {i}", f"{prefix}{i}@example.org", ""]
    return commands


FIXTURES: dict[str, Callable[[Home], dict[str, str]]] = {
    "good-cv25519": good_cv25519,
    "good-rsa3072": good_rsa3072,
    "expired": expired,
    "revoked": revoked,
    "revoked-subkey": revoked_subkey,
    "sign-only": sign_only,
    "two-keys": two_keys,
    "many-uids": many_uids,
    "many-signatures": many_signatures,
    "oversized": oversized,
    "expiring-soon": expiring_soon,
    "other-email": other_email,
    "garbage": garbage,
    "weak-dsa1024": weak_dsa1024,
    "dsa2048": dsa2048,
    "weak-rsa-subkey": weak_rsa_subkey,
    "markup-uid": markup_uid,
}


def make(names: list[str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        # One home per fixture: no fixture can pick up another's keys by accident.
        with Home() as home:
            for stem, text in FIXTURES[name](home).items():
                path = out / f"{stem}.asc"
                path.write_text(text)
                written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(FIXTURES))
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    unknown = set(args.names) - set(FIXTURES)
    if unknown:
        parser.error(f"unknown fixture(s): {', '.join(sorted(unknown))}")
    for path in make(args.names or list(FIXTURES), args.out):
        print(f"{path.stat().st_size:>8}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
