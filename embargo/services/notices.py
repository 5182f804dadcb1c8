"""Notices: drafting, and pressing "send".

Sending writes one Delivery row per person in the same transaction as the state change,
and queues the tasks only after commit, with nothing but the row's id. If the queue is
unreachable the send still stands: the rows are the record, and the sweeper queues them.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import make_msgid
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from distributors.eligibility import (
    Eligibility,
    SendEligibility,
    audience_for_send,
    eligibility_for_audience,
)
from distributors.models import Organization
from embargo.delivery.queue import deliveries_enqueue
from embargo.delivery.rows import due_when_queued
from embargo.delivery.states import REOPEN, initial_state, reopen
from embargo.models import TEXT_MAX_LENGTH, AffectedPackage, Delivery, Notice, Vulnerability
from embargo.subject_guard import outer_subject_guard
from embargo.versions_text import packages_text

DEFAULT_OUTER_SUBJECT = "Embargoed notice from the security team"
REFERENCE_CODE_LENGTH = 10
SENDABLE_CASE_STATES = (
    Vulnerability.State.TRIAGED,
    Vulnerability.State.FIXING,
    Vulnerability.State.NOTIFIED,
)


def reference_code_new() -> str:
    # 50 random bits in base32: easy to read out, and the unique constraint backs it up.
    return base64.b32encode(secrets.token_bytes(10)).decode()[:REFERENCE_CODE_LENGTH]


def message_id_new() -> str:
    return make_msgid(idstring="notice", domain=settings.HAULOUT_MESSAGE_ID_DOMAIN)


def outer_subject_check(*, outer_subject: str, vulnerability: Vulnerability, subject: str) -> None:
    """The outer subject is readable by every mail server on the way: nothing in it may
    point at the issue, not even a paraphrase (embargo/subject_guard.py)."""
    disclosure = vulnerability.disclosure_at
    outer_subject_guard(
        outer_subject=outer_subject,
        private={
            "the case title": vulnerability.title,
            "the real subject": subject,
            "the summary": vulnerability.summary,
            "the CVE id": vulnerability.cve_id,
            "the case id": vulnerability.public_id,
            **packages_private(vulnerability),
            "the fix state": vulnerability.get_fix_state_display()
            if vulnerability.fix_state
            else "",
            "the fixed version": vulnerability.fix_version,
        },
        private_dates={
            "the disclosure date": disclosure.astimezone(UTC).date() if disclosure else None,
            "the fix release date": vulnerability.fix_released_on,
        },
        generic_words=[settings.PROJECT_NAME, settings.SITE_NAME],
    )


def packages_private(vulnerability: Vulnerability) -> dict[str, str]:
    """The packages as the guard reads them: the one-line summary (its versions), and
    each package's name on its own, so a name alone in the outer subject is caught as a
    copy of a field (one shared word is otherwise taken for chance)."""
    packages = list(
        AffectedPackage.objects.filter(vulnerability=vulnerability).prefetch_related("ranges")
    )
    private = {"the affected packages": packages_text(packages)}
    for number, package in enumerate(packages, start=1):
        private[f"the name of affected package {number}"] = package.name
    return private


def _clean(*, vulnerability, outer_subject, subject, body, audience_all, organizations):
    errors: dict[str, list[str]] = {}
    outer_subject = " ".join((outer_subject or "").split())
    subject = " ".join((subject or "").split())
    body = (body or "").strip()
    for name, value, limit in (
        ("outer_subject", outer_subject, 200),
        ("subject", subject, 200),
        ("body", body, TEXT_MAX_LENGTH),
    ):
        if not value:
            errors.setdefault(name, []).append("This field is required.")
        elif len(value) > limit:
            errors.setdefault(name, []).append(f"At most {limit} characters, please.")
    organizations = list(organizations or [])
    if not audience_all and not organizations:
        errors.setdefault("organizations", []).append(
            "Choose at least one organisation, or send to every member."
        )
    if errors:
        raise ValidationError(errors)
    outer_subject_check(outer_subject=outer_subject, vulnerability=vulnerability, subject=subject)
    return outer_subject, subject, body, organizations


@transaction.atomic
def notice_create(
    *,
    vulnerability: Vulnerability,
    actor,
    outer_subject: str,
    subject: str,
    body: str,
    audience_all: bool = True,
    organizations: Iterable[Organization] = (),
    revises: Notice | None = None,
) -> Notice:
    if not vulnerability.is_open:
        raise ValidationError("Notices can only be written for an open case.")
    if revises is not None:
        # Read again: the caller's copy may predate the send.
        revises = Notice.objects.filter(pk=revises.pk).first()
    if revises is not None and (
        revises.vulnerability_id != vulnerability.pk or revises.state == Notice.State.DRAFT
    ):
        raise ValidationError("An update refers to a notice of the same case that was sent.")
    outer_subject, subject, body, organizations = _clean(
        vulnerability=vulnerability,
        outer_subject=outer_subject,
        subject=subject,
        body=body,
        audience_all=audience_all,
        organizations=organizations,
    )
    now = timezone.now()
    notice = Notice.objects.create(
        vulnerability=vulnerability,
        outer_subject=outer_subject,
        subject=subject,
        body=body,
        audience_all=audience_all,
        revises=revises,
        author=actor,
        created_at=now,
        updated_at=now,
    )
    if not audience_all:
        notice.organizations.set(organizations)
    audit_record(
        actor=actor,
        action="notice.created",
        target=notice,
        data={"revises": revises.pk if revises else None, "audience_all": audience_all},
    )
    return notice


@transaction.atomic
def notice_update(
    *,
    notice: Notice,
    actor,
    outer_subject: str,
    subject: str,
    body: str,
    audience_all: bool,
    organizations: Iterable[Organization] = (),
) -> Notice:
    notice = Notice.objects.select_for_update().select_related("vulnerability").get(pk=notice.pk)
    if notice.state != Notice.State.DRAFT:
        raise ValidationError("A sent notice cannot change; write an update to it instead.")
    outer_subject, subject, body, organizations = _clean(
        vulnerability=notice.vulnerability,
        outer_subject=outer_subject,
        subject=subject,
        body=body,
        audience_all=audience_all,
        organizations=organizations,
    )
    if body != notice.body:
        # The switched-off points are named by their place in the old text ("do-not#2");
        # in a new text the same names could be other places, so the author chooses again.
        notice.variation_off = []
    notice.outer_subject, notice.subject, notice.body = outer_subject, subject, body
    notice.audience_all = audience_all
    notice.updated_at = timezone.now()
    notice.save(
        update_fields=[
            "outer_subject",
            "subject",
            "body",
            "audience_all",
            "variation_off",
            "updated_at",
        ]
    )
    notice.organizations.set([] if audience_all else organizations)
    audit_record(actor=actor, action="notice.updated", target=notice)
    return notice


# An audience entry: the full selector's rows (preview, catch-up) or the bare values
# read when "send" is pressed; both have the attributes used below.
_Entry = TypeVar("_Entry", Eligibility, SendEligibility)


def audience_one_per_person(audience: list[_Entry]) -> list[_Entry]:
    """One entry per person: someone in two organisations gets one copy, and an eligible
    membership wins over one that is not (notice_send and its preview both use this)."""
    chosen: dict[int, _Entry] = {}
    for item in audience:
        current = chosen.get(item.user_id)
        if current is None or (item.eligible and not current.eligible):
            chosen[item.user_id] = item
    return list(chosen.values())


def _delivery_rows(*, notice: Notice, audience: list[_Entry], now: datetime) -> list[Delivery]:
    """The new rows, unsaved: pending for the eligible, withheld with the reasons for
    the others. Each gets a reference code unique within the notice and its own
    Message-ID, which every attempt at that copy reuses."""
    codes: set[str] = set()
    rows = []
    due = due_when_queued(now)
    for item in audience:
        code = reference_code_new()
        while code in codes:
            code = reference_code_new()
        codes.add(code)
        eligible = item.eligible
        rows.append(
            Delivery(
                notice_id=notice.pk,
                member_id=item.member_id,
                user_id=item.user_id,
                organization_id=item.organization_id,
                email=item.email,
                fingerprint=item.fingerprint,
                reference_code=code,
                message_id=message_id_new(),
                state=initial_state(eligible=eligible),
                reasons=list(item.reasons),
                created_at=now,
                due_at=due if eligible else None,
                finished_at=None if eligible else now,
            )
        )
    return rows


@transaction.atomic
def notice_send(*, notice: Notice, actor) -> Notice:
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if notice.state != Notice.State.DRAFT:
        raise ValidationError("This notice has already been sent.")
    case = Vulnerability.objects.select_for_update().get(pk=notice.vulnerability_id)
    if case.state not in SENDABLE_CASE_STATES:
        raise ValidationError(
            "Notices go out for a triaged case that is not yet disclosed or rejected."
        )
    now = timezone.now()
    if case.disclosure_at is None or case.disclosure_at <= now:
        raise ValidationError("Set a disclosure date in the future before sending a notice.")
    outer_subject_check(
        outer_subject=notice.outer_subject, vulnerability=case, subject=notice.subject
    )
    organizations = None if notice.audience_all else list(notice.organizations.all())
    if organizations == []:
        raise ValidationError("Choose at least one organisation, or send to every member.")
    audience = audience_one_per_person(
        audience_for_send(organizations=organizations, disclosure_at=case.disclosure_at)
    )
    if not any(item.eligible for item in audience):
        raise ValidationError(
            "Nobody in this audience can receive the notice yet (each person needs a "
            "member organisation, need-to-know, two-factor sign-in, the current policy "
            "and a verified key valid past the disclosure date)."
        )
    # A thousand people: about 22 ms more than a hand-written multi-row INSERT, which a
    # press of "Send" does not feel (docs/performance.md).
    Delivery.objects.bulk_create(
        _delivery_rows(notice=notice, audience=audience, now=now), batch_size=500
    )
    notice.state = Notice.State.SENDING
    notice.send_started_at = now
    notice.sent_by = actor
    notice.updated_at = now
    notice.save(update_fields=["state", "send_started_at", "sent_by", "updated_at"])
    pending = sum(1 for item in audience if item.eligible)
    audit_record(
        actor=actor,
        action="notice.send_started",
        target=notice,
        data={"recipients": pending, "withheld": len(audience) - pending},
    )
    if case.state != Vulnerability.State.NOTIFIED:
        previous = case.state
        case.state = Vulnerability.State.NOTIFIED
        case.updated_at = now
        case.save(update_fields=["state", "updated_at"])
        audit_record(
            actor=actor,
            action="vulnerability.state_changed",
            target=case,
            data={"from": previous, "to": case.state},
        )
    # Ids are read back after commit: the insert does not return them, and the tasks
    # need nothing else.
    notice_id = notice.pk
    transaction.on_commit(lambda: deliveries_enqueue(notice_id=notice_id))
    return notice


# Copies that can be given another chance: the person may have fixed what stopped them.
RETRYABLE_STATES = REOPEN.sources


def _catch_up_existing(*, audience, existing: dict, now) -> tuple[list, int]:
    """Reopens the existing copies whose person is eligible now; refreshes the reasons of
    those still withheld. Returns the reopened rows and how many stay withheld."""
    retried, still_withheld = [], 0
    for item in audience:
        row = existing.get(item.member.user_id)
        if row is None or row.state not in RETRYABLE_STATES:
            continue
        if item.eligible and reopen(row):
            # The person's key now: they proved it, and the send re-checks it again.
            row.fingerprint = item.key.fingerprint
            row.member = item.member
            row.organization_id = item.member.organization_id
            row.email = item.member.user.email
            row.reasons, row.failure_reason = [], ""
            row.due_at, row.finished_at, row.claimed_at = due_when_queued(now), None, None
            # A fresh start for the retry's waiting; an earlier ambiguous hand-off is
            # remembered (uncertain_at), so the copy never goes out a third time.
            row.temporary_failures, row.give_up_at = 0, None
            retried.append(row)
        elif row.state == Delivery.State.WITHHELD:
            row.reasons = list(item.reasons)
            row.save(update_fields=["reasons"])
            still_withheld += 1
    Delivery.objects.bulk_update(
        retried,
        [
            "state", "fingerprint", "member", "organization", "email", "reasons",
            "failure_reason", "due_at", "finished_at", "claimed_at",
            "temporary_failures", "give_up_at",
        ],
    )  # fmt: skip
    return retried, still_withheld


@transaction.atomic
def notice_catch_up(*, notice: Notice, actor) -> dict[str, int]:
    """After a send: copies for people who have become eligible since.

    Eligibility is computed again for the notice's audience. A person whose copy failed,
    was withheld or was cancelled, and who is eligible now (a new verified key, the policy
    accepted again, a suspension lifted), gets a copy encrypted to their current key; the
    copy keeps its reference code and Message-ID. People who joined the audience after
    the send get rows of their own. Those still not eligible keep their state, with the
    reasons brought up to date."""
    if not (actor.is_authenticated and actor.is_staff):
        raise ValidationError("Only the security team can send copies.")
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if notice.state == Notice.State.DRAFT:
        raise ValidationError("This notice has not been sent yet; send it from the preview.")
    case = Vulnerability.objects.select_for_update().get(pk=notice.vulnerability_id)
    now = timezone.now()
    if case.state not in SENDABLE_CASE_STATES or case.disclosure_at is None:
        raise ValidationError("The case is closed: its embargo is over or it was rejected.")
    if case.disclosure_at <= now:
        raise ValidationError("The disclosure time has passed; the embargo is over.")
    organizations = None if notice.audience_all else list(notice.organizations.all())
    audience = audience_one_per_person(
        eligibility_for_audience(organizations=organizations, disclosure_at=case.disclosure_at)
    )
    existing = {row.user_id: row for row in notice.deliveries.select_for_update()}
    new_rows = _delivery_rows(
        notice=notice,
        audience=[item for item in audience if item.member.user_id not in existing],
        now=now,
    )
    Delivery.objects.bulk_create(new_rows, batch_size=500)
    retried, still_withheld = _catch_up_existing(audience=audience, existing=existing, now=now)
    added = sum(1 for row in new_rows if row.state == Delivery.State.PENDING)
    counts = {
        "retried": len(retried),
        "added": added,
        "added_withheld": len(new_rows) - added,
        "still_withheld": still_withheld,
    }
    if retried or added:
        if notice.state == Notice.State.SENT:
            notice.state, notice.sent_at, notice.updated_at = Notice.State.SENDING, None, now
            notice.save(update_fields=["state", "sent_at", "updated_at"])
        # Only these rows: the notice's other pending copies are already queued.
        queue_ids = [row.pk for row in retried]
        queue_ids += [row.pk for row in new_rows if row.state == Delivery.State.PENDING]
        transaction.on_commit(lambda: deliveries_enqueue(delivery_ids=queue_ids))
    audit_record(actor=actor, action="notice.caught_up", target=notice, data=counts)
    return counts


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def disclosure_moved_notice_send(
    *, vulnerability: Vulnerability, actor, previous: datetime | None, note: str = ""
) -> Notice | None:
    """Tells everyone who received a notice about the case that the date was set or
    moved: a new, encrypted notice to the same audience, referring to the latest one
    sent. Nothing when no notice has gone out yet."""
    sent = list(
        vulnerability.notices.exclude(state=Notice.State.DRAFT)
        .prefetch_related("organizations")
        .order_by("-send_started_at", "-pk")
    )
    if not sent:
        return None
    audience_all = any(item.audience_all for item in sent)
    organizations = (
        []
        if audience_all
        else list({org.pk: org for item in sent for org in item.organizations.all()}.values())
    )
    if previous is None:
        what = f"The disclosure date of this issue is set: {_utc(vulnerability.disclosure_at)}."
        subject = f"Disclosure date set: {vulnerability.title}"
    else:
        what = (
            f"The disclosure date of this issue has moved from {_utc(previous)} "
            f"to {_utc(vulnerability.disclosure_at)}."
        )
        subject = f"Disclosure date moved: {vulnerability.title}"
    lines = [what, "", "The embargo stays in force until that date."]
    if note:
        lines += ["", note]
    notice = notice_create(
        vulnerability=vulnerability,
        actor=actor,
        outer_subject=DEFAULT_OUTER_SUBJECT,
        subject=subject[:200],
        body="\n".join(lines),
        audience_all=audience_all,
        organizations=organizations,
        revises=sent[0],
    )
    return notice_send(notice=notice, actor=actor)
