"""Encrypting and signing notices (the PGP/MIME envelope around them: pgpmail/mime.py).

Fail closed: every function raises CryptoError rather than return anything that is not
an encrypted, signed message for exactly the pinned fingerprint. There is no plaintext
fallback anywhere.

Each process keeps its own gpg home, GPG_HOME_ROOT/worker-<pid>-<random>: a cache rebuilt from
configuration (the team key); recipient keys reach gpg per copy, never imported.
Separate homes and --no-random-seed-file keep concurrent workers from queueing on one
home's random_seed lock (benchmarks/gpg_homes.py measures it).
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import logging
import os
import re
import secrets
import shutil
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from pgpmail import packets as openpgp
from pgpmail.gpg import BASE_OPTIONS, Gpg, GpgUnavailable, agent_stop, throwaway_home
from pgpmail.gpg import _environment as gpg_environment
from pgpmail.gpgrun import FIRST_PASSED_FD, GpgRun, GpgRunError, descriptors_close_on_exec
from pgpmail.keys import ciphertext_is_for, key_stored_problem

GPG_TIME_LIMIT = 60.0  # seconds per gpg run; signing waits on the agent, so be generous
# The agent re-protects the imported team key with its own passphrase hashing, which
# it calibrates to ~100 ms and repeats on every signature (measured 0.36 s per notice
# here). The team passphrase is 256 random bits, so iterated hashing adds nothing
# against guessing; the minimum count makes a signature cost milliseconds.
# The passphrase is cached for the agent's whole life (it is in the worker's memory
# anyway): two gpg runs that sign at once while it is not cached can race in the agent
# ("signing failed: Invalid value"), and a worker has two runs going at times.
AGENT_CONF = "s2k-count 65536\ndefault-cache-ttl 315360000\nmax-cache-ttl 315360000\n"
_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")


class CryptoError(Exception):
    """Nothing could be encrypted; never fall back to sending plaintext.

    The subclasses say whose fault it is, which decides what becomes of the copy:
    RecipientKeyError fails it (the person must fix their key); anything else is this
    machine's gpg or the team key, which can come back, so the copy waits."""


class RecipientKeyError(CryptoError):
    """The recipient's key cannot be encrypted to (malformed, expired, revoked, not the
    pinned key). Trying again will not help."""


class TeamKeyError(CryptoError):
    """The team's signing key or its passphrase cannot be used: the operators' to fix."""


class GpgEnvironmentError(CryptoError):
    """gpg cannot run here right now (binary missing, home not writable, agent not
    starting, too slow): nothing to do with any key."""


@dataclass
class _Home:
    config: tuple
    path: Path
    prototype: Gpg
    team_fingerprint: str
    team_public: str
    passphrase: str = field(repr=False)
    # settings.GPG_BINARY found on the PATH once: a bare name had every run try each PATH
    # entry in turn.
    binary: str = ""
    # fingerprint -> (sha256 of the armor we imported, its encryption key IDs)
    recipients: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)

    def gpg(self) -> Gpg:
        # A shallow copy skips python-gnupg's start-up gpg run and gives this call its
        # own timed_out flag.
        runner = copy.copy(self.prototype)
        runner.timed_out = False
        return runner


logger = logging.getLogger(__name__)
# The most a registered key can be once dearmored (pgp.MAX_KEY_BYTES of armor is 64 KiB):
# one write of it to an empty pipe (64 KiB on Linux) never blocks.
_PIPE_SAFE_BYTES = 48 * 1024


def notice_encrypt_and_sign(*, recipient_armored: str, fingerprint: str, plaintext: bytes) -> bytes:
    """An ASCII-armored OpenPGP message: `plaintext` signed by the team key and
    encrypted to exactly `fingerprint`, nobody else."""
    return notice_seal_start(
        recipient_armored=recipient_armored, fingerprint=fingerprint, plaintext=plaintext
    ).result()


def notice_seal_start(*, recipient_armored: str, fingerprint: str, plaintext: bytes) -> Sealing:
    """Starts gpg on what notice_encrypt_and_sign() returns; the caller may do other work
    (send the previous copy) before Sealing.result() waits for it and checks it."""
    fingerprint = fingerprint.strip().upper()
    if not _FINGERPRINT.match(fingerprint):
        raise RecipientKeyError("the pinned fingerprint is not 40 hex digits")
    home = _home_get()
    key_data, key_ids = _recipient_key(recipient_armored, fingerprint)
    # The key reaches gpg through a pipe (--recipient-file /dev/fd/N): nothing per copy
    # is written to disk, and there is no file to clean up.
    key_read, key_write = os.pipe()
    try:
        try:
            os.write(key_write, key_data)  # fits the pipe (checked): never blocks
        finally:
            os.close(key_write)
        run = GpgRun(
            _seal_command(home, f"/dev/fd/{FIRST_PASSED_FD}"),
            # The passphrase goes to gpg on stdin, ahead of the message (--passphrase-fd 0).
            stdin=home.passphrase.encode("utf-8") + b"\n" + plaintext,
            env=gpg_environment(),
            time_limit=GPG_TIME_LIMIT,
            pass_fds=(key_read,),
        )
    except (GpgRunError, OSError) as error:
        raise GpgEnvironmentError(f"gpg failed during encrypt: {error}") from error
    finally:
        os.close(key_read)  # gpg has its own copy
    return Sealing(run, key_ids, home.team_fingerprint)


class Sealing:
    """A started gpg run encrypting and signing one message."""

    def __init__(self, run: GpgRun, key_ids: frozenset[str], team: str):
        self._run, self._key_ids, self._team = run, key_ids, team

    def result(self) -> bytes:
        """Waits for gpg; the armored message, or CryptoError unless it is signed by the
        team key and encrypted to exactly the pinned key."""
        try:
            returncode, ciphertext, raw_status = self._run.finish()
        except GpgRunError as error:
            raise GpgEnvironmentError(f"{error} during encrypt") from error
        status = raw_status.decode("utf-8", "replace")
        if returncode != 0 or "[GNUPG:] END_ENCRYPTION" not in status:
            # Only what gpg says about the recipient is the key's fault; a bad passphrase,
            # a dead agent or a missing status is this machine's.
            fault = RecipientKeyError if _recipient_refused(status) else GpgEnvironmentError
            raise fault(f"gpg did not encrypt: {_status_phrase(status)}")
        signed = re.search(r"^\[GNUPG:\] SIG_CREATED .* ([0-9A-F]{40})$", status, re.MULTILINE)
        if not signed or signed.group(1) != self._team:
            raise TeamKeyError("gpg did not sign with the team key")
        if not ciphertext.startswith(b"-----BEGIN PGP MESSAGE-----"):
            raise GpgEnvironmentError("gpg returned no PGP message")
        # The armor checksum guards against damage in transit, not tampering, and this
        # armor comes straight from gpg's pipe: only the packets are checked.
        text = ciphertext.decode("ascii", "replace")
        if not ciphertext_is_for(text, set(self._key_ids), verify_checksum=False):
            raise RecipientKeyError("the message is not encrypted to exactly the pinned key")
        return ciphertext

    def abandon(self) -> None:
        """Stops gpg (an error elsewhere means this copy will not be sent now)."""
        self._run.abandon()


def team_public_key_armored() -> str:
    """The team's public key, for the site to publish.

    Read from settings.HAULOUT_TEAM_PUBLIC_KEY_FILE, so the web process never needs the
    secret key. Only when that file is missing is the key derived from the secret key,
    once per process (the worker home caches it)."""
    public_file = Path(settings.HAULOUT_TEAM_PUBLIC_KEY_FILE)
    try:
        armored = public_file.read_text()
    except FileNotFoundError:
        return _home_get().team_public
    except OSError as error:
        raise CryptoError(f"the team public key file {public_file} cannot be read") from error
    # Fail closed on a misplaced file: never publish secret material, nor something that
    # is not a key.
    if "PRIVATE KEY" in armored or "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in armored:
        raise CryptoError(f"the team public key file {public_file} holds no public key only")
    return armored


def team_key_generate(
    *, name: str, email: str, path: Path | str, passphrase_path: Path | str,
    expire: str = "3y", overwrite: bool = False, public_path: Path | str | None = None,
) -> str:  # fmt: skip
    """Make a new team key (ed25519 signing, cv25519 encryption) protected by a random
    passphrase; write the armored secret key and the passphrase, each mode 0600, and the
    public key (for the site to publish) to `public_path`, by default next to the secret
    key as <name>.pub.asc. Returns the fingerprint."""
    path, passphrase_path = Path(path), Path(passphrase_path)
    public_path = Path(public_path) if public_path is not None else path.with_suffix(".pub.asc")
    if not overwrite and (path.exists() or passphrase_path.exists()):
        raise CryptoError(f"{path} or {passphrase_path} already exists")
    if any(char in f"{name}{email}{expire}" for char in "\r\n"):
        raise CryptoError("name, email and expiry must be single lines")
    passphrase = secrets.token_urlsafe(32)
    # The parameters, passphrase included, reach gpg on stdin.
    params = (
        "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
        "Subkey-Type: ecdh\nSubkey-Curve: cv25519\nSubkey-Usage: encrypt\n"
        f"Name-Real: {name}\nName-Email: {email}\nExpire-Date: {expire}\n"
        f"Passphrase: {passphrase}\n%commit\n"
    )
    with throwaway_home() as home:
        gpg = _gpg(home, timeout=120)
        created = _run(gpg, "key generation", lambda: gpg.gen_key(params))
        fingerprint = (created.fingerprint or "").upper()
        if not _FINGERPRINT.match(fingerprint):
            raise CryptoError("gpg did not create a key")
        armored = _run(
            gpg, "export", lambda: gpg.export_keys(fingerprint, secret=True, passphrase=passphrase)
        )
        public = _run(gpg, "export", lambda: gpg.export_keys(fingerprint, minimal=True))
    if "-----BEGIN PGP PRIVATE KEY BLOCK-----" not in armored:
        raise CryptoError("gpg did not export the new key")
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in public or "PRIVATE KEY" in public:
        raise CryptoError("gpg did not export the new public key")
    _write_private(passphrase_path, passphrase + "\n")
    _write_private(path, armored)
    # Public, but written the same careful way; the web process only ever reads this one.
    _write_private(public_path, public)
    public_path.chmod(0o644)
    return fingerprint


def worker_home_close() -> None:
    """Stop this process's gpg-agent and delete its home (tests; process exit)."""
    _homes.close()


atexit.register(worker_home_close)


def worker_homes_sweep() -> None:
    """Removes the homes (and stops the agents) of processes that have gone without
    closing theirs; a live process's home is left alone."""
    root = Path(settings.GPG_HOME_ROOT)
    if root.is_dir():
        _sweep_dead_homes(root)


def worker_home_prepare() -> bool:
    """Builds this process's gpg home now, as a worker's pool process starts: the team
    key is imported and checked (it signs once) and gpg-agent is running before the
    first notice instead of during it (~0.1 s per process). A key that cannot be used is
    logged, not raised: the worker still runs other tasks, and every copy fails closed
    with the reason until the key is fixed."""
    try:
        home = _home_get()
    except TeamKeyError as error:
        logger.error("The team signing key cannot be used yet: %s", error)
        return False
    except (CryptoError, GpgUnavailable) as error:
        # Not the key's fault: gpg is missing, its home is not writable or its agent
        # does not start. Copies wait for it (they are not failed).
        logger.error("gpg cannot be used on this worker yet: %s", error)
        return False
    logger.info("gpg home ready, signing as %s", home.team_fingerprint)
    return True


# ---------------------------------------------------------------- the worker home


def _config() -> tuple:
    key_file = Path(settings.HAULOUT_TEAM_KEY_FILE)
    try:
        # A replaced team key file (new mtime) rebuilds the home.
        stamp = key_file.stat().st_mtime_ns
    except OSError as error:
        raise TeamKeyError(f"the team key file {key_file} cannot be read") from error
    return (
        os.getpid(),
        str(settings.GPG_HOME_ROOT),
        str(key_file),
        stamp,
        str(settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE),
        settings.GPG_BINARY,
    )


# How long a process uses its gpg home before it looks at the configuration again (the
# settings, and the team key file's mtime: a replaced key rebuilds the home). Looking on
# every copy cost about 5% of a worker's CPU in a fan-out (benchmarks/fanout.py); a
# settings change (tests) makes the next call look at once.
HOME_RECHECK_SECONDS = 1.0


# Every cache in the process, so a settings change reaches each of them.
_caches: weakref.WeakSet[HomeCache] = weakref.WeakSet()


class HomeCache:
    """This process's gpg home, built on first use and rebuilt when the configuration
    changes. `clock` is injected so a test can move time without sleeping."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.RLock()
        self._home: _Home | None = None
        self._recheck_at = 0.0
        _caches.add(self)

    def get(self) -> _Home:
        home = self._home
        # The pid too: after a fork the parent's home belongs to the parent.
        if home is not None and self._clock() < self._recheck_at and home.config[0] == os.getpid():
            return home
        with self._lock:
            config = _config()
            if self._home is None or self._home.config != config:
                if self._home is not None and self._home.config[0] == os.getpid():
                    self.close()
                # After a fork the parent's home belongs to the parent: leave it alone.
                self._home = _home_build(config)
            self._recheck_at = self._clock() + HOME_RECHECK_SECONDS
            return self._home

    def recheck_now(self) -> None:
        self._recheck_at = 0.0

    def close(self) -> None:
        """Stops the home's gpg-agent and deletes the home."""
        with self._lock:
            if self._home is not None:
                agent_stop(self._home.path)
                shutil.rmtree(self._home.path, ignore_errors=True)
                self._home = None


# The one cache a process uses for notices.
_homes = HomeCache()


def _home_get() -> _Home:
    return _homes.get()


@receiver(setting_changed)
def _home_recheck_now(**kwargs) -> None:
    for cache in list(_caches):
        cache.recheck_now()


def _home_build(config: tuple) -> _Home:
    root = Path(settings.GPG_HOME_ROOT)
    # A fresh name for every build: an agent of an earlier home of this process may still be
    # exiting, and it removes its socket on the way out; under the same path that would be
    # the new agent's socket, and the next gpg run fails.
    path = root / f"worker-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        team_armored = Path(settings.HAULOUT_TEAM_KEY_FILE).read_text()
        passphrase = Path(settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE).read_text().rstrip("\r\n")
    except OSError as error:
        raise TeamKeyError(f"cannot read the team key or its passphrase: {error}") from error
    if not passphrase or "\n" in passphrase or "\r" in passphrase:
        raise TeamKeyError("the team key passphrase file must hold one non-empty line")
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        _sweep_dead_homes(root)
        if path.exists():  # left by an earlier process with our pid: a stale cache
            agent_stop(path)
            shutil.rmtree(path)
        path.mkdir(mode=0o700)
        path.chmod(0o700)
        (path / "gpg-agent.conf").write_text(AGENT_CONF)
    except OSError as error:
        shutil.rmtree(path, ignore_errors=True)
        raise GpgEnvironmentError(f"cannot prepare the gpg home: {error}") from error
    try:
        return _home_fill(config, path, team_armored, passphrase)
    except BaseException:
        # A home that failed half-way (a wrong passphrase, a signal) may already have an
        # agent running in it: nothing of it is kept.
        agent_stop(path)
        shutil.rmtree(path, ignore_errors=True)
        raise


def _home_fill(config: tuple, path: Path, team_armored: str, passphrase: str) -> _Home:
    prototype = _gpg(path, timeout=GPG_TIME_LIMIT)
    home = _Home(config, path, prototype, "", "", passphrase)
    home.binary = (
        shutil.which(settings.GPG_BINARY, path=gpg_environment()["PATH"]) or settings.GPG_BINARY
    )
    # gpg runs are spawned without closing this process's descriptors (gpgrun.py): any
    # that a library left inheritable is made close-on-exec now, once.
    descriptors_close_on_exec()
    gpg = home.gpg()
    imported = _run(gpg, "team key import", lambda: gpg.import_keys(team_armored))
    gpg = home.gpg()
    secret = _run(gpg, "team key listing", lambda: gpg.list_keys(secret=True))
    if imported.sec_read < 1 or len(secret) != 1:
        raise TeamKeyError("the team key file must hold exactly one secret key")
    fingerprint = secret[0]["fingerprint"].upper()
    gpg = home.gpg()
    public = _run(gpg, "team key listing", lambda: gpg.list_keys(keys=[fingerprint]))
    if len(public) != 1 or public[0]["trust"] in ("r", "e", "i", "d"):
        raise TeamKeyError("the team key is revoked, expired or invalid")
    if "S" not in public[0]["cap"]:
        raise TeamKeyError("the team key cannot sign")
    gpg = home.gpg()
    exported = _run(gpg, "team key export", lambda: gpg.export_keys(fingerprint, minimal=True))
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in exported:
        raise GpgEnvironmentError("gpg did not export the team public key")
    home.team_fingerprint = fingerprint
    home.team_public = exported
    # One signature now, alone: it checks the passphrase and fills the agent's cache
    # before the worker's pipelined runs sign two at a time.
    gpg = home.gpg()
    signed = _run(
        gpg,
        "team key check",
        lambda: gpg.sign(b"haulout", keyid=fingerprint, passphrase=passphrase, detach=True),
    )
    if not signed.data:
        raise TeamKeyError("the team key cannot sign with its passphrase")
    return home


def _recipient_key(armored: str, fingerprint: str) -> tuple[bytes, frozenset[str]]:
    """Check the stored key without running gpg; return it as binary packets, for gpg's
    --recipient-file, and the key IDs a message for it may name.

    No import and no keyring: in a fan-out every copy is for a new person, and an
    import (plus a throwaway-home re-inspection) per copy tripled the gpg runs per
    notice (benchmarks/fanout.py). The key was fully inspected when it was registered;
    here we re-check what matters for this message: exactly one public primary key, no
    secret material, version 4, and its fingerprint is the pinned one. gpg itself refuses
    an expired, revoked or encryption-less key given with --recipient-file, and the
    ciphertext is checked afterwards for exactly one recipient that is this key.
    """
    try:
        # The armor's CRC was checked when the key was registered. Damage since then
        # changes the packets: the primary key no longer has the pinned fingerprint
        # (checked here), or a subkey's binding signature fails and gpg refuses it.
        # The CRC again, in Python, cost ~0.1 ms per copy.
        blocks = openpgp.dearmor(armored, verify_checksum=False)
        if len(blocks) != 1 or blocks[0].kind != "PUBLIC KEY BLOCK":
            raise RecipientKeyError("the recipient key is not exactly one public key block")
        data = blocks[0].data
        primaries: list[str] = []
        key_ids: set[str] = set()
        for tag, body in openpgp.packets(data):
            if tag in (openpgp.SECRET_KEY, openpgp.SECRET_SUBKEY):
                raise RecipientKeyError("the recipient key holds secret material")
            if tag in (openpgp.PUBLIC_KEY, openpgp.PUBLIC_SUBKEY):
                if not body or body[0] != 4 or len(body) > 0xFFFF:
                    raise RecipientKeyError("the recipient key is not an OpenPGP version 4 key")
                # RFC 4880 12.2: SHA-1 over 0x99, a two-octet length and the key body.
                digest = hashlib.sha1(
                    b"\x99" + len(body).to_bytes(2, "big") + body, usedforsecurity=False
                )
                key_fpr = digest.hexdigest().upper()
                key_ids.add(key_fpr[-16:])
                if tag == openpgp.PUBLIC_KEY:
                    primaries.append(key_fpr)
    except openpgp.PacketError as error:
        raise RecipientKeyError(f"the recipient key is malformed: {error}") from error
    if primaries != [fingerprint]:
        raise RecipientKeyError("the recipient key is not exactly the pinned key")
    # A key stored before today's rules (too weak by the size rule, say) is never
    # encrypted to, whether or not an operator has run pgp_keys_recheck yet.
    problem = key_stored_problem(armored=armored)
    if problem:
        raise RecipientKeyError(f"the recipient key fails today's key rules: {problem}")
    if len(data) > _PIPE_SAFE_BYTES:
        raise RecipientKeyError("the recipient key is too large")
    return data, frozenset(key_ids)


def _seal_command(home: _Home, key_file: str) -> list[str]:
    return [
        home.binary or settings.GPG_BINARY,
        "--homedir",
        str(home.path),
        "--status-fd",
        "2",
        "--no-tty",
        "--batch",
        "--pinentry-mode",
        "loopback",
        "--passphrase-fd",
        "0",
        *BASE_OPTIONS,
        "--encrypt",
        "--armor",
        "--sign",
        # --local-user, not --default-key: the latter has gpg ask the agent about every
        # secret key first, which cost ~0.5 ms per copy (benchmarks/fanout.py).
        "--local-user",
        home.team_fingerprint,
        "--trust-model",
        "always",
        "--recipient-file",
        key_file,
    ]


# gpg status keywords and the short phrase a failure reason gives for each.
_STATUS_PHRASES = (
    ("INV_RECP", "invalid recipient"),
    ("KEYEXPIRED", "key expired"),
    ("KEYREVOKED", "key revoked"),
    ("BAD_PASSPHRASE", "bad passphrase"),
    ("MISSING_PASSPHRASE", "missing passphrase"),
    ("INV_SGNR", "invalid signer"),
    ("NO_SGNR", "no signer"),
    ("FAILURE", "failure"),
    ("ERROR", "error"),
)


_RECIPIENT_STATUSES = ("INV_RECP", "KEYEXPIRED", "KEYREVOKED", "NO_PUBKEY")


def _recipient_refused(status: str) -> bool:
    return any(
        f"[GNUPG:] {keyword} " in status or f"[GNUPG:] {keyword}\n" in status
        for keyword in _RECIPIENT_STATUSES
    )


def _status_phrase(status: str) -> str:
    for keyword, phrase in _STATUS_PHRASES:
        if f"[GNUPG:] {keyword} " in status or f"[GNUPG:] {keyword}\n" in status:
            if keyword in _LOCATED:
                # Where it failed and gpg's error code (`gpg-error CODE` names it): what a
                # rare failure needs to be diagnosed, and nothing of the message.
                found = _LOCATED[keyword].search(status)
                if found:
                    return f"{phrase} ({found.group(1)}, gpg error {found.group(2)})"
            return phrase
    return "no status"


_LOCATED = {
    keyword: re.compile(rf"^\[GNUPG:\] {keyword} ([a-z_.]{{1,40}}) (\d{{1,12}})\b", re.MULTILINE)
    for keyword in ("FAILURE", "ERROR")
}


def _sweep_dead_homes(root: Path) -> None:
    """Remove homes of processes that have gone (a killed worker cannot clean up)."""
    for home in root.glob("worker-*"):
        try:
            pid = int(home.name.removeprefix("worker-").split("-", 1)[0])
            os.kill(pid, 0)
        except ValueError:
            continue
        except ProcessLookupError:
            agent_stop(home)
            shutil.rmtree(home, ignore_errors=True)
        except PermissionError:  # alive, someone else's
            continue


def _gpg(home: Path | str, *, timeout: float) -> Gpg:
    try:
        return Gpg(home=home, timeout=timeout)
    except GpgUnavailable as error:
        raise GpgEnvironmentError(str(error)) from error


def _run(gpg: Gpg, what: str, call):
    try:
        result = call()
    except (OSError, ValueError) as error:
        raise GpgEnvironmentError(f"gpg failed during {what}: {type(error).__name__}") from error
    if gpg.timed_out:
        raise GpgEnvironmentError(f"gpg took too long during {what}")
    return result


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    path.chmod(0o600)
