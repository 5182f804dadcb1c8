"""The embargo policy: staff publish versions, each person accepts the current one."""

from __future__ import annotations

import hashlib

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_ipv46_address
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audit_record
from core.queue import task_queue_after_commit
from distributors.models import PolicyAcceptance, PolicyVersion

POLICY_MAX_LENGTH = 50_000
USER_AGENT_MAX_LENGTH = 500


def policy_text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalise(text: str) -> str:
    # Browsers post CRLF; the hash must not depend on which one sent the text.
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    return text + "\n" if text else ""


@transaction.atomic
def policy_publish(*, actor, text: str) -> PolicyVersion:
    """A new current version. Every earlier acceptance lapses at once (acceptance counts only
    for the current version); the people concerned are mailed after commit."""
    if not (actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Only the security team can publish the embargo policy.")
    text = _normalise(text)
    if not text:
        raise ValidationError({"text": "The policy text is required."})
    if len(text) > POLICY_MAX_LENGTH:
        raise ValidationError(
            {"text": f"The policy is {len(text):,} characters; the limit is {POLICY_MAX_LENGTH:,}."}
        )
    # Lock the newest row so two publishers get consecutive numbers, not a collision.
    current = PolicyVersion.objects.select_for_update().order_by("-number").first()
    digest = policy_text_sha256(text)
    if current is not None and current.text_sha256 == digest:
        raise ValidationError(
            {"text": "This is the text of the current version; change it before publishing."}
        )
    number = (current.number if current else 0) + 1
    try:
        with transaction.atomic():
            version = PolicyVersion.objects.create(
                number=number,
                text=text,
                text_sha256=digest,
                published_by=actor,
                published_at=timezone.now(),
            )
    except IntegrityError:
        raise ValidationError(
            "Another version was published at the same moment; reload and try again."
        ) from None
    audit_record(
        actor=actor,
        action="policy.published",
        target=version,
        data={
            "number": number,
            "sha256": digest,
            "previous": current.number if current else None,
        },
    )
    if current is not None:
        version_id = version.pk
        task_queue_after_commit("distributors.tasks.policy_lapsed_mail_task", version_id)
    return version


def _clean_ip(ip_address: str | None) -> str | None:
    if not ip_address:
        return None
    try:
        validate_ipv46_address(ip_address)
    except ValidationError:
        return None
    return ip_address


@transaction.atomic
def policy_accept(
    *, user, version: PolicyVersion, ip_address: str | None, user_agent: str
) -> PolicyAcceptance:
    """The person's own acceptance of the version they were shown. Accepting the same
    version twice returns the first acceptance unchanged."""
    if user is None or not user.is_authenticated:
        raise PermissionDenied("Sign in to accept the embargo policy.")
    current = PolicyVersion.objects.order_by("-number").first()
    # The form names the version the person read; if a newer one appeared meanwhile, they
    # must read that one, not accept it unseen.
    if current is None or current.pk != version.pk:
        raise ValidationError(
            "A newer version of the policy has been published; read it and accept that one."
        )
    existing = PolicyAcceptance.objects.filter(user=user, version=current).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            acceptance = PolicyAcceptance.objects.create(
                user=user,
                version=current,
                accepted_at=timezone.now(),
                ip_address=_clean_ip(ip_address),
                user_agent=(user_agent or "")[:USER_AGENT_MAX_LENGTH],
                text_sha256=current.text_sha256,
            )
    except IntegrityError:
        # A double submit raced us; the other request recorded it.
        return PolicyAcceptance.objects.get(user=user, version=current)
    audit_record(
        actor=user,
        action="policy.accepted",
        target=acceptance,
        data={"number": current.number, "sha256": current.text_sha256},
    )
    return acceptance
