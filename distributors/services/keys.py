"""PGP keys: upload, proof of possession, revocation.

A key counts only once its holder has shown they can decrypt to it: the portal encrypts a
random code to the key's pinned fingerprint and the person types the code back. Only the
code's SHA-256 is stored, compared in constant time, with a cap on attempts and an expiry,
so a guessed or stolen challenge is worth little.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from distributors.models import PgpKey
from pgpmail import key_encrypt_to, key_inspect, key_stored_problem

CHALLENGE_MAX_ATTEMPTS = 5
CHALLENGE_VALID_FOR = timedelta(hours=24)
ARMOR_MAX_CHARS = 200_000
# Warn when the key's encryption subkey runs out this soon: notices could stop reaching them.
EXPIRY_WARNING_DAYS = 30

# No 0/O or 1/l/I: the code is read off a terminal and typed back by a person.
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_CODE_GROUPS, _CODE_GROUP_LEN = 4, 5


@dataclass
class KeyUpload:
    key: PgpKey
    challenge_armored: str
    warnings: list[str] = field(default_factory=list)


def _new_code() -> str:
    groups = (
        "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_GROUP_LEN))
        for _ in range(_CODE_GROUPS)
    )
    return "-".join(groups)


def _normalise_code(code: str) -> str:
    # People paste with spaces, line breaks or capitals; only the letters and digits count.
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())


def _code_hash(code: str) -> str:
    return hashlib.sha256(_normalise_code(code).encode("ascii", "ignore")).hexdigest()


def _challenge_plaintext(code: str) -> str:
    return (
        "Proof of possession for your PGP key.\n"
        "Type this code back into the portal to verify the key:\n\n"
        f"    {code}\n"
    )


def _require_owner(user, key: PgpKey) -> None:
    if user is None or not user.is_authenticated or key.user_id != user.pk:
        raise PermissionDenied("This is not your key.")


def _encrypted_challenge(*, armored: str, fingerprint: str) -> tuple[str, str]:
    """A fresh code encrypted to the pinned fingerprint: (ciphertext, code hash).

    Runs outside any transaction: gpg can take seconds, and a database write lock must
    not be held while it does. Any gpg doubt raises KeyRejected.
    """
    code = _new_code()
    ciphertext = key_encrypt_to(
        armored=armored, fingerprint=fingerprint, plaintext=_challenge_plaintext(code)
    )
    return ciphertext, _code_hash(code)


def _store_challenge(key: PgpKey, digest: str) -> None:
    key.challenge_sha256 = digest
    key.challenge_created_at = timezone.now()
    key.challenge_attempts = 0
    key.save(update_fields=["challenge_sha256", "challenge_created_at", "challenge_attempts"])


def key_upload(*, user, armored: str) -> KeyUpload:
    """Inspect, store as pending and challenge. A refused key stores nothing."""
    if user is None or not user.is_authenticated:
        raise PermissionDenied("Sign in first.")
    armored = (armored or "").strip()
    if not armored:
        raise ValidationError("Paste your public key or choose a key file.")
    if len(armored) > ARMOR_MAX_CHARS:
        raise ValidationError("That is too large to be a single public key.")
    _upload_rate_consume(user)
    now = timezone.now()
    # gpg runs before the transaction opens (see _encrypted_challenge).
    report = key_inspect(armored=armored, account_email=user.email, now=now)
    challenge, digest = _encrypted_challenge(armored=report.armored, fingerprint=report.fingerprint)
    with transaction.atomic():
        key = _store_upload(user=user, report=report, digest=digest, now=now)
    return KeyUpload(key=key, challenge_armored=challenge, warnings=list(report.warnings))


def _upload_rate_consume(user) -> None:
    """Count one upload attempt; refuse once the person has made too many this hour.

    Every attempt counts, refused ones too: the cost being limited is the gpg work
    (several gpg processes per upload), whatever the outcome. The count lives in the
    shared cache (the one allauth's limits use), so every web process sees the same
    number. A fixed window of one clock hour: at most twice the limit across a boundary.
    """
    limit = settings.HAULOUT_KEY_UPLOADS_PER_HOUR
    window = int(time.time() // 3600)
    name = f"haulout:key-uploads:{user.pk}:{window}"
    # add() then incr() is atomic in Redis; a lost race in the file cache costs one count.
    cache.add(name, 0, timeout=3600 + 60)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add() and incr()
        cache.set(name, 1, timeout=3600 + 60)
        count = 1
    if count > limit:
        raise ValidationError(
            f"You have uploaded keys too often: at most {limit} "
            f"upload{'s' if limit != 1 else ''} an hour. "
            "Nothing was stored. Please wait a while and try again."
        )


def _store_upload(*, user, report, digest: str, now) -> PgpKey:
    # Lock the person's own row first, then their keys: with no key yet there is no key
    # row to lock, and two uploads at once must still not both create one.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    keys = list(PgpKey.objects.select_for_update().filter(user=user))
    for existing in keys:
        if existing.fingerprint != report.fingerprint:
            continue
        if existing.state == PgpKey.State.PENDING:
            return _pending_refresh(user=user, key=existing, report=report, digest=digest)
        if existing.state == PgpKey.State.ACTIVE:
            raise ValidationError("This key is already your verified key.")
        if existing.state == PgpKey.State.REVOKED:
            raise ValidationError(
                "You revoked this key earlier; a revoked key cannot be used again. "
                "Upload a new key."
            )
    for pending in (k for k in keys if k.state == PgpKey.State.PENDING):
        # An unproven upload is simply superseded; it never carried any trust.
        pending.state = PgpKey.State.REPLACED
        pending.challenge_sha256 = ""
        pending.save(update_fields=["state", "challenge_sha256"])
        audit_record(
            actor=user,
            action="pgp_key.superseded",
            target=pending,
            data={"fingerprint": pending.fingerprint},
        )
    key = PgpKey.objects.create(
        user=user,
        fingerprint=report.fingerprint,
        armored=report.armored,
        uids=list(report.uids),
        algorithm=report.algorithm[:40],
        key_created_at=report.created_at,
        expires_at=report.expires_at,
        state=PgpKey.State.PENDING,
        uploaded_at=now,
    )
    _store_challenge(key, digest)
    audit_record(
        actor=user,
        action="pgp_key.uploaded",
        target=key,
        data={
            "fingerprint": key.fingerprint,
            "algorithm": key.algorithm,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        },
    )
    return key


def _pending_refresh(*, user, key: PgpKey, report, digest: str) -> PgpKey:
    """The same key uploaded again while it waits for proof: no new row, a fresh challenge.

    Only the code's hash is stored, so the earlier ciphertext cannot be shown again; the
    new code replaces the old one. An identical upload leaves no audit event (fifteen
    uploads of one key made fifteen rows and thirty events); new key material (a changed
    expiry, another subkey) is stored, since the challenge was encrypted to it, and
    audited.
    """
    changed = key.armored != report.armored
    if changed:
        key.armored = report.armored
        key.uids = list(report.uids)
        key.algorithm = report.algorithm[:40]
        key.expires_at = report.expires_at
        key.save(update_fields=["armored", "uids", "algorithm", "expires_at"])
        audit_record(
            actor=user,
            action="pgp_key.pending_updated",
            target=key,
            data={
                "fingerprint": key.fingerprint,
                "algorithm": key.algorithm,
                "expires_at": key.expires_at.isoformat() if key.expires_at else None,
            },
        )
    _store_challenge(key, digest)
    return key


def key_challenge_renew(*, user, key: PgpKey) -> str:
    """A new code for a pending key (after too many attempts or when the old one expired)."""
    _require_owner(user, key)
    key = PgpKey.objects.get(pk=key.pk)
    if key.state != PgpKey.State.PENDING:
        raise ValidationError("Only a key waiting for proof gets a new challenge.")
    challenge, digest = _encrypted_challenge(armored=key.armored, fingerprint=key.fingerprint)
    with transaction.atomic():
        key = PgpKey.objects.select_for_update().get(pk=key.pk)
        # Checked again under the lock: the key may have been proven or revoked meanwhile.
        if key.state != PgpKey.State.PENDING:
            raise ValidationError("Only a key waiting for proof gets a new challenge.")
        _store_challenge(key, digest)
        audit_record(
            actor=user,
            action="pgp_key.challenge_renewed",
            target=key,
            data={"fingerprint": key.fingerprint},
        )
    return challenge


def key_prove(*, user, key: PgpKey, code: str) -> PgpKey:
    """Check the code typed back. On success the key becomes active and pinned.

    A wrong code is counted even though the call then raises: the attempt is committed
    first and the refusal raised after, so a rollback cannot hand out free guesses.
    """
    _require_owner(user, key)
    with transaction.atomic():
        key = PgpKey.objects.select_for_update().get(pk=key.pk)
        problem = _proof_problem(key)
        if problem is None:
            key.challenge_attempts += 1
            if hmac.compare_digest(_code_hash(code), key.challenge_sha256):
                _activate(user=user, key=key)
                return key
            key.save(update_fields=["challenge_attempts"])
            left = CHALLENGE_MAX_ATTEMPTS - key.challenge_attempts
            audit_record(
                actor=user,
                action="pgp_key.proof_failed",
                target=key,
                data={"attempt": key.challenge_attempts},
            )
            problem = (
                f"That code does not match. {left} attempt{'s' if left != 1 else ''} left."
                if left > 0
                else "That code does not match, and that was the last attempt. "
                "Create a new challenge to try again."
            )
    raise ValidationError(problem)


def _proof_problem(key: PgpKey) -> str | None:
    if key.state != PgpKey.State.PENDING:
        return "This key is not waiting for proof."
    # A key uploaded before today's rules (a weak one, say) must not become active now.
    stored_problem = key_stored_problem(armored=key.armored)
    if stored_problem is not None:
        return stored_problem
    if not key.challenge_sha256 or key.challenge_created_at is None:
        return "There is no challenge for this key. Create a new challenge."
    if key.challenge_attempts >= CHALLENGE_MAX_ATTEMPTS:
        return "Too many wrong codes for this challenge. Create a new challenge to try again."
    if key.challenge_created_at + CHALLENGE_VALID_FOR <= timezone.now():
        return "This challenge has expired. Create a new challenge to try again."
    return None


def _activate(*, user, key: PgpKey) -> None:
    now = timezone.now()
    previous = (
        PgpKey.objects.select_for_update()
        .filter(user_id=key.user_id, state=PgpKey.State.ACTIVE)
        .first()
    )
    if previous is not None:
        # The old key stays active until this moment, so the person is never without one.
        previous.state = PgpKey.State.REPLACED
        previous.save(update_fields=["state"])
        audit_record(
            actor=user,
            action="pgp_key.replaced",
            target=previous,
            data={"fingerprint": previous.fingerprint, "replaced_by": key.fingerprint},
        )
    key.state = PgpKey.State.ACTIVE
    key.verified_at = now
    key.challenge_sha256 = ""
    key.save(update_fields=["state", "verified_at", "challenge_sha256", "challenge_attempts"])
    audit_record(
        actor=user,
        action="pgp_key.verified",
        target=key,
        data={
            "fingerprint": key.fingerprint,
            "replaces": previous.fingerprint if previous is not None else None,
        },
    )


def keys_stored_recheck(*, apply: bool = False) -> list[tuple[PgpKey, str]]:
    """Stored keys (active or waiting for proof) that today's packet rules refuse, with
    the reason; with `apply`, each is retired: revoked, so nothing is encrypted to it
    again and the person is asked for a new key by their checklist.

    The send path encrypts to whatever key is active; a key stored before a rule existed
    (DSA-1024 before the size rule) stays usable until this has run. Safe to run twice
    at once: each key is retired under its row lock, and only while still usable.
    """
    found = []
    usable = (PgpKey.State.ACTIVE, PgpKey.State.PENDING)
    for key in PgpKey.objects.filter(state__in=usable).order_by("pk").iterator():
        problem = key_stored_problem(armored=key.armored)
        if problem is None:
            continue
        found.append((key, problem))
        if apply:
            _key_retire(key_id=key.pk, reason=problem)
    return found


def _revoked(key: PgpKey) -> str:
    """Marks a locked key revoked (nothing is encrypted to it again); its state before."""
    previous_state = key.state
    key.state = PgpKey.State.REVOKED
    key.revoked_at = timezone.now()
    key.challenge_sha256 = ""
    key.save(update_fields=["state", "revoked_at", "challenge_sha256"])
    return previous_state


@transaction.atomic
def _key_retire(*, key_id: int, reason: str) -> None:
    key = PgpKey.objects.select_for_update().get(pk=key_id)
    if key.state not in (PgpKey.State.ACTIVE, PgpKey.State.PENDING):
        return  # retired, revoked or replaced meanwhile (another run, the person)
    previous_state = _revoked(key)
    audit_record(
        actor=None,
        action="pgp_key.retired",
        target=key,
        data={"fingerprint": key.fingerprint, "from": previous_state, "reason": reason},
    )


@transaction.atomic
def key_revoke(*, user, key: PgpKey) -> PgpKey:
    """The person says the key is lost or compromised: nothing is encrypted to it again."""
    _require_owner(user, key)
    key = PgpKey.objects.select_for_update().get(pk=key.pk)
    if key.state not in (PgpKey.State.ACTIVE, PgpKey.State.PENDING):
        raise ValidationError("Only a verified or pending key can be revoked.")
    previous_state = _revoked(key)
    audit_record(
        actor=user,
        action="pgp_key.revoked",
        target=key,
        data={"fingerprint": key.fingerprint, "from": previous_state},
    )
    return key
