"""Checks on a public key someone registers, and the possession-proof encryption.

Order matters: the size cap comes before any parsing; our own packet count (secret
material, how many keys, user IDs, signatures) comes before gpg sees a byte; gpg then
reads the key with --dry-run in a throwaway home that is deleted afterwards. The
shared gpg homes never see a key that has not passed every check here.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError

from distributors import openpgp
from distributors.gpg import Gpg, GpgUnavailable, throwaway_home

MAX_KEY_BYTES = 64 * 1024
MAX_USER_IDS = 50
MAX_SIGNATURES = 200
MAX_SUBKEYS = 20
MIN_RSA_BITS = 2048
PARSE_TIME_LIMIT = 5.0  # seconds for all gpg work on one key; gpg is killed after
EXPIRY_WARNING = timedelta(days=30)

MINIMAL_EXPORT = "gpg --armor --export-options export-minimal --export YOUR-FINGERPRINT"

TOO_LARGE = (
    f"The key is larger than {MAX_KEY_BYTES // 1024} KB. Export it without third-party "
    f"signatures ({MINIMAL_EXPORT}) and paste that."
)
PRIVATE_KEY = (
    "This is a secret (private) key, which you must never share. Nothing was stored. "
    "Paste your public key instead (gpg --armor --export YOUR-FINGERPRINT)."
)
NOT_ARMOR = (
    "This is not an ASCII-armored public key. Paste the whole block, from "
    "-----BEGIN PGP PUBLIC KEY BLOCK----- to -----END PGP PUBLIC KEY BLOCK-----."
)
NOT_A_KEY_BLOCK = "This is a PGP {kind}, not a public key block."
DAMAGED = (
    "The key block is damaged: its ASCII armor does not decode. "
    "Export the key again and paste the whole block unchanged."
)
NO_KEY = "The block contains no public key."
SEVERAL_KEYS = "The block contains {count} keys. Paste exactly one public key."
TOO_MANY_USER_IDS = (
    "The key has {count} user IDs; at most " + str(MAX_USER_IDS) + " are accepted. "
    "Export a copy with fewer user IDs."
)
TOO_MANY_SIGNATURES = (
    "The key carries {count} signatures; at most " + str(MAX_SIGNATURES) + " are accepted. "
    f"Export it without third-party signatures ({MINIMAL_EXPORT})."
)
TOO_MANY_SUBKEYS = "The key has {count} subkeys; at most " + str(MAX_SUBKEYS) + " are accepted."
TOO_SLOW = "Reading this key took too long, so it was refused."
UNREADABLE = "gpg could not read this key. Export it again with gpg --armor --export."
GPG_BROKEN = "Keys cannot be checked right now. Please try again later."
REVOKED = "This key has been revoked by its owner and cannot be used."
NO_ENCRYPTION_KEY = (
    "This key cannot encrypt: it has no encryption subkey. Add one "
    "(gpg --quick-add-key YOUR-FINGERPRINT cv25519 encr) and paste the key again."
)
ENCRYPTION_KEY_REVOKED = (
    "Every encryption subkey of this key has been revoked. Add a new encryption "
    "subkey and paste the key again."
)
WEAK_KEY = f"The encryption key is too weak: RSA keys need at least {MIN_RSA_BITS} bits."
EXPIRED = (
    "This key expired on {date}. Extend it (gpg --quick-set-expire YOUR-FINGERPRINT 2y "
    "and the same for its subkeys) and paste it again."
)
FINGERPRINT_MISMATCH = "The key does not match its pinned fingerprint {fingerprint}."
ENCRYPTION_FAILED = "Encrypting to this key failed, so it cannot be used."

WARN_EXPIRES_SOON = "This key expires on {date}, in {days} days. Extend it soon."
WARN_EMAIL_DIFFERS = (
    "None of the key's user IDs carries your account address {email}. "
    "That is allowed; check that this is the right key."
)

# gpg public-key algorithm numbers (RFC 4880 9.1, RFC 6637, RFC 9580) to names.
_RSA = {"1", "2", "3"}
_UID_EMAIL = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>\s*$")
_BARE_EMAIL = re.compile(r"([^<>\s@]+@[^<>\s@]+)")
_ALGORITHMS = {"16": "elg", "17": "dsa", "18": "ecdh", "19": "ecdsa", "22": "eddsa"}


class KeyRejected(ValidationError):
    """A key cannot be used. The message is written for the person who pasted it."""


@dataclass(frozen=True)
class KeyReport:
    fingerprint: str
    uids: list[str]
    emails: list[str]
    algorithm: str
    created_at: datetime
    expires_at: datetime | None
    armored: str
    warnings: list[str] = field(default_factory=list)


def key_inspect(
    *, armored: str, account_email: str | None = None, now: datetime | None = None
) -> KeyReport:
    """Check a pasted public key; return what we store, or raise KeyRejected."""
    now = now or datetime.now(UTC)
    data = _checked_packets(armored)
    deadline = time.monotonic() + PARSE_TIME_LIMIT
    with throwaway_home() as home:
        gpg = _gpg(home, deadline)
        scanned = _run(gpg, lambda: gpg.scan_keys_mem(data))
        if len(scanned) != 1:
            raise KeyRejected(
                UNREADABLE if not scanned else SEVERAL_KEYS.format(count=len(scanned))
            )
        key = scanned[0]
        expires_at = _encryption_expiry(key, now)
        fingerprint = key["fingerprint"].upper()
        # Only now, with every check passed, does the key enter even this throwaway home:
        # the stored copy is gpg's minimal export (latest self-signatures only).
        gpg = _gpg(home, deadline)
        imported = _run(gpg, lambda: gpg.import_keys(data))
        if [fp.upper() for fp in imported.fingerprints] != [fingerprint] or imported.sec_read:
            raise KeyRejected(UNREADABLE)
        gpg = _gpg(home, deadline)
        normalised = _run(gpg, lambda: gpg.export_keys(fingerprint, minimal=True))
    if "-----BEGIN PGP PUBLIC KEY BLOCK-----" not in normalised:
        raise KeyRejected(UNREADABLE)
    uids = [uid for uid in key["uids"] if scanned.uid_map.get(uid, {}).get("trust") != "r"]
    emails = [email for email in map(_uid_email, uids) if email]
    return KeyReport(
        fingerprint=fingerprint,
        uids=uids,
        emails=emails,
        algorithm=_algorithm(key),
        created_at=_timestamp(key["date"]),
        expires_at=expires_at,
        armored=normalised,
        warnings=_warnings(emails, account_email, expires_at, now),
    )


def key_status(*, armored: str, fingerprint: str, now: datetime | None = None) -> KeyReport:
    """Re-check a stored key, e.g. before a notice is sent or to warn about expiry."""
    report = key_inspect(armored=armored, now=now)
    if report.fingerprint != fingerprint.upper():
        raise KeyRejected(FINGERPRINT_MISMATCH.format(fingerprint=fingerprint))
    return report


def key_encrypt_to(*, armored: str, fingerprint: str, plaintext: str) -> str:
    """Encrypt a short text to exactly `fingerprint` (the possession proof)."""
    fingerprint = fingerprint.upper()
    data = _checked_packets(armored)
    deadline = time.monotonic() + PARSE_TIME_LIMIT
    with throwaway_home() as home:
        gpg = _gpg(home, deadline)
        imported = _run(gpg, lambda: gpg.import_keys(data))
        if [fp.upper() for fp in imported.fingerprints] != [fingerprint]:
            raise KeyRejected(FINGERPRINT_MISMATCH.format(fingerprint=fingerprint))
        gpg = _gpg(home, deadline)
        listed = _run(gpg, lambda: gpg.list_keys(keys=[fingerprint]))
        gpg = _gpg(home, deadline)
        result = _run(
            gpg,
            lambda: gpg.encrypt(plaintext.encode(), [fingerprint], always_trust=True, armor=True),
        )
    ciphertext = result.data.decode("ascii", "replace") if result.data else ""
    if not (result.ok and result.returncode == 0 and len(listed) == 1):
        raise KeyRejected(ENCRYPTION_FAILED)
    if not ciphertext_is_for(ciphertext, encryption_key_ids(listed[0])):
        raise KeyRejected(ENCRYPTION_FAILED)
    return ciphertext


def encryption_key_ids(key: dict) -> set[str]:
    """Key IDs of a listed key's encryption-capable parts (python-gnupg list_keys entry)."""
    ids = {
        keyid.upper() for keyid, info in key.get("subkey_info", {}).items() if "e" in info["cap"]
    }
    if "e" in key.get("cap", ""):
        ids.add(key["keyid"].upper())
    return ids


def ciphertext_is_for(ciphertext: str, key_ids: set[str], *, verify_checksum: bool = True) -> bool:
    """True if an armored message has exactly one recipient, and it is one of `key_ids`."""
    try:
        blocks = openpgp.dearmor(ciphertext, verify_checksum=verify_checksum)
        if len(blocks) != 1 or blocks[0].kind != "MESSAGE":
            return False
        recipients = openpgp.recipient_key_ids(blocks[0].data)
    except openpgp.PacketError:
        return False
    return len(recipients) == 1 and recipients[0] in key_ids


def _checked_packets(armored: str) -> bytes:
    """Everything we can refuse without gpg; returns the binary packets to hand to gpg."""
    if len(armored.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise KeyRejected(TOO_LARGE)
    if "PRIVATE KEY BLOCK" in armored:
        raise KeyRejected(PRIVATE_KEY)
    try:
        blocks = openpgp.dearmor(armored)
    except openpgp.PacketError as error:
        raise KeyRejected(DAMAGED) from error
    if not blocks:
        raise KeyRejected(NOT_ARMOR)
    for block in blocks:
        if block.kind != "PUBLIC KEY BLOCK":
            raise KeyRejected(NOT_A_KEY_BLOCK.format(kind=block.kind.lower()))
    data = b"".join(block.data for block in blocks)
    try:
        counts = openpgp.packet_counts(data)
    except openpgp.PacketError as error:
        raise KeyRejected(DAMAGED) from error
    if counts[openpgp.SECRET_KEY] or counts[openpgp.SECRET_SUBKEY]:
        raise KeyRejected(PRIVATE_KEY)
    if not counts[openpgp.PUBLIC_KEY]:
        raise KeyRejected(NO_KEY)
    if counts[openpgp.PUBLIC_KEY] > 1:
        raise KeyRejected(SEVERAL_KEYS.format(count=counts[openpgp.PUBLIC_KEY]))
    user_ids = counts[openpgp.USER_ID] + counts[openpgp.USER_ATTRIBUTE]
    if user_ids > MAX_USER_IDS:
        raise KeyRejected(TOO_MANY_USER_IDS.format(count=user_ids))
    if counts[openpgp.SIGNATURE] > MAX_SIGNATURES:
        raise KeyRejected(TOO_MANY_SIGNATURES.format(count=counts[openpgp.SIGNATURE]))
    if counts[openpgp.PUBLIC_SUBKEY] > MAX_SUBKEYS:
        raise KeyRejected(TOO_MANY_SUBKEYS.format(count=counts[openpgp.PUBLIC_SUBKEY]))
    return data


def _gpg(home, deadline: float) -> Gpg:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise KeyRejected(TOO_SLOW)
    try:
        return Gpg(home=home, timeout=remaining)
    except GpgUnavailable as error:
        raise KeyRejected(GPG_BROKEN) from error


def _run(gpg: Gpg, call):
    try:
        result = call()
    except (OSError, ValueError) as error:  # e.g. a broken pipe once gpg has been killed
        raise KeyRejected(TOO_SLOW if gpg.timed_out else UNREADABLE) from error
    if gpg.timed_out:
        raise KeyRejected(TOO_SLOW)
    return result


def _encryption_expiry(key: dict, now: datetime) -> datetime | None:
    """The effective expiry of the subkey gpg would encrypt to; refuses unusable keys."""
    if key["trust"] == "r":
        raise KeyRejected(REVOKED)
    primary_expiry = _timestamp(key["expires"]) if key["expires"] else None
    candidates = [info for info in key.get("subkey_info", {}).values() if "e" in info["cap"]]
    if "e" in key["cap"]:
        candidates.append(key)
    if not candidates:
        raise KeyRejected(NO_ENCRYPTION_KEY)
    candidates = [c for c in candidates if c["trust"] not in ("r", "i", "d")]
    if not candidates:
        raise KeyRejected(ENCRYPTION_KEY_REVOKED)
    candidates = [c for c in candidates if not _weak(c)]
    if not candidates:
        raise KeyRejected(WEAK_KEY)
    usable = []
    for candidate in candidates:
        expiries = [e for e in (primary_expiry, _optional_timestamp(candidate["expires"])) if e]
        effective = min(expiries) if expiries else None
        usable.append((effective, _timestamp(candidate["date"])))
    alive = [(expiry, created) for expiry, created in usable if expiry is None or expiry > now]
    if not alive:
        latest = max(expiry for expiry, _created in usable)
        raise KeyRejected(EXPIRED.format(date=_format(latest)))
    # gpg encrypts to the newest valid encryption subkey.
    return max(alive, key=lambda pair: pair[1])[0]


def _uid_email(uid: str) -> str | None:
    """The address in "Name (comment) <address>" or a bare "address" user ID."""
    match = _UID_EMAIL.search(uid) or _BARE_EMAIL.fullmatch(uid.strip())
    return match.group(1).lower() if match else None


def _weak(part: dict) -> bool:
    return part["algo"] in _RSA and int(part["length"] or 0) < MIN_RSA_BITS


def _warnings(
    emails: list[str], account_email: str | None, expires_at: datetime | None, now: datetime
) -> list[str]:
    warnings = []
    if account_email and account_email.strip().lower() not in emails:
        warnings.append(WARN_EMAIL_DIFFERS.format(email=account_email))
    if expires_at and expires_at - now < EXPIRY_WARNING:
        days = max(0, (expires_at - now).days)
        warnings.append(WARN_EXPIRES_SOON.format(date=_format(expires_at), days=days))
    return warnings


def _algorithm(key: dict) -> str:
    def name(part: dict) -> str:
        if part["algo"] in _RSA:
            return f"rsa{part['length']}"
        return part.get("curve") or _ALGORITHMS.get(part["algo"], f"algo{part['algo']}")

    primary = name(key)
    subkeys = {name(info) for info in key.get("subkey_info", {}).values() if "e" in info["cap"]}
    subkeys.discard(primary)
    return "/".join([primary, *sorted(subkeys)])


def _timestamp(value: str) -> datetime:
    # gpg prints seconds since the epoch; ISO 8601 ("20260101T000000") only with
    # --fixed-list-mode off, which python-gnupg never uses.
    return datetime.fromtimestamp(int(value), tz=UTC)


def _optional_timestamp(value: str) -> datetime | None:
    return _timestamp(value) if value else None


def _format(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
