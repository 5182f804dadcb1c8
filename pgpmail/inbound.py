"""Mail that reaches the team: messages decrypted with the team key, signatures checked.

The gpg home is this process's worker home (pgpmail.crypto): the team key is already
imported there and its agent running. No reporter key is ever imported, so a signature
is verified only when gpg already holds the signer's key; otherwise the fingerprint the
signature names for itself (its issuer) is what we can record.

Nothing here logs or puts into an exception message any part of a message: every error
says what went wrong in general terms only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from django.conf import settings

from pgpmail.crypto import (
    GPG_TIME_LIMIT,
    CryptoError,
    GpgEnvironmentError,
    TeamKeyError,
    _home_get,
)
from pgpmail.gpg import BASE_OPTIONS
from pgpmail.gpg import _environment as gpg_environment
from pgpmail.gpgrun import FIRST_PASSED_FD, GpgRun, GpgRunError

# A detached signature is a few hundred bytes; more than this is not one. It reaches gpg
# through a pipe written before gpg starts, which must not block (64 KiB on Linux).
SIGNATURE_MAX_BYTES = 48 * 1024
_FINGERPRINT = re.compile(r"^[0-9A-F]{40}$")
_KEY_ID = re.compile(r"^[0-9A-F]{16}$")
# RFC 4880 9.1 has no public-key algorithm 0; ERRSIG's rc 9 is "no public key".
_NO_PUBLIC_KEY = "9"
_OUTPUT_CUT = "HAULOUT_OUTPUT_CUT"


class UndecryptableError(CryptoError):
    """The message cannot be decrypted with the team key: not encrypted to it, damaged,
    or not an OpenPGP message at all. Trying again will not help."""


@dataclass(frozen=True)
class TeamOpened:
    """A message decrypted with the team key. `signer_fingerprint` is "" unless it
    carries a signature: the signer's primary fingerprint when gpg verified it, or, for
    a key gpg does not have, the fingerprint (or long key ID) the signature names; never
    anything for a bad signature."""

    text: str = field(repr=False)
    signer_fingerprint: str


def inbound_output_max_bytes() -> int:
    """The most plaintext gpg may write for one message (--max-output): a compressed
    message must not unpack into more than all the attachments a report may carry."""
    return (
        settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES * settings.HAULOUT_REPORT_ATTACHMENTS_MAX
        + 1024 * 1024
    )


def team_message_decrypt(*, armored: str | bytes) -> TeamOpened:
    """Decrypts an OpenPGP message with the team's secret key.

    UndecryptableError when it is not for the team key or cannot be read;
    GpgEnvironmentError when gpg cannot run (try again later); TeamKeyError when the
    team key or its passphrase cannot be used (the operators')."""
    plaintext, signer = team_message_decrypt_bytes(armored=armored)
    return TeamOpened(text=plaintext.decode("utf-8", "replace"), signer_fingerprint=signer)


def team_message_decrypt_bytes(*, armored: str | bytes) -> tuple[bytes, str]:
    """team_message_decrypt() without decoding: (plaintext, signer fingerprint). A
    PGP/MIME entity is bytes, and may hold 8-bit parts in any charset."""
    data = team_message_bytes(armored=armored, limit=inbound_output_max_bytes())
    home = _home_get()
    command = _command(home, "--pinentry-mode", "loopback", "--passphrase-fd", "0", "--decrypt")
    # The passphrase reaches gpg on stdin, ahead of the message (--passphrase-fd 0).
    _returncode, out, status = _gpg(command, home.passphrase.encode("utf-8") + b"\n" + data)
    if _has(status, "BAD_PASSPHRASE") or _has(status, "MISSING_PASSPHRASE"):
        raise TeamKeyError("the team key's passphrase was refused while decrypting")
    if not status.strip():
        raise GpgEnvironmentError("gpg said nothing while decrypting")
    if not _has(status, "DECRYPTION_OKAY") or _has(status, "DECRYPTION_FAILED"):
        if _has(status, "ENC_TO") and not _recipients_have_secret(status):
            raise UndecryptableError("the message is not encrypted to the team key")
        raise UndecryptableError("the message could not be decrypted")
    # --max-output stops the plaintext near the limit, and gpg still says DECRYPTION_OKAY:
    # only its human message (always English: LC_ALL=C) tells.
    if _has(status, _OUTPUT_CUT) or len(out) >= inbound_output_max_bytes():
        raise UndecryptableError("the message is larger than a report may be")
    return out, _signer(status)


def team_message_bytes(*, armored: str | bytes, limit: int) -> bytes:
    """`armored` as bytes for gpg, refused (UndecryptableError) when it is empty or
    larger than `limit`."""
    data = armored.encode("utf-8", "replace") if isinstance(armored, str) else bytes(armored)
    if not data.strip():
        raise UndecryptableError("there is no message to decrypt")
    if len(data) > limit:
        raise UndecryptableError("the message is larger than a report may be")
    return data


def signature_verify(*, data: bytes, signature: bytes | None = None) -> str:
    """The signer of `data` as team_message_decrypt() records it ("" for no signature
    or a bad one). With `signature` (RFC 3156 multipart/signed: the detached signature,
    `data` the signed part in canonical CRLF form); without it, `data` is a clearsigned
    (inline) message. GpgEnvironmentError when gpg cannot run."""
    if len(data) > inbound_output_max_bytes():
        return ""
    home = _home_get()
    if signature is None:
        _returncode, _out, status = _gpg(_command(home, "--verify"), data)
        return _signer(status)
    if not signature.strip() or len(signature) > SIGNATURE_MAX_BYTES:
        return ""
    return _signer(detached_status(home=home, data=data, signature=signature))


def detached_status(*, home, data: bytes, signature: bytes) -> str:
    """gpg's status lines for `gpg --verify` of a detached `signature` (at most
    SIGNATURE_MAX_BYTES) over `data`."""
    # The signature reaches gpg through a pipe (/dev/fd/N), the signed data on stdin.
    signature_read, signature_write = os.pipe()
    try:
        try:
            os.write(signature_write, signature)  # fits the pipe (checked): never blocks
        finally:
            os.close(signature_write)
        command = _command(home, "--verify", f"/dev/fd/{FIRST_PASSED_FD}", "-")
        _returncode, _out, status = _gpg(command, data, pass_fds=(signature_read,))
    finally:
        os.close(signature_read)
    return status


def _command(home, *action: str) -> list[str]:
    return [
        home.binary or settings.GPG_BINARY,
        "--homedir",
        str(home.path),
        "--status-fd",
        "2",
        "--no-tty",
        "--batch",
        *BASE_OPTIONS,
        # Trust says nothing about who signed: the status lines name the key either way,
        # and no trust database is consulted or written.
        "--trust-model",
        "always",
        "--max-output",
        str(inbound_output_max_bytes()),
        *action,
    ]


def _gpg(command: list[str], stdin: bytes, pass_fds: tuple[int, ...] = ()):
    try:
        run = GpgRun(
            command,
            stdin=stdin,
            env=gpg_environment(),
            time_limit=GPG_TIME_LIMIT,
            pass_fds=pass_fds,
        )
        returncode, out, raw_status = run.finish()
    except (GpgRunError, OSError) as error:
        raise GpgEnvironmentError(f"gpg failed while reading a message: {error}") from error
    # stderr carries gpg's human messages too; only the status lines are read, and the
    # one message that has no status line is turned into one of ours.
    text = raw_status.decode("utf-8", "replace")
    status = [line for line in text.splitlines() if line.startswith("[GNUPG:] ")]
    if "exceeded --max-output limit" in text:
        status.append(f"[GNUPG:] {_OUTPUT_CUT}")
    return returncode, out, "\n".join(status)


def _has(status: str, keyword: str) -> bool:
    return re.search(rf"^\[GNUPG:\] {keyword}(?: |$)", status, re.MULTILINE) is not None


def _lines(status: str, keyword: str) -> list[list[str]]:
    prefix = f"[GNUPG:] {keyword} "
    return [line[len(prefix) :].split() for line in status.splitlines() if line.startswith(prefix)]


def _recipients_have_secret(status: str) -> bool:
    """Whether gpg had the secret key for any key ID the message is encrypted to."""
    encrypted_to = {fields[0] for fields in _lines(status, "ENC_TO") if fields}
    missing = {fields[0] for fields in _lines(status, "NO_SECKEY") if fields}
    return bool(encrypted_to - missing)


def _signer(status: str) -> str:
    """The first signature's signer, from gpg's status lines (doc/DETAILS): VALIDSIG
    (a good signature by a key gpg has; its last field is the primary key's
    fingerprint), else ERRSIG with rc 9 (no public key; gpg 2.2.7+ gives the issuer's
    fingerprint as its last field, "-" when the signature does not say), else ""."""
    if _has(status, "BADSIG"):
        return ""
    for fields in _lines(status, "VALIDSIG"):
        candidates = [fields[-1], fields[0]] if len(fields) >= 10 else fields[:1]
        for candidate in candidates:
            if _FINGERPRINT.match(candidate.upper()):
                return candidate.upper()
    for fields in _lines(status, "ERRSIG"):
        if len(fields) < 6 or fields[5] != _NO_PUBLIC_KEY:
            continue
        issuer = fields[6].upper() if len(fields) >= 7 else ""
        if _FINGERPRINT.match(issuer):
            return issuer
        if _KEY_ID.match(fields[0].upper()):
            return fields[0].upper()
    return ""
