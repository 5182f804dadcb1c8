"""Leak reports and the sanctions that follow them.

A report is urgent: the security team is mailed at once (nothing of what leaked is in the
mail) and sees it first on the leak dashboard. Confirming a report counts it against the
organisation and applies the next step of the sanction ladder
(settings.HAULOUT_SANCTION_LADDER, default: a warning with a retrospective, then removal).

Suspension and removal change the organisation in distributors (its services own that
state) and then cancel the organisation's queued copies here. A copy a worker has already
claimed is re-checked by delivery_send, which reads the organisation's status afresh; a
copy whose encryption had already begun when the decision landed may still go out, and
the audit log shows when.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import audit_record
from core.mail import plain_mail
from core.queue import task_queue_after_commit
from distributors.eligibility import Reason
from distributors.models import Organization, TeamMember
from distributors.services.sanctions import (
    organization_reinstate,
    organization_remove,
    organization_suspend,
    suspensions_due,
)
from embargo.delivery.queue import deliveries_cancel_for_organization
from embargo.models import Delivery, Notice, Vulnerability
from embargo.services.cases import vulnerability_disclosure_move
from leaks.models import LEAK_EVIDENCE_MAX_LENGTH, LEAK_TEXT_MAX_LENGTH, LeakReport, Sanction

logger = logging.getLogger(__name__)


def sanction_ladder() -> tuple[str, ...]:
    """The configured ladder; an unknown step is a configuration error, refused loudly."""
    ladder = tuple(settings.HAULOUT_SANCTION_LADDER)
    unknown = [step for step in ladder if step not in Sanction.Kind.values]
    if unknown:
        raise ValueError(f"HAULOUT_SANCTION_LADDER has unknown steps: {unknown}")
    return ladder


def _is_staff(actor) -> bool:
    return bool(actor is not None and actor.is_authenticated and actor.is_staff)


def _require_staff(actor) -> None:
    if not _is_staff(actor):
        raise PermissionDenied("Only the security team can do this.")


def _text(value: str, *, field: str, label: str, required: bool, limit=LEAK_TEXT_MAX_LENGTH):
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: f"{label} is required."})
    if len(value) > limit:
        raise ValidationError({field: f"At most {limit:,} characters, please."})
    return value


# ---------------------------------------------------------------- filing a report


def _report_source(*, actor, organization: Organization, source: str | None, staff: bool) -> str:
    """How the security team learnt of the leak; a member can only report their own."""
    if staff:
        source = source or LeakReport.Source.ON_BEHALF
        if source not in (LeakReport.Source.ON_BEHALF, LeakReport.Source.FOUND):
            raise ValidationError({"source": "Choose how the security team learnt of it."})
    else:
        if not TeamMember.objects.filter(user=actor, organization=organization).exists():
            raise PermissionDenied("You can only report leaks for your own organisation.")
        source = LeakReport.Source.SELF_REPORT
    return source


def _report_subject(
    *, organization: Organization, vulnerability, notice, staff: bool
) -> tuple[Notice | None, Vulnerability]:
    """The sent notice (if named) and the case the report is about."""
    if notice is not None:
        notice = Notice.objects.select_related("vulnerability").filter(pk=notice.pk).first()
        if notice is None or notice.state == Notice.State.DRAFT:
            raise ValidationError({"notice": "Choose a notice that was sent."})
        if vulnerability is not None and notice.vulnerability_id != vulnerability.pk:
            raise ValidationError({"notice": "That notice belongs to another case."})
        vulnerability = notice.vulnerability
    if vulnerability is None:
        raise ValidationError({"notice": "Say which notice or case leaked."})
    if not staff and (
        notice is None
        or not Delivery.objects.filter(notice=notice, organization=organization).exists()
    ):
        # A member names a notice their organisation received; nothing else is theirs.
        raise ValidationError({"notice": "Choose a notice your organisation received."})
    return notice, vulnerability


def _evidence_url_clean(evidence_url: str) -> str:
    evidence_url = (evidence_url or "").strip()
    if evidence_url:
        try:
            URLValidator(schemes=["https", "http"])(evidence_url)
        except ValidationError:
            raise ValidationError({"evidence_url": "Enter a valid http(s) address."}) from None
        if len(evidence_url) > 500:
            raise ValidationError({"evidence_url": "At most 500 characters, please."})
    return evidence_url


def _report_audit(report: LeakReport, *, actor) -> None:
    audit_record(
        actor=actor,
        action="leak.reported",
        target=report,
        organization=report.organization,
        data={
            "source": report.source,
            "case": report.vulnerability_id,
            "notice": report.notice_id,
        },
    )


@transaction.atomic
def leak_report_file(
    *,
    actor,
    organization: Organization,
    vulnerability: Vulnerability | None = None,
    notice: Notice | None = None,
    what_leaked: str,
    leaked_to: str,
    how: str,
    leaked_at: datetime | None = None,
    prevention: str = "",
    source: str | None = None,
    evidence_text: str = "",
    evidence_url: str = "",
) -> LeakReport:
    """A person of the organisation reports their own leak; the security team files one
    for them, or about a leak it found."""
    if not actor.is_authenticated:
        raise PermissionDenied("Sign in first.")
    staff = _is_staff(actor)
    source = _report_source(actor=actor, organization=organization, source=source, staff=staff)
    notice, vulnerability = _report_subject(
        organization=organization, vulnerability=vulnerability, notice=notice, staff=staff
    )
    what_leaked = _text(what_leaked, field="what_leaked", label="What leaked", required=True)
    leaked_to = _text(leaked_to, field="leaked_to", label="Who received it", required=True)
    how = _text(how, field="how", label="How it happened", required=True)
    prevention = _text(prevention, field="prevention", label="What you changed", required=not staff)
    evidence_text = _text(
        evidence_text,
        field="evidence_text",
        label="The leaked text",
        required=False,
        limit=LEAK_EVIDENCE_MAX_LENGTH,
    )
    evidence_url = _evidence_url_clean(evidence_url)
    now = timezone.now()
    if leaked_at is not None and (timezone.is_naive(leaked_at) or leaked_at > now):
        raise ValidationError({"leaked_at": "When it leaked cannot be in the future."})
    report = LeakReport.objects.create(
        organization=organization,
        vulnerability=vulnerability,
        notice=notice,
        source=source,
        what_leaked=what_leaked,
        leaked_to=leaked_to,
        leaked_at=leaked_at,
        how=how,
        prevention=prevention,
        evidence_text=evidence_text,
        evidence_url=evidence_url,
        reported_by=actor,
        reported_at=now,
    )
    _report_audit(report, actor=actor)
    task_queue_after_commit("leaks.tasks.leak_staff_alert_task", report.pk)
    return report


def leak_staff_alert(*, leak_report_id: int) -> int:
    report = LeakReport.objects.select_related("organization").filter(pk=leak_report_id).first()
    if report is None:
        return 0
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    return plain_mail(
        recipients=staff.values_list("email", flat=True),
        template="leaks/email/leak_staff_alert",
        context={
            "report_id": report.pk,
            "organization": report.organization.name,
            "source": report.get_source_display(),
            "url": settings.SITE_URL + report.get_staff_url(),
        },
    )


def leak_report_decided_mail(*, leak_report_id: int) -> int:
    report = LeakReport.objects.select_related("organization").filter(pk=leak_report_id).first()
    if report is None or report.is_open:
        return 0
    recipients = TeamMember.objects.filter(
        organization=report.organization, user__is_active=True
    ).filter(Q(is_admin=True) | Q(user=report.reported_by))
    return plain_mail(
        recipients=recipients.values_list("user__email", flat=True),
        template="leaks/email/leak_decided",
        context={
            "report_id": report.pk,
            "state": report.get_state_display(),
            "url": settings.SITE_URL + report.get_absolute_url(),
            "warning": report.sanctions.filter(kind=Sanction.Kind.WARNING).exists(),
        },
    )


# ---------------------------------------------------------------- triage


def _locked_report(report: LeakReport) -> LeakReport:
    return (
        LeakReport.objects.select_for_update()
        .select_related("organization", "vulnerability")
        .get(pk=report.pk)
    )


@transaction.atomic
def leak_report_confirm(
    *, report: LeakReport, actor, reason: str, delivery: Delivery | None = None
) -> LeakReport:
    """Confirms the leak, counts it against the organisation and applies the ladder."""
    _require_staff(actor)
    report = _locked_report(report)
    if not report.is_open:
        raise ValidationError("This report was already decided.")
    reason = _text(reason, field="reason", label="The reason", required=True)
    if (
        delivery is not None
        and not Delivery.objects.filter(
            pk=delivery.pk, notice__vulnerability_id=report.vulnerability_id
        ).exists()
    ):
        raise ValidationError({"delivery": "That copy belongs to another case."})
    now = timezone.now()
    report.state = LeakReport.State.CONFIRMED
    report.decided_by, report.decided_at, report.decision_reason = actor, now, reason
    fields = ["state", "decided_by", "decided_at", "decision_reason"]
    if delivery is not None:
        report.delivery = delivery
        fields.append("delivery")
    report.save(update_fields=fields)
    confirmed = LeakReport.objects.filter(
        organization=report.organization, state=LeakReport.State.CONFIRMED
    ).count()
    ladder = sanction_ladder()
    step = ladder[min(confirmed, len(ladder)) - 1]
    audit_record(
        actor=actor,
        action="leak.confirmed",
        target=report,
        organization=report.organization,
        data={"confirmed_leaks": confirmed, "step": step, "reason": reason},
    )
    if report.organization.status != Organization.Status.REMOVED:
        organization_sanction(
            organization=report.organization,
            actor=actor,
            kind=step,
            reason=f"Confirmed leak (report #{report.pk}): {reason}",
            leak_report=report,
        )
    task_queue_after_commit("leaks.tasks.leak_decided_mail_task", report.pk)
    return report


@transaction.atomic
def leak_report_dismiss(*, report: LeakReport, actor, reason: str) -> LeakReport:
    _require_staff(actor)
    report = _locked_report(report)
    if not report.is_open:
        raise ValidationError("This report was already decided.")
    reason = _text(reason, field="reason", label="The reason", required=True)
    report.state = LeakReport.State.DISMISSED
    report.decided_by, report.decided_at = actor, timezone.now()
    report.decision_reason = reason
    report.save(update_fields=["state", "decided_by", "decided_at", "decision_reason"])
    audit_record(
        actor=actor,
        action="leak.dismissed",
        target=report,
        organization=report.organization,
        data={"reason": reason},
    )
    task_queue_after_commit("leaks.tasks.leak_decided_mail_task", report.pk)
    return report


# ---------------------------------------------------------------- sanctions


@transaction.atomic
def organization_sanction(
    *,
    organization: Organization,
    actor,
    kind: str,
    reason: str,
    until: datetime | None = None,
    leak_report: LeakReport | None = None,
) -> Sanction:
    """A warning (with a retrospective to answer), a suspension or a removal."""
    _require_staff(actor)
    if kind not in Sanction.Kind.values:
        raise ValidationError({"kind": "Choose a warning, a suspension or a removal."})
    reason = _text(reason, field="reason", label="The reason", required=True)
    cancelled = 0
    ends_at = None
    if kind == Sanction.Kind.SUSPENSION:
        if until is None and leak_report is not None:
            days = settings.HAULOUT_SANCTION_SUSPENSION_DAYS
            until = timezone.now() + timedelta(days=days)
        organization = organization_suspend(
            organization=organization, actor=actor, reason=reason, until=until
        )
        ends_at = until
        cancelled = deliveries_cancel_for_organization(
            organization=organization, reason=Reason.ORG_SUSPENDED, actor=actor
        )
    elif kind == Sanction.Kind.REMOVAL:
        organization = organization_remove(organization=organization, actor=actor, reason=reason)
        cancelled = deliveries_cancel_for_organization(
            organization=organization, reason=Reason.ORG_REMOVED, actor=actor
        )
    elif organization.status == Organization.Status.REMOVED:
        raise ValidationError("This organisation was removed; a warning means nothing now.")
    sanction = Sanction.objects.create(
        organization=organization,
        kind=kind,
        leak_report=leak_report,
        reason=reason,
        created_by=actor,
        created_at=timezone.now(),
        ends_at=ends_at,
        retrospective_required=kind == Sanction.Kind.WARNING,
        cancelled_deliveries=cancelled,
    )
    audit_record(
        actor=actor,
        action=f"sanction.{kind}",
        target=sanction,
        organization=organization,
        data={
            "leak_report": leak_report.pk if leak_report else None,
            "cancelled_deliveries": cancelled,
            "until": ends_at.isoformat() if ends_at else None,
        },
    )
    if kind == Sanction.Kind.WARNING:
        task_queue_after_commit("leaks.tasks.sanction_warning_mail_task", sanction.pk)
    return sanction


@transaction.atomic
def sanction_lift(*, sanction: Sanction, actor, reason: str) -> Sanction:
    """Ends a suspension early (staff) or on its date (actor None, the periodic task)."""
    if actor is not None:
        _require_staff(actor)
    sanction = (
        Sanction.objects.select_for_update().select_related("organization").get(pk=sanction.pk)
    )
    if sanction.kind != Sanction.Kind.SUSPENSION or sanction.lifted_at is not None:
        raise ValidationError("Only a suspension in force can be lifted.")
    now = timezone.now()
    # Claimed by a conditional UPDATE as well as the lock: SQLite has no row locks, and
    # of two lifts at once (staff and the periodic job, or two jobs) one must win.
    if not Sanction.objects.filter(
        pk=sanction.pk, kind=Sanction.Kind.SUSPENSION, lifted_at__isnull=True
    ).update(lifted_at=now, lifted_by=actor):
        raise ValidationError("Only a suspension in force can be lifted.")
    sanction.lifted_at, sanction.lifted_by = now, actor
    organization_reinstate(organization=sanction.organization, actor=actor, reason=reason)
    audit_record(
        actor=actor,
        action="sanction.lifted",
        target=sanction,
        organization=sanction.organization,
        data={"reason": (reason or "").strip()[:500]},
    )
    return sanction


def suspensions_lift_due(*, now: datetime | None = None) -> list[int]:
    """Reinstates every organisation whose suspension reached its end date. Safe to run
    twice at once: the run that loses a lift gets a ValidationError, skipped without a
    word (its transaction, and so its mail, rolls back)."""
    lifted = []
    for organization_id in suspensions_due(now=now):
        try:
            with transaction.atomic():
                organization = Organization.objects.get(pk=organization_id)
                sanction = (
                    Sanction.objects.filter(
                        organization=organization,
                        kind=Sanction.Kind.SUSPENSION,
                        lifted_at__isnull=True,
                    )
                    .order_by("-created_at")
                    .first()
                )
                reason = "The suspension reached its end date."
                if sanction is not None:
                    sanction_lift(sanction=sanction, actor=None, reason=reason)
                else:
                    organization_reinstate(organization=organization, actor=None, reason=reason)
        except ValidationError:
            continue  # changed meanwhile (lifted by hand, or removed)
        lifted.append(organization_id)
    return lifted


@transaction.atomic
def retrospective_answer(*, sanction: Sanction, actor, text: str) -> Sanction:
    """The organisation's answer to a warning: what happened and what changed."""
    sanction = Sanction.objects.select_for_update().get(pk=sanction.pk)
    if not TeamMember.objects.filter(
        user=actor, organization_id=sanction.organization_id, is_admin=True
    ).exists():
        raise PermissionDenied("Only an admin of the organisation can answer.")
    if not sanction.retrospective_due:
        raise ValidationError("This warning needs no retrospective, or it was answered.")
    text = _text(text, field="retrospective", label="The retrospective", required=True)
    sanction.retrospective = text
    sanction.retrospective_by, sanction.retrospective_at = actor, timezone.now()
    sanction.save(update_fields=["retrospective", "retrospective_by", "retrospective_at"])
    audit_record(
        actor=actor,
        action="sanction.retrospective_answered",
        target=sanction,
        organization=sanction.organization,
    )
    return sanction


def sanction_warning_mail(*, sanction_id: int) -> int:
    sanction = Sanction.objects.select_related("organization").filter(pk=sanction_id).first()
    if sanction is None:
        return 0
    admins = TeamMember.objects.filter(
        organization=sanction.organization, is_admin=True, user__is_active=True
    )
    from django.urls import reverse

    return plain_mail(
        recipients=admins.values_list("user__email", flat=True),
        template="leaks/email/sanction_warning",
        context={
            "organization": sanction.organization.name,
            "url": settings.SITE_URL + reverse("leaks:leak_list"),
        },
    )


# ---------------------------------------------------------------- breaking the embargo


@transaction.atomic
def leak_disclosure_move(
    *, report: LeakReport, actor, disclosure_at: datetime, note: str = ""
) -> Vulnerability:
    """A confirmed leak can end the embargo early: the case's disclosure time moves
    earlier, and everyone who was told gets a new encrypted notice with the new time."""
    _require_staff(actor)
    report = _locked_report(report)
    if report.state != LeakReport.State.CONFIRMED:
        raise ValidationError("Confirm the leak before moving the disclosure date for it.")
    case = report.vulnerability
    if (
        disclosure_at is not None
        and case.disclosure_at is not None
        and disclosure_at >= case.disclosure_at
    ):
        raise ValidationError({"disclosure_at": "A leak moves the disclosure date earlier."})
    case = vulnerability_disclosure_move(
        vulnerability=case, actor=actor, disclosure_at=disclosure_at, note=note
    )
    audit_record(
        actor=actor,
        action="leak.embargo_broken",
        target=report,
        organization=report.organization,
        data={"case": case.pk, "disclosure_at": case.disclosure_at.isoformat()},
    )
    return case
