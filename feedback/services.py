"""Writes for member feedback: an organisation's status on a case, its patch tests, the
private thread with the security team, and the one reminder to organisations that have
not answered.

Who may write for an organisation: a need-to-know person of a member organisation that
was sent a notice about the case (embargo's organizations_notified); for the team, staff.
Every refusal is a ValidationError fit for the person, and changes nothing. Audit events
name ids and enum values only: statements, details and bodies stay on the rows, which
only the organisation and the team read. Mail is queued after the commit, by task name,
with ids only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone

from core.audit import audit_record
from core.queue import task_queue_after_commit
from distributors.models import Organization, TeamMember
from embargo.models import Delivery, Vulnerability
from embargo.selectors import organizations_notified
from embargo.services.revisions import advisory_revision_if_public
from feedback.models import (
    TEXT_MAX_LENGTH,
    FeedbackReminder,
    OrganizationStatus,
    PatchTest,
    ThreadMessage,
)
from feedback.selectors import MEMBER_CASE_STATES

Status = OrganizationStatus.Status
STAFF_NEWS_TASK = "feedback.tasks.feedback_staff_news_task"
TEAM_NEWS_TASK = "feedback.tasks.feedback_team_news_task"
REMINDER_MAIL_TASK = "feedback.tasks.feedback_reminder_mail_task"


def _case_check(vulnerability: Vulnerability) -> Vulnerability:
    case = Vulnerability.objects.only("pk", "state").get(pk=vulnerability.pk)
    if case.state not in MEMBER_CASE_STATES:
        raise ValidationError("This case was rejected: it takes no more feedback.")
    return case


def _member_check(*, case: Vulnerability, organization, user) -> None:
    """A need-to-know person of a member organisation told about the case."""
    if user is None or not user.is_authenticated or not isinstance(organization, Organization):
        raise ValidationError("Say which organisation you speak for.")
    if not organizations_notified(vulnerability=case).filter(pk=organization.pk).exists():
        raise ValidationError(
            "Your organisation cannot give feedback on this case: it was not sent a notice "
            "about it, or it is no longer a member."
        )
    if not TeamMember.objects.filter(
        organization_id=organization.pk, user_id=user.pk, is_need_to_know=True
    ).exists():
        raise ValidationError("Only a need-to-know person of the organisation can answer for it.")


def _text(value, *, name: str, limit: int, required: str | None, errors: dict) -> str:
    value = (value or "").strip()
    if not value and required:
        errors[name] = [required]
    elif len(value) > limit:
        errors[name] = [f"At most {limit} characters, please."]
    return value


def _status_clean(
    *, status, justification, product, fixed_version, statement
) -> tuple[dict[str, str], dict]:
    """The combination rules of a VEX status: not affected says why (one of the CISA
    justifications) and only then; fixed names the version that carries the fix."""
    errors: dict[str, list[str]] = {}
    if status not in Status.values:
        errors["status"] = ["Choose your organisation's status."]
    justification = (justification or "").strip()
    if justification and justification not in OrganizationStatus.Justification.values:
        errors["justification"] = ["Choose one of the listed justifications."]
    elif status == Status.NOT_AFFECTED and not justification:
        errors["justification"] = ["Say why your organisation is not affected."]
    elif status in Status.values and status != Status.NOT_AFFECTED and justification:
        errors["justification"] = ["A justification goes only with “Not affected”."]
    fixed_version = _text(
        fixed_version,
        name="fixed_version",
        limit=100,
        required="Give the version that carries the fix." if status == Status.FIXED else None,
        errors=errors,
    )
    if fixed_version and status in Status.values and status != Status.FIXED:
        errors["fixed_version"] = ["A fixed version goes only with “Fixed”."]
    cleaned = {
        "status": status,
        "justification": justification,
        "fixed_version": fixed_version,
        "product": _text(product, name="product", limit=200, required=None, errors=errors),
        "statement": _text(
            statement, name="statement", limit=TEXT_MAX_LENGTH, required=None, errors=errors
        ),
    }
    return cleaned, errors


def _staff_news_after_commit(event) -> None:
    task_queue_after_commit(STAFF_NEWS_TASK, event.pk)


def _status_save(
    *, case, organization, values: dict
) -> tuple[OrganizationStatus, str | None, bool]:
    """Creates or updates the organisation's one status row; returns it, the status it
    had before (None: the first answer) and whether it was publishable before."""
    row = (
        OrganizationStatus.objects.select_for_update()
        .filter(vulnerability_id=case.pk, organization_id=organization.pk)
        .first()
    )
    previous = row.status if row is not None else None
    was_published = row is not None and row.publish_after_disclosure
    if row is None:
        try:
            with transaction.atomic():
                row = OrganizationStatus.objects.create(
                    vulnerability=case, organization=organization, **values
                )
        except IntegrityError:
            # Another person of the organisation saved the first status at this moment.
            raise ValidationError(
                "Someone else in your organisation has just saved a status. Reload the page "
                "to see it, then change it if you need to."
            ) from None
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.save(update_fields=list(values))
    return row, previous, was_published


@transaction.atomic
def organization_status_set(
    *,
    vulnerability: Vulnerability,
    organization: Organization,
    user,
    status: str,
    justification: str = "",
    product: str = "",
    fixed_version: str = "",
    statement: str = "",
    publish_after_disclosure: bool = False,
) -> OrganizationStatus:
    """Sets (or changes) the organisation's status on the case; staff are told."""
    case = _case_check(vulnerability)
    _member_check(case=case, organization=organization, user=user)
    cleaned, errors = _status_clean(
        status=status,
        justification=justification,
        product=product,
        fixed_version=fixed_version,
        statement=statement,
    )
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    values = {
        **cleaned,
        "publish_after_disclosure": bool(publish_after_disclosure),
        "updated_by": user,
        "updated_at": now,
    }
    row, previous, was_published = _status_save(case=case, organization=organization, values=values)
    event = audit_record(
        actor=user,
        action="feedback.status_set",
        target=row,
        organization=organization,
        data={
            "vulnerability": case.pk,
            "status": row.status,
            "previous": previous,
            "justification": row.justification or None,
            "publish_after_disclosure": row.publish_after_disclosure,
        },
    )
    _staff_news_after_commit(event)
    if was_published or row.publish_after_disclosure:
        # A published statement is part of the CSAF document: changing, adding or
        # withdrawing one after disclosure is a new revision of the advisory.
        advisory_revision_if_public(
            case=case, summary="Updated the distributors' statements", actor=user
        )
    return row


@transaction.atomic
def patch_test_add(
    *,
    vulnerability: Vulnerability,
    organization: Organization,
    user,
    tested: str,
    environment: str,
    result: str,
    details: str = "",
) -> PatchTest:
    """Records one patch test of the organisation; staff are told."""
    case = _case_check(vulnerability)
    _member_check(case=case, organization=organization, user=user)
    errors: dict[str, list[str]] = {}
    tested = _text(
        tested, name="tested", limit=300, required="Say which patch or build.", errors=errors
    )
    environment = _text(
        environment,
        name="environment",
        limit=300,
        required="Say what you tested it on.",
        errors=errors,
    )
    if result not in PatchTest.Result.values:
        errors["result"] = ["Choose how the test went."]
    details = _text(details, name="details", limit=TEXT_MAX_LENGTH, required=None, errors=errors)
    if errors:
        raise ValidationError(errors)
    test = PatchTest.objects.create(
        vulnerability=case,
        organization=organization,
        tested=tested,
        environment=environment,
        result=result,
        details=details,
        reported_by=user,
        reported_at=timezone.now(),
    )
    event = audit_record(
        actor=user,
        action="feedback.patch_test_added",
        target=test,
        organization=organization,
        data={"vulnerability": case.pk, "patch_test": test.pk, "result": result},
    )
    _staff_news_after_commit(event)
    return test


@transaction.atomic
def thread_message_add(
    *,
    vulnerability: Vulnerability,
    organization: Organization,
    author,
    body: str,
    from_team: bool,
) -> ThreadMessage:
    """One message in the private thread between the team and one organisation. From the
    organisation: staff are told. From the team (staff only): the organisation's
    need-to-know people are told there is news, and nothing more."""
    case = _case_check(vulnerability)
    if from_team:
        if author is None or not author.is_staff:
            raise ValidationError("Only a member of the security team writes for the team.")
        if not organizations_notified(vulnerability=case).filter(pk=organization.pk).exists():
            raise ValidationError(
                "This organisation was not told about the case, or is no longer a member."
            )
    else:
        _member_check(case=case, organization=organization, user=author)
    errors: dict[str, list[str]] = {}
    body = _text(
        body, name="body", limit=TEXT_MAX_LENGTH, required="Write a message.", errors=errors
    )
    if errors:
        raise ValidationError(errors)
    message = ThreadMessage.objects.create(
        vulnerability=case,
        organization=organization,
        author=author,
        from_team=from_team,
        body=body,
        created_at=timezone.now(),
    )
    event = audit_record(
        actor=author,
        action="feedback.message_added",
        target=message,
        organization=organization,
        data={"vulnerability": case.pk, "message": message.pk, "from_team": from_team},
    )
    if from_team:
        task_queue_after_commit(TEAM_NEWS_TASK, message.pk)
    else:
        _staff_news_after_commit(event)
    return message


# ---------------------------------------------------------------- the reminder


def _reminders_due(*, now: datetime) -> list[tuple[int, int]]:
    """(case, organisation) pairs told about an open case more than the setting's hours
    ago (by the first copy that went out), a member still, with no status and no reminder."""
    cutoff = now - timedelta(hours=settings.HAULOUT_FEEDBACK_REMINDER_HOURS)
    pair = {
        "vulnerability_id": OuterRef("notice__vulnerability_id"),
        "organization_id": OuterRef("organization_id"),
    }
    rows = (
        Delivery.objects.filter(
            state=Delivery.State.SENT,
            notice__vulnerability__state__in=Vulnerability.OPEN_STATES,
            organization__status=Organization.Status.MEMBER,
        )
        .filter(~Exists(OrganizationStatus.objects.filter(**pair)))
        .filter(~Exists(FeedbackReminder.objects.filter(**pair)))
        .values("notice__vulnerability_id", "organization_id")
        .annotate(first=Min("sent_at"))
        .filter(first__lte=cutoff)
        .order_by("notice__vulnerability_id", "organization_id")
    )
    return list(rows.values_list("notice__vulnerability_id", "organization_id"))


def _reminder_claim(*, vulnerability_id: int, organization_id: int, now: datetime):
    """Inserts the pair's one reminder row, or None when a run got there first (the unique
    constraint: of two runs at once, one insert wins and the other fails here)."""
    if OrganizationStatus.objects.filter(
        vulnerability_id=vulnerability_id, organization_id=organization_id
    ).exists():
        return None  # answered since the list was read
    try:
        with transaction.atomic():
            return FeedbackReminder.objects.create(
                vulnerability_id=vulnerability_id, organization_id=organization_id, sent_at=now
            )
    except IntegrityError:
        return None


def feedback_reminders_send(*, now: datetime | None = None) -> int:
    """The periodic job: one reminder ever per case and organisation that has not given
    its status (see _reminders_due). Each claim, its audit event and its queued mail are
    one transaction; the run that loses a claim sends and records nothing. Returns how
    many reminders this run claimed."""
    now = now or timezone.now()
    claimed = 0
    for vulnerability_id, organization_id in _reminders_due(now=now):
        with transaction.atomic():
            reminder = _reminder_claim(
                vulnerability_id=vulnerability_id, organization_id=organization_id, now=now
            )
            if reminder is None:
                continue
            audit_record(
                actor=None,
                action="feedback.reminded",
                target=reminder,
                organization=Organization(pk=organization_id),
                data={"vulnerability": vulnerability_id},
            )
            task_queue_after_commit(REMINDER_MAIL_TASK, reminder.pk)
            claimed += 1
    return claimed
