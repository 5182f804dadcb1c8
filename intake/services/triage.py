"""Staff decisions on a report: valid or invalid, accepted into a case or deferred,
closed (merged into an existing case counts as closed, with the link).

Any decision, like any message from the team, is the first response the process
promises within three business days."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from embargo.models import Vulnerability
from embargo.services import vulnerability_create, vulnerability_transition
from intake.models import Report
from intake.services.conversation import team_message_add

State = Report.State

# Every legal move, in one place.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    State.RECEIVED: (State.VALID, State.INVALID, State.CLOSED),
    State.VALID: (State.ACCEPTED, State.DEFERRED, State.INVALID, State.CLOSED),
    State.DEFERRED: (State.ACCEPTED, State.CLOSED),
    State.ACCEPTED: (State.CLOSED,),
    State.INVALID: (State.CLOSED,),
    State.CLOSED: (),
}
REASON_MAX = 20_000


def report_next_states(state: str) -> tuple[str, ...]:
    return TRANSITIONS.get(state, ())


def _locked(report: Report, to: str) -> Report:
    report = Report.objects.select_for_update().get(pk=report.pk)
    if to not in TRANSITIONS[report.state]:
        raise ValidationError(
            f"A report that is {report.get_state_display().lower()} cannot become "
            f"{State(to).label.lower()}."
        )
    return report


def _decide(report: Report, *, actor, to: str, reason: str = "", **extra) -> Report:
    now = timezone.now()
    previous = report.state
    report.state = to
    report.decided_by, report.decided_at = actor, now
    if reason:
        report.decision_reason = reason
    if report.first_response_at is None:
        report.first_response_at = now
    for name, value in extra.items():
        setattr(report, name, value)
    report.save()
    audit_record(
        actor=actor,
        action=f"report.{to}",
        target=report,
        data={
            "from": previous,
            **({"case": report.vulnerability_id} if to != State.INVALID else {}),
        },
    )
    return report


def _reason_clean(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationError(
            {"reason": ["Give the reporter a detailed reason: it is sent to them."]}
        )
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": [f"At most {REASON_MAX:,} characters, please."]})
    return reason


@transaction.atomic
def report_mark_valid(*, report: Report, actor, note: str = "") -> Report:
    report = _locked(report, State.VALID)
    return _decide(report, actor=actor, to=State.VALID, reason=_reason_clean(note, required=False))


@transaction.atomic
def report_mark_invalid(*, report: Report, actor, reason: str) -> Report:
    """The reason reaches the reporter, as the process promises, as a team message."""
    reason = _reason_clean(reason, required=True)
    report = _locked(report, State.INVALID)
    report = _decide(report, actor=actor, to=State.INVALID, reason=reason)
    team_message_add(
        report=report,
        actor=actor,
        body=f"We looked at your report and do not consider it a vulnerability.\n\n{reason}",
    )
    return report


@transaction.atomic
def report_defer(*, report: Report, actor, reason: str = "") -> Report:
    report = _locked(report, State.DEFERRED)
    return _decide(
        report, actor=actor, to=State.DEFERRED, reason=_reason_clean(reason, required=False)
    )


@transaction.atomic
def report_accept(*, report: Report, actor, vulnerability: Vulnerability | None = None) -> Report:
    """Opens a case from the report (its text, the reporter and their key carried over;
    the attachments stay with the report, which the case links to) or links the report
    to an existing open case."""
    report = _locked(report, State.ACCEPTED)
    if vulnerability is None:
        vulnerability = vulnerability_create(
            actor=actor,
            title=report.subject,
            summary=case_summary(report),
            reporter_name=report.reporter_name,
            reporter_email=report.reporter_email,
            reporter_public_key=report.reporter_public_key,
            reported_at=report.received_at,
            credit=report_credit(report),
        )
        # Accepting is the triage: the new case has been looked at.
        vulnerability = vulnerability_transition(
            vulnerability=vulnerability, actor=actor, state=Vulnerability.State.TRIAGED
        )
    elif not vulnerability.is_open:
        raise ValidationError({"vulnerability": ["That case is closed; choose an open one."]})
    return _decide(report, actor=actor, to=State.ACCEPTED, vulnerability=vulnerability)


@transaction.atomic
def report_close(
    *, report: Report, actor, reason: str = "", merged_into: Vulnerability | None = None
) -> Report:
    """Closes the report; with `merged_into`, as a duplicate of that case."""
    report = _locked(report, State.CLOSED)
    extra = {"vulnerability": merged_into, "merged": True} if merged_into is not None else {}
    return _decide(
        report, actor=actor, to=State.CLOSED, reason=_reason_clean(reason, required=False), **extra
    )


def report_credit(report: Report) -> str:
    """The name the advisory credits: the one the reporter gave, or their name when they
    asked for credit without giving one; empty when they did not ask."""
    if not report.credit_wanted:
        return ""
    return (report.credit_as or report.reporter_name or "").strip()[:200]


def case_summary(report: Report) -> str:
    """The report's text as the case's private summary, each answer under its question."""
    parts = [f"From report {report.reference} ({report.get_channel_display().lower()})."]
    for name in ("reproduce", "effects", "impact", "others_involved", "disclosure_plans", "body"):
        value = getattr(report, name)
        if value:
            label = Report._meta.get_field(name).verbose_name
            parts.append(f"## {label[0].upper()}{label[1:]}\n\n{value}")
    parts.append(f"Already public or exploited: {report.get_exposure_display()}.")
    if report.credit_wanted:
        parts.append(f"Credit: {report.credit_as or report.reporter_name or 'yes'}.")
    return "\n\n".join(parts)[:20000]
