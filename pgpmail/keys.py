"""Checks on a public key someone registers, and the possession-proof encryption.

Order matters: the size cap comes before any parsing; our own packet count (secret
material, how many keys, user IDs, signatures) comes before gpg sees a byte; gpg then
reads the key with --dry-run in a throwaway home that is deleted afterwards. The
shared gpg homes never see a key that has not passed every check here.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError

from pgpmail import packets as openpgp
from pgpmail.gpg import Gpg, GpgUnavailable, throwaway_home

MAX_KEY_BYTES = 64 * 1024
MAX_USER_IDS = 50
MAX_SIGNATURES = 200
MAX_SUBKEYS = 20
# RSA, DSA and ElGamal under this many bits are refused (DESIGN.md section 5); RSA under
# PREFERRED_RSA_BITS and every DSA or ElGamal key are accepted with a warning.
MIN_FIELD_BITS = 2048
MIN_RSA_BITS = MIN_FIELD_BITS
PREFERRED_RSA_BITS = 3072
# gpg's parser drops a user ID packet longer than this without a word (MAX_UID_PACKET_LENGTH
# in g10/parse-packet.c), and gpg itself will not make one of 2,048 characters or more.
MAX_USER_ID_BYTES = 2048
PREFERRED_CURVES = {"ed25519", "cv25519"}
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
NOT_A_KEY_BLOCK = (
    "The text holds a PGP {kind}, which is not a public key block. Paste only your "
    "public key block."
)
UNENDED_BLOCK = (
    "The text holds a PGP {kind} block that never ends (no -----END PGP {kind}----- line). "
    "Paste only your public key block, whole."
)
NO_USER_ID = (
    "The key has no user ID. Add one (gpg --quick-add-uid YOUR-FINGERPRINT "
    "'Your Name <you@example.org>') and paste the key again."
)
USER_ID_TOO_LONG = (
    "One of the key's user IDs is {length} bytes long; gpg ignores user IDs over "
    f"{MAX_USER_ID_BYTES} bytes without a word, so nobody would see it. Remove it "
    "(gpg --edit-key YOUR-FINGERPRINT, then uid and deluid) and paste the key again."
)
KEY_DAMAGED = (
    "The key data is damaged ({detail}). Export the key again "
    "(gpg --armor --export YOUR-FINGERPRINT) and paste the whole block unchanged."
)
DROPPED_SUBKEY = "a subkey's binding signature does not verify, so gpg leaves that subkey out"
DROPPED_USER_ID = "a user ID has no valid self-signature, so gpg leaves it out"
UNSUPPORTED_VERSION = (
    "This is a version {version} key; only version 4 keys can be used for now. "
    "Make a version 4 key (gpg 2.2 or 2.4 makes them by default)."
)
UNKNOWN_CURVE = "The key uses an elliptic curve gpg does not know, so it cannot be used."
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
WEAK_KEY = (
    "The key is too weak: its {part} is {algorithm} with {bits} bits, and {algorithm} keys "
    f"need at least {MIN_FIELD_BITS} bits. Make a new key "
    "(gpg --quick-gen-key 'Your Name <you@example.org>' ed25519, then "
    "gpg --quick-add-key YOUR-FINGERPRINT cv25519 encr) and paste that."
)
EXPIRED = (
    "This key expired on {date}. Extend it (gpg --quick-set-expire YOUR-FINGERPRINT 2y "
    "and the same for its subkeys) and paste it again."
)
FINGERPRINT_MISMATCH = "The key does not match its pinned fingerprint {fingerprint}."
ENCRYPTION_FAILED = "Encrypting to this key failed, so it cannot be used."

WARN_EXPIRES_SOON = "This key expires on {date}, in {days} days. Extend it soon."
WARN_DEPRECATED = (
    "This key uses {algorithm}: DSA and ElGamal keys are deprecated. It is accepted for "
    "now; please move to an ed25519/cv25519 key (or RSA with 3072 bits or more) soon."
)
WARN_SMALL_RSA = (
    "This key uses RSA with {bits} bits. It is accepted; RSA with 3072 bits or more, "
    "or ed25519/cv25519, is preferred for new keys."
)
WARN_CURVE = "This key uses the curve {curve}. It is accepted; ed25519/cv25519 is preferred."
WARN_USER_ID_MARKUP = (
    "A user ID of this key contains markup or control characters: {uid}. It is only "
    "ever shown as plain text; check that this is the key you meant."
)
WARN_EMAIL_DIFFERS = (
    "None of the key's user IDs carries your account address {email}. "
    "That is allowed; check that this is the right key."
)

# gpg public-key algorithm numbers (RFC 4880 9.1, RFC 6637, RFC 9580) to names.
_RSA = {"1", "2", "3"}
_FIELD_SIZED = {"16", "17", "20"}  # ElGamal, DSA, ElGamal (sign and encrypt)
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
    packets = _checked_packets(armored)
    data = packets.data
    deadline = time.monotonic() + PARSE_TIME_LIMIT
    with throwaway_home() as home:
        gpg = _gpg(home, deadline)
        scanned = _run(gpg, lambda: gpg.scan_keys_mem(data))
        if len(scanned) != 1:
            # Our own reading found exactly one well-formed key: if gpg sees none, the
            # key material itself is broken.
            raise KeyRejected(
                KEY_DAMAGED.format(detail="gpg could not read the key material")
                if not scanned
                else SEVERAL_KEYS.format(count=len(scanned))
            )
        key = scanned[0]
        _check_nothing_dropped(key, packets)
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
        warnings=[
            *_strength_warnings(packets),
            *_user_id_warnings(packets.user_ids),
            *_warnings(emails, account_email, expires_at, now),
        ],
    )


def key_status(*, armored: str, fingerprint: str, now: datetime | None = None) -> KeyReport:
    """Re-check a stored key, e.g. before a notice is sent or to warn about expiry."""
    report = key_inspect(armored=armored, now=now)
    if report.fingerprint != fingerprint.upper():
        raise KeyRejected(FINGERPRINT_MISMATCH.format(fingerprint=fingerprint))
    return report


def key_stored_problem(*, armored: str) -> str | None:
    """Why a stored key may no longer be used under today's packet rules (a key too weak
    by the size rule, say, stored before the rule existed), or None. Our own packet
    reading only, no gpg: quick enough for every key in the database, and a gpg outage
    never makes a good key look bad."""
    try:
        _checked_packets(armored)
    except KeyRejected as error:
        return error.message
    return None


def key_encrypt_to(*, armored: str, fingerprint: str, plaintext: str) -> str:
    """Encrypt a short text to exactly `fingerprint` (the possession proof)."""
    fingerprint = fingerprint.upper()
    data = _checked_packets(armored).data
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


@dataclass(frozen=True)
class _Packets:
    """What our own reading of the packets found; `data` is what gpg is given."""

    data: bytes
    parts: list[tuple[str, openpgp.KeyPart]]  # ("primary key" | "subkey", part)
    user_ids: list[str]


def _checked_packets(armored: str) -> _Packets:
    """Everything we can refuse without gpg; returns the binary packets to hand to gpg."""
    if len(armored.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise KeyRejected(TOO_LARGE)
    if "PRIVATE KEY BLOCK" in armored:
        raise KeyRejected(PRIVATE_KEY)
    # Every BEGIN line, ended or not: any other block (a message, a signature) is named
    # rather than skipped, whatever its line ends.
    kinds = openpgp.armor_kinds(armored)
    for kind in kinds:
        if kind != "PUBLIC KEY BLOCK":
            raise KeyRejected(NOT_A_KEY_BLOCK.format(kind=kind.lower()))
    try:
        blocks = openpgp.dearmor(armored)
    except openpgp.PacketError as error:
        raise KeyRejected(DAMAGED) from error
    if len(blocks) < len(kinds):
        raise KeyRejected(UNENDED_BLOCK.format(kind=kinds[0]))
    if not blocks:
        raise KeyRejected(NOT_ARMOR)
    data = b"".join(block.data for block in blocks)
    counts: Counter[int] = Counter()
    parts: list[tuple[str, openpgp.KeyPart]] = []
    user_ids: list[bytes] = []
    try:
        for tag, body in openpgp.packets(data):
            counts[tag] += 1
            if tag in (openpgp.PUBLIC_KEY, openpgp.PUBLIC_SUBKEY):
                role = "primary key" if tag == openpgp.PUBLIC_KEY else "subkey"
                parts.append((role, openpgp.key_part(body)))
            elif tag == openpgp.USER_ID:
                user_ids.append(body)
    except openpgp.PacketError as error:
        raise KeyRejected(DAMAGED) from error
    if counts[openpgp.SECRET_KEY] or counts[openpgp.SECRET_SUBKEY]:
        raise KeyRejected(PRIVATE_KEY)
    if not counts[openpgp.PUBLIC_KEY]:
        raise KeyRejected(NO_KEY)
    if counts[openpgp.PUBLIC_KEY] > 1:
        raise KeyRejected(SEVERAL_KEYS.format(count=counts[openpgp.PUBLIC_KEY]))
    if counts[openpgp.USER_ID] + counts[openpgp.USER_ATTRIBUTE] > MAX_USER_IDS:
        count = counts[openpgp.USER_ID] + counts[openpgp.USER_ATTRIBUTE]
        raise KeyRejected(TOO_MANY_USER_IDS.format(count=count))
    if counts[openpgp.SIGNATURE] > MAX_SIGNATURES:
        raise KeyRejected(TOO_MANY_SIGNATURES.format(count=counts[openpgp.SIGNATURE]))
    if counts[openpgp.PUBLIC_SUBKEY] > MAX_SUBKEYS:
        raise KeyRejected(TOO_MANY_SUBKEYS.format(count=counts[openpgp.PUBLIC_SUBKEY]))
    # gpg lists a key without a user ID in a way that read as "every subkey is revoked".
    if not user_ids:
        raise KeyRejected(NO_USER_ID)
    for body in user_ids:
        if len(body) > MAX_USER_ID_BYTES:
            raise KeyRejected(USER_ID_TOO_LONG.format(length=f"{len(body):,}"))
    for role, part in parts:
        _check_strength(role, part)
    return _Packets(
        data=data,
        parts=parts,
        user_ids=[body.decode("utf-8", "replace") for body in user_ids],
    )


def _check_strength(role: str, part: openpgp.KeyPart) -> None:
    """The size rule, on every part whatever its flags: gpg picks the subkey it encrypts
    to, and a weak primary key lets anyone forge the binding of a subkey of their own."""
    if part.version != 4:
        raise KeyRejected(UNSUPPORTED_VERSION.format(version=part.version))
    if part.curve == "unknown curve":
        raise KeyRejected(UNKNOWN_CURVE)
    if part.bits is not None and part.bits < MIN_FIELD_BITS:
        raise KeyRejected(WEAK_KEY.format(part=role, algorithm=part.algorithm_name, bits=part.bits))


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
    for candidate in candidates:
        # Our packet check refused these already; gpg's own reading is a second opinion.
        if _weak(candidate):
            name = openpgp.ALGORITHM_NAMES.get(int(candidate["algo"]), candidate["algo"])
            part = "primary key" if candidate is key else "subkey"
            raise KeyRejected(WEAK_KEY.format(part=part, algorithm=name, bits=candidate["length"]))
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
    sized = part["algo"] in _RSA or part["algo"] in _FIELD_SIZED
    return sized and int(part["length"] or 0) < MIN_FIELD_BITS


def _check_nothing_dropped(key: dict, packets: _Packets) -> None:
    """gpg leaves out, without failing, a subkey whose binding signature does not verify
    and a user ID with no valid self-signature: a damaged key then read as one with "no
    encryption subkey". Compare what gpg kept with the packets we counted."""
    subkeys = sum(1 for role, _part in packets.parts if role == "subkey")
    if len(key.get("subkey_info", {})) < subkeys:
        raise KeyRejected(KEY_DAMAGED.format(detail=DROPPED_SUBKEY))
    if len(key.get("uids", [])) < len(packets.user_ids):
        raise KeyRejected(KEY_DAMAGED.format(detail=DROPPED_USER_ID))


def _strength_warnings(packets: _Packets) -> list[str]:
    warnings = []
    parts = [part for _role, part in packets.parts]
    old = sorted(
        {p.algorithm_name for p in parts if p.algorithm == openpgp.DSA}
        | {p.algorithm_name for p in parts if p.algorithm in openpgp.ELGAMAL_ALGORITHMS}
    )
    if old:
        warnings.append(WARN_DEPRECATED.format(algorithm=" and ".join(old)))
    small = [
        p.bits
        for p in parts
        if p.algorithm in openpgp.RSA_ALGORITHMS and (p.bits or 0) < PREFERRED_RSA_BITS
    ]
    if small:
        warnings.append(WARN_SMALL_RSA.format(bits=min(small)))
    curves = sorted({p.curve for p in parts if p.curve and p.curve not in PREFERRED_CURVES})
    if curves:
        warnings.append(WARN_CURVE.format(curve=", ".join(curves)))
    return warnings


def _user_id_warnings(user_ids: list[str]) -> list[str]:
    warnings = []
    for uid in user_ids:
        # The address part "<you@example.org>" is the one place angle brackets belong.
        match = _UID_EMAIL.search(uid)
        rest = uid[: match.start()] if match else uid
        controls = any(unicodedata.category(ch) in ("Cc", "Cf") for ch in uid)
        if controls or "<" in rest or ">" in rest:
            warnings.append(WARN_USER_ID_MARKUP.format(uid=_shown(uid)))
    return warnings


def _shown(uid: str, limit: int = 120) -> str:
    """A user ID as plain, visible text: control and format characters (a right-to-left
    override, say) written as escapes, cut at `limit` characters. HTML escaping is the
    template's job, and it always does it."""
    text = "".join(
        ch if unicodedata.category(ch) not in ("Cc", "Cf") else f"\\u{ord(ch):04x}" for ch in uid
    )
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


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
