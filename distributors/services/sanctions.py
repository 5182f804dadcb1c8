"""Suspending, removing and reinstating an organisation, and refusing a removed one's
return.

These change only distributors' state. The embargo app's leak services call them and then
cancel the organisation's queued copies; distributors never imports embargo.

Effects, all at once:
- every person of the organisation becomes ineligible (the eligibility selector reads the
  organisation's status fresh, including at each copy's send time);
- their sessions end, so nobody keeps browsing with access granted before the decision;
- on their next sign-in they are sent to a page that states the decision (see adapters).
A removal also bars its people personally (account and verified addresses; see bars.py),
blocks the organisation's web domain and the domains of its people's verified addresses
from applying again, and flags the vouches given for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.queue import task_queue_after_commit
from distributors.models import BlockedIdentity, Organization, TeamMember, Vouch
from distributors.services.bars import (
    blocked_domains,
    domain_blocked,
    domain_of,
    person_barred,
    person_bars_create,
    verified_addresses,
)
from distributors.services.vouching import vouches_flag_for_organization
from distributors.text import name_skeleton

logger = logging.getLogger(__name__)

REASON_MAX_LENGTH = 2000
REMOVED_REFUSAL = (
    "We cannot accept this application: an organisation you are connected to was "
    "permanently removed from the list, and its people, name and email domains cannot "
    "apply again. Write to the security team if you think this is a mistake."
)
# Shared mail providers: blocking one of these would refuse half the world, so only the
# exact addresses are blocked.
SHARED_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "posteo.de",
        "mailbox.org",
        "fastmail.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "tutanota.com",
        "riseup.net",
        "example.org",  # documentation domain used by every test account
    }
)


def _require_staff(actor) -> None:
    if not (actor is not None and actor.is_authenticated and actor.is_staff):
        raise PermissionDenied("Only the security team can do this.")


def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give the reason; the organisation is shown it."})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": f"At most {REASON_MAX_LENGTH:,} characters, please."})
    return reason


def _locked(organization: Organization) -> Organization:
    return Organization.objects.select_for_update().get(pk=organization.pk)


def _user_ids(organization: Organization) -> list[int]:
    return list(
        TeamMember.objects.filter(organization=organization).values_list("user_id", flat=True)
    )


# ---------------------------------------------------------------- sessions


def sessions_end_for_users(*, user_ids: Iterable[int]) -> int:
    """Deletes every live session of these people; returns how many.

    Nothing new is stored for this: a sanction is rare (a few a year) and live sessions
    are few (they expire after SESSION_COOKIE_AGE), so one pass over the unexpired rows,
    reading only their data column, costs little next to the price of an index we would
    have to keep right on every sign-in. Only database-backed session engines can be
    enumerated; with another engine the sessions lapse at their expiry and the
    eligibility checks (made at every send) still shut the people out at once.
    """
    wanted = {str(pk) for pk in user_ids}
    if not wanted:
        return 0
    engine = settings.SESSION_ENGINE
    if engine not in (
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cached_db",
    ):
        logger.warning("Session engine %s cannot be searched; sessions expire on time.", engine)
        return 0
    from importlib import import_module

    from django.contrib.sessions.models import Session

    store_class = import_module(engine).SessionStore
    decoder = store_class()
    doomed = []
    live = Session.objects.filter(expire_date__gt=timezone.now()).values_list(
        "session_key", "session_data"
    )
    for key, data in live.iterator(chunk_size=2000):
        if str(decoder.decode(data).get("_auth_user_id", "")) in wanted:
            doomed.append(key)
    for key in doomed:
        # Through the store, so a cached_db engine drops its cache entry too.
        store_class(session_key=key).delete()
    return len(doomed)


def _end_sessions_after_commit(organization: Organization) -> None:
    user_ids = _user_ids(organization)
    transaction.on_commit(lambda: sessions_end_for_users(user_ids=user_ids))


def _mail_after_commit(organization: Organization, event: str) -> None:
    # Broker down: the decision stands, the page says it (core.queue logs the ids).
    task_queue_after_commit(
        "distributors.tasks.organization_standing_mail_task", organization.pk, event
    )


# ---------------------------------------------------------------- the decisions


@transaction.atomic
def organization_suspend(
    *, organization: Organization, actor, reason: str, until: datetime | None = None
) -> Organization:
    """Member -> suspended, until a date or until lifted. Suspending an organisation that
    is already suspended changes the end date and reason."""
    _require_staff(actor)
    reason = _clean_reason(reason)
    if until is not None and (timezone.is_naive(until) or until <= timezone.now()):
        raise ValidationError({"until": "The end of a suspension must be in the future."})
    organization = _locked(organization)
    if organization.status not in (Organization.Status.MEMBER, Organization.Status.SUSPENDED):
        raise ValidationError("Only a member organisation can be suspended.")
    previous = organization.status
    now = timezone.now()
    organization.status = Organization.Status.SUSPENDED
    organization.status_changed_at = now
    organization.status_reason = reason
    organization.suspended_until = until
    organization.save(
        update_fields=["status", "status_changed_at", "status_reason", "suspended_until"]
    )
    audit_record(
        actor=actor,
        action="organization.suspended",
        target=organization,
        data={
            "from": previous,
            "to": organization.status,
            "until": until.isoformat() if until else None,
            "reason": reason,
        },
    )
    _end_sessions_after_commit(organization)
    _mail_after_commit(organization, "suspended")
    return organization


def _host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _block(organization: Organization, kind: str, value: str, reason: str, now) -> bool:
    if not value:
        return False
    _, created = BlockedIdentity.objects.filter(lifted_at__isnull=True).get_or_create(
        kind=kind,
        value=value,
        defaults={"organization": organization, "reason": reason[:300], "created_at": now},
    )
    return created


@transaction.atomic
def organization_remove(*, organization: Organization, actor, reason: str) -> Organization:
    """Permanent. The organisation, its people and its email domains cannot apply again."""
    _require_staff(actor)
    reason = _clean_reason(reason)
    organization = _locked(organization)
    if organization.status == Organization.Status.REMOVED:
        raise ValidationError("This organisation was already removed.")
    previous = organization.status
    now = timezone.now()
    organization.status = Organization.Status.REMOVED
    organization.status_changed_at = now
    organization.status_reason = reason
    organization.suspended_until = None
    organization.save(
        update_fields=["status", "status_changed_at", "status_reason", "suspended_until"]
    )
    user_ids = _user_ids(organization)
    block_reason = f"{organization.name} was removed."
    # Only verified addresses: anyone can add an unverified address at another
    # distributor's domain to their own account, and must not be able to bar it.
    addresses = set().union(*verified_addresses(user_ids=user_ids).values())
    domains = {domain_of(address) for address in addresses} - SHARED_MAIL_DOMAINS
    website = _host_of(organization.website)
    if website and website not in SHARED_MAIL_DOMAINS:
        domains.add(website)
    blocked = person_bars_create(
        organization=organization, user_ids=user_ids, reason=block_reason, now=now
    )
    blocked["domains"] = sorted(
        d for d in domains if d and _block(organization, "domain", d, block_reason, now)
    )
    audit_record(
        actor=actor,
        action="organization.removed",
        target=organization,
        data={"from": previous, "to": organization.status, "reason": reason, "blocked": blocked},
    )
    flagged = vouches_flag_for_organization(
        organization=organization, reason=f"{organization.name} was removed.", actor=actor
    )
    _end_sessions_after_commit(organization)
    _mail_after_commit(organization, "removed")
    if flagged:
        _mail_after_commit(organization, "vouchee_removed")
    return organization


@transaction.atomic
def organization_reinstate(*, organization: Organization, actor, reason: str) -> Organization:
    """Lifts a suspension. A removal is permanent and cannot be lifted."""
    if actor is not None:
        _require_staff(actor)
    reason = _clean_reason(reason)
    organization = _locked(organization)
    if organization.status != Organization.Status.SUSPENDED:
        raise ValidationError("Only a suspended organisation can be reinstated.")
    organization.status = Organization.Status.MEMBER
    organization.status_changed_at = timezone.now()
    organization.status_reason = reason
    organization.suspended_until = None
    organization.save(
        update_fields=["status", "status_changed_at", "status_reason", "suspended_until"]
    )
    audit_record(
        actor=actor,
        action="organization.reinstated",
        target=organization,
        data={"from": Organization.Status.SUSPENDED, "to": organization.status, "reason": reason},
    )
    _mail_after_commit(organization, "reinstated")
    return organization


def suspensions_due(*, now: datetime | None = None) -> list[int]:
    """Organisations whose suspension has reached its end date."""
    now = now or timezone.now()
    return list(
        Organization.objects.filter(
            status=Organization.Status.SUSPENDED, suspended_until__lte=now
        ).values_list("pk", flat=True)
    )


# ---------------------------------------------------------------- refusing a return


def removed_name_taken(name: str) -> bool:
    """True if the name looks like a removed organisation's: the same letters and digits
    once case, spacing, punctuation and look-alike forms are set aside ("Rogue  OS",
    "rogue-os" and its full-width form all match a removed "Rogue OS")."""
    skeleton = name_skeleton(name)
    if not skeleton:
        return False
    removed = Organization.objects.filter(status=Organization.Status.REMOVED)
    return any(name_skeleton(other) == skeleton for other in removed.values_list("name", flat=True))


def application_blocked(*, actor, name: str = "", website: str = "") -> bool:
    """True if a removed organisation, one of its people, or one of its domains is
    trying to apply again."""
    # The personal bar (account or verified address), the same check as every other door.
    if person_barred(user=actor):
        return True
    if name and removed_name_taken(name):
        return True
    # The applicant's own addresses, verified or not: refusing them harms nobody else.
    addresses = {actor.email.lower()} if actor.email else set()
    addresses |= {
        a.lower() for a in EmailAddress.objects.filter(user=actor).values_list("email", flat=True)
    }
    if (
        BlockedIdentity.objects.filter(lifted_at__isnull=True)
        .filter(kind=BlockedIdentity.Kind.EMAIL, value__in=addresses)
        .exists()
    ):
        return True
    domains = {domain_of(a) for a in addresses}
    host = _host_of(website) if website else ""
    if host:
        domains.add(host)
    blocked = blocked_domains()
    return any(domain_blocked(domain, blocked) for domain in domains if domain)


def vouchers_of_removed(*, organization: Organization) -> list[str]:
    """Addresses of the people whose vouch for this organisation is flagged."""
    return list(
        Vouch.objects.filter(application__organization=organization, flagged_at__isnull=False)
        .values_list("voucher__email", flat=True)
        .distinct()
    )
