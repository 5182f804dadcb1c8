"""The security team's cases: the list, opening and editing a case, moving it through
triage, rejecting it, moving the disclosure date, and the advisory before it is public.

Every page sits under /staff/: non-staff get a 404, staff without a second factor are sent
to set one up (StaffMfaRequiredMiddleware)."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.lists import listing_build
from core.markdown import markdown_render
from core.views import service_error_report as report
from core.views import service_run, staff_required
from embargo.forms import (
    CaseFilterForm,
    CaseForm,
    DiscloseForm,
    DisclosureMoveForm,
    RejectForm,
    TransitionForm,
)
from embargo.models import FixState, Notice, Vulnerability
from embargo.package_forms import FixReferenceForm, FixStateForm, PackageForm, RangeForm
from embargo.pictures import case_timeline_items, case_timeline_svg
from embargo.selectors import (
    advisory_revisions,
    affected_packages,
    case_timeline_facts,
    fix_references,
    vulnerabilities_for_staff,
    vulnerabilities_visible_to,
    vulnerability_history,
)
from embargo.services import (
    vulnerability_create,
    vulnerability_disclose,
    vulnerability_disclosure_move,
    vulnerability_next_states,
    vulnerability_reject,
    vulnerability_transition,
    vulnerability_update,
)
from embargo.services.reporter import (
    first_response_due_for_alert,
    vulnerability_first_response_record,
)
from embargo.views.public import advisory_context

# What each audit action means, for the history table; unknown actions show as recorded.
ACTION_WORDS = {
    "vulnerability.created": "opened the case",
    "vulnerability.updated": "edited {fields}",
    "vulnerability.state_changed": "changed the state",
    "vulnerability.rejected": "rejected the case",
    "vulnerability.disclosure_moved": "set the disclosure time",
    "vulnerability.disclosed": "disclosed the case; the advisory is public",
    "notice.created": "wrote notice #{target}",
    "notice.updated": "edited draft notice #{target}",
    "notice.send_started": "sent notice #{target} ({recipients} recipients, {withheld} withheld)",
    "notice.sent": "finished sending notice #{target}",
    "vulnerability.first_response_recorded": "recorded the first response to the reporter",
    "vulnerability.cvss_set": "set the CVSS {version} score to {score}",
    "vulnerability.cvss_cleared": "cleared the CVSS {version} score",
    "vulnerability.first_response_overdue": "staff were reminded: no first response yet",
    "vulnerability.reporter_told": "told the reporter",
    "vulnerability.date_proposed": "proposed {at} for {party} (proposal #{proposal})",
    "vulnerability.date_answered": "answered proposal #{proposal} for {party}: {answer}",
    "vulnerability.disclosure_date_set": "decided the disclosure date: {at} ({chosen})",
    "vulnerability.package_added": "added affected package #{package}",
    "vulnerability.package_updated": "edited affected package #{package}",
    "vulnerability.package_removed": "removed affected package #{package}",
    "vulnerability.range_added": "added version range #{range} of package #{package}",
    "vulnerability.range_removed": "removed version range #{range} of package #{package}",
    "vulnerability.fix_reference_added": "added fix reference #{reference}",
    "vulnerability.fix_reference_removed": "removed fix reference #{reference}",
    "vulnerability.fix_set": "set the fix state to “{fix}”",
    "vulnerability.advisory_revised": "published revision {number} of the advisory",
}
# Who spoke in a negotiation event: the reporter has no account, so no actor.
PARTY_WORDS = {"team": "the team", "reporter": "the reporter", "member": "their organisation"}
ANSWER_WORDS = {"accept": "accepted", "object": "objected", "counter": "counter-proposed"}
NEGOTIATION_ACTIONS = (
    "vulnerability.date_proposed",
    "vulnerability.date_answered",
    "vulnerability.disclosure_date_set",
    "vulnerability.disclosure_moved",
)
FIELD_WORDS = {
    "title": "the title",
    "summary": "the summary",
    "cvss_vector": "the CVSS vector",
    "cve_id": "the CVE id",
    "cwe_ids": "the CWE ids",
    "mitigation": "the mitigation",
    "public_description": "the public description",
    "reporter_name": "the reporter's name",
    "reporter_email": "the reporter's email",
    "reporter_public_key": "the reporter's key",
    "reported_at": "when the report arrived",
    "credit": "the credit",
    "versions_note": "the versions note",
}


def _state_label(value) -> str | None:
    if value in Vulnerability.State.values:
        return Vulnerability.State(value).label
    return value


def _utc_text(value: str | None) -> str | None:
    # Audit data holds ISO timestamps; show them the way every other time is shown.
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        return str(value)


def _party_words(event, data: dict) -> str:
    if data.get("party") == "member" and event.organization is not None:
        return event.organization.name
    return PARTY_WORDS.get(data.get("party"), "?")


def _fix_label(value) -> str:
    return FixState(value).label if value in FixState.values else "?"


def _event_words(event, data: dict) -> str:
    words = ACTION_WORDS.get(event.action, event.action)
    fields = ", ".join(FIELD_WORDS.get(name, name) for name in data.get("fields", []))
    words = words.format(
        fields=fields or "the case",
        target=event.target_id,
        recipients=data.get("recipients", "?"),
        withheld=data.get("withheld", "?"),
        version=data.get("version", "?"),
        score=data.get("score", "?"),
        at=_utc_text(data.get("to")) or "?",
        party=_party_words(event, data),
        proposal=data.get("proposal", "?"),
        answer=ANSWER_WORDS.get(data.get("answer"), "?"),
        chosen=f"proposal #{data['proposal']}" if data.get("proposal") else "the team's own date",
        package=data.get("package", "?"),
        range=data.get("range", "?"),
        reference=data.get("reference", "?"),
        fix=_fix_label(data.get("fix_state")),
        number=data.get("number", "?"),
    )
    if event.action == "vulnerability.reporter_told":
        words += (
            " (encrypted to their key)"
            if data.get("encrypted")
            else " (a mail without details: no usable key)"
        )
    return words


def history_rows(*, vulnerability: Vulnerability, actions: tuple[str, ...] = ()) -> list[dict]:
    """The case's history for the page, oldest first; only `actions` if given."""
    rows = []
    for event in vulnerability_history(vulnerability=vulnerability):
        if actions and event.action not in actions:
            continue
        data = event.data or {}
        row = {"actor": event.actor, "words": _event_words(event, data), "at": event.created_at}
        row["from"] = None
        if event.actor is None and data.get("party") == "reporter":
            row["who"] = "the reporter"
        if event.action == "vulnerability.disclosure_moved":
            row["from"] = _utc_text(data.get("from")) or "not set"
            row["to"] = _utc_text(data.get("to"))
        elif event.action not in NEGOTIATION_ACTIONS and (data.get("from") or data.get("to")):
            row["from"], row["to"] = _state_label(data.get("from")), _state_label(data.get("to"))
        rows.append(row)
    return rows


def _case_or_404(request, pk: int) -> Vulnerability:
    return get_object_or_404(vulnerabilities_visible_to(request.user), pk=pk)


@staff_required
def case_list_view(request):
    form = CaseFilterForm(request.GET or None)
    state, keep = None, ()
    if form.is_bound:
        if form.is_valid():
            state = form.cleaned_data["state"] or None
            keep = ("state",)
        else:
            messages.error(request, "The filter was not applied; see the message beside it.")
    listing = listing_build(
        request,
        vulnerabilities_for_staff(user=request.user, state=state),
        search_fields=("public_id",),
        keep=keep,
    )
    return render(
        request,
        "embargo/staff/case_list.html",
        {"form": form, "cases": listing.page, "listing": listing},
    )


@staff_required
def case_create_view(request):
    form = CaseForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                case = vulnerability_create(actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                report(request, form, error)
            else:
                messages.success(request, f"Case {case.public_id} opened.")
                return redirect("embargo:case_detail", pk=case.pk)
        status = 400
    return render(
        request, "embargo/staff/case_form.html", {"form": form, "case": None}, status=status
    )


@staff_required
def case_edit_view(request, pk: int):
    case = _case_or_404(request, pk)
    if case.state == Vulnerability.State.REJECTED:
        messages.error(request, "A rejected case can no longer be edited.")
        return redirect("embargo:case_detail", pk=case.pk)
    form = CaseForm(request.POST or None, vulnerability=case, initial=CaseForm.initial_for(case))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                vulnerability_update(vulnerability=case, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                report(request, form, error)
            else:
                messages.success(request, "Case saved.")
                return redirect("embargo:case_detail", pk=case.pk)
        status = 400
    return render(
        request, "embargo/staff/case_form.html", {"form": form, "case": case}, status=status
    )


def case_detail_render(request, case: Vulnerability, *, status: int = 200, **forms):
    notices = list(case.notices.select_related("author", "revises").order_by("created_at", "pk"))
    context = {
        "case": case,
        "notices": notices,
        # The manual moves the service allows from here: one button each.
        "next_states": [
            (state, Vulnerability.State(state).label)
            for state in vulnerability_next_states(case.state)
        ],
        "can_write_notice": case.is_open,
        "can_disclose": case.state in Vulnerability.LIFTABLE_STATES,
        "reject_form": forms.get("reject_form") or RejectForm(),
        "move_form": forms.get("move_form")
        or DisclosureMoveForm(initial={"disclosure_at": case.disclosure_at}),
        "disclose_form": forms.get("disclose_form") or DiscloseForm(),
        "summary_html": markdown_render(case.summary),
        "first_response_alert_at": first_response_due_for_alert(case),
        "history": history_rows(vulnerability=case),
        "sent_notices": sum(1 for notice in notices if notice.state != Notice.State.DRAFT),
        "cvss_ratings": list(case.cvss_ratings.select_related("set_by")),
        **_timeline_context(case),
        **_packages_context(case, forms),
    }
    return render(request, "embargo/staff/case_detail.html", context, status=status)


def _timeline_context(case: Vulnerability) -> dict:
    facts = case_timeline_facts(vulnerability=case, now=timezone.now())
    return {"timeline_svg": case_timeline_svg(facts), "timeline_items": case_timeline_items(facts)}


def _packages_context(case: Vulnerability, forms: dict) -> dict:
    """The "Packages and fix" section: a fixed number of queries however many packages,
    ranges and references the case has (the ranges are prefetched)."""
    packages = list(affected_packages(vulnerability=case))
    return {
        "packages": packages,
        "fix_references": list(fix_references(vulnerability=case)),
        "revisions": list(advisory_revisions(vulnerability=case)),
        "can_change_packages": case.state != Vulnerability.State.REJECTED,
        "package_form": forms.get("package_form") or PackageForm(),
        "range_form": forms.get("range_form") or RangeForm(packages=packages),
        "reference_form": forms.get("reference_form") or FixReferenceForm(),
        "fix_form": forms.get("fix_form") or FixStateForm(initial=FixStateForm.initial_for(case)),
    }


@staff_required
def case_detail_view(request, pk: int):
    return case_detail_render(request, _case_or_404(request, pk))


@staff_required
@require_POST
def case_transition_view(request, pk: int):
    case = _case_or_404(request, pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a state the case can move to.")
        return redirect("embargo:case_detail", pk=case.pk)
    try:
        case = vulnerability_transition(
            vulnerability=case, actor=request.user, state=form.cleaned_data["state"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The case is now {case.get_state_display().lower()}.")
    return redirect("embargo:case_detail", pk=case.pk)


@staff_required
@require_POST
def case_reject_view(request, pk: int):
    case = _case_or_404(request, pk)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            vulnerability_reject(
                vulnerability=case, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, "Case rejected.")
            return redirect("embargo:case_detail", pk=case.pk)
    messages.error(request, "The case was not rejected.")
    return case_detail_render(request, case, status=400, reject_form=form)


@staff_required
@require_POST
def case_disclosure_move_view(request, pk: int):
    case = _case_or_404(request, pk)
    form = DisclosureMoveForm(request.POST)
    if form.is_valid():
        try:
            vulnerability_disclosure_move(
                vulnerability=case,
                actor=request.user,
                disclosure_at=form.cleaned_data["disclosure_at"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, "Disclosure time saved.")
            return redirect("embargo:case_detail", pk=case.pk)
    messages.error(request, "The disclosure time was not changed.")
    return case_detail_render(request, case, status=400, move_form=form)


@staff_required
@require_POST
def case_disclose_view(request, pk: int):
    case = _case_or_404(request, pk)
    form = DiscloseForm(request.POST)
    if form.is_valid():
        try:
            vulnerability_disclose(vulnerability=case, actor=request.user)
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, "The case is disclosed; the advisory is public.")
            return redirect("embargo:case_detail", pk=case.pk)
    messages.error(request, "The case was not disclosed.")
    return case_detail_render(request, case, status=400, disclose_form=form)


@staff_required
@require_POST
def case_first_response_view(request, pk: int):
    case = _case_or_404(request, pk)
    service_run(
        request,
        lambda: vulnerability_first_response_record(vulnerability=case, actor=request.user),
        success="First response to the reporter recorded.",
    )
    return redirect("embargo:case_detail", pk=case.pk)


@staff_required
def advisory_preview_view(request, pk: int):
    case = _case_or_404(request, pk)
    return render(
        request,
        "embargo/staff/advisory_preview.html",
        {
            **advisory_context(case),
            "is_public": case.state == Vulnerability.State.DISCLOSED,
            "public_url": reverse("embargo:advisory_detail", kwargs={"public_id": case.public_id}),
        },
    )
