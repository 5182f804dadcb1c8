"""The security team's notices: writing and editing a draft, the preview (the rendered body
and exactly who would get it, who would not and why), pressing "send", and the status of
every copy afterwards. Staff only, under /staff/."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.exports import csv_response
from core.lists import Choice, ListFilter, listing_build
from core.markdown import markdown_render
from core.views import service_error_report as report
from core.views import staff_required
from embargo.delivery.health import gpg_faults
from embargo.forms import NoticeForm
from embargo.models import Delivery, Notice, Vulnerability
from embargo.selectors import (
    STATUS_CONDITIONS,
    notice_audience_preview,
    notice_deliveries,
    notice_delivery_totals,
    notices_visible_to,
    person_delivery,
    reason_label,
    vulnerabilities_visible_to,
)
from embargo.services import notice_catch_up, notice_create, notice_send, notice_update
from embargo.services.notices import DEFAULT_OUTER_SUBJECT, SENDABLE_CASE_STATES
from embargo.views.variation import variation_context

_STATUS_LABELS = {"acknowledged": "Acknowledged", "sent": "Sent, not acknowledged yet"}
DELIVERY_STATUS_FILTER = ListFilter(
    name="status",
    label="Status",
    choices=tuple(
        Choice(
            value=status,
            label=_STATUS_LABELS.get(status) or Delivery.State(status).label,
            condition=condition,
        )
        for status, condition in STATUS_CONDITIONS.items()
    ),
)

# One name per status wherever the page shows it: the counts' headings, the filter and
# (for most) the badges of the copies, which show the delivery state's own label.
DELIVERY_STATUS_LABELS = {choice.value: choice.label for choice in DELIVERY_STATUS_FILTER.choices}


def _notice_or_404(request, pk: int) -> Notice:
    return get_object_or_404(notices_visible_to(request.user), pk=pk)


def _revised_or_404(request, case: Vulnerability) -> Notice | None:
    """The sent notice an update refers to, from ?revises= or the form's hidden field."""
    raw = request.POST.get("revises") or request.GET.get("revises")
    if not raw:
        return None
    if not str(raw).isdigit():
        raise Http404("No such notice.")
    return get_object_or_404(
        notices_visible_to(request.user).exclude(state=Notice.State.DRAFT),
        pk=int(raw),
        vulnerability=case,
    )


@staff_required
def notice_create_view(request, pk: int):
    case = get_object_or_404(vulnerabilities_visible_to(request.user), pk=pk)
    revises = _revised_or_404(request, case)
    if revises is not None:
        initial = NoticeForm.initial_for(revises)
        initial["subject"] = f"Update: {revises.subject}"[:200]
    else:
        initial = {"outer_subject": DEFAULT_OUTER_SUBJECT, "audience_all": "1"}
    form = NoticeForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                notice = notice_create(
                    vulnerability=case, actor=request.user, revises=revises, **form.cleaned_data
                )
            except ValidationError as error:
                report(request, form, error)
            else:
                messages.success(request, "Draft saved. Check the preview before sending.")
                return redirect("embargo:notice_preview", pk=notice.pk)
        status = 400
    return render(
        request,
        "embargo/staff/notice_form.html",
        {"form": form, "case": case, "notice": None, "revises": revises},
        status=status,
    )


@staff_required
def notice_edit_view(request, pk: int):
    notice = _notice_or_404(request, pk)
    if notice.state != Notice.State.DRAFT:
        messages.error(request, "A sent notice cannot change; write an update to it instead.")
        return redirect(notice.get_staff_url())
    form = NoticeForm(request.POST or None, initial=NoticeForm.initial_for(notice))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                notice_update(notice=notice, actor=request.user, **form.cleaned_data)
            except ValidationError as error:
                report(request, form, error)
            else:
                messages.success(request, "Draft saved. Check the preview before sending.")
                return redirect("embargo:notice_preview", pk=notice.pk)
        status = 400
    return render(
        request,
        "embargo/staff/notice_form.html",
        {"form": form, "case": notice.vulnerability, "notice": notice, "revises": notice.revises},
        status=status,
    )


def _preview_rows(notice: Notice) -> tuple[list[dict], list[dict]]:
    recipients, withheld = [], []
    for item in notice_audience_preview(notice=notice):
        row = {
            "member": item.member,
            "key": item.key,
            "reasons": [reason_label(reason) for reason in item.reasons],
        }
        (recipients if item.eligible else withheld).append(row)
    return recipients, withheld


@staff_required
def notice_preview_view(request, pk: int):
    notice = _notice_or_404(request, pk)
    if notice.state != Notice.State.DRAFT:
        return redirect(notice.get_staff_url())
    recipients, withheld = _preview_rows(notice)
    return render(
        request,
        "embargo/staff/notice_preview.html",
        {
            "notice": notice,
            "case": notice.vulnerability,
            "organizations": list(notice.organizations.order_by("name")),
            "recipients": recipients,
            "withheld": withheld,
            **variation_context(notice, audience=len(recipients)),
        },
    )


@staff_required
@require_POST
def notice_send_view(request, pk: int):
    notice = _notice_or_404(request, pk)
    try:
        notice_send(notice=notice, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        if notice.state == Notice.State.DRAFT:
            return redirect("embargo:notice_preview", pk=notice.pk)
    else:
        messages.success(request, "Sending started: each person gets their own encrypted copy.")
    return redirect(notice.get_staff_url())


@staff_required
@require_POST
def notice_catch_up_view(request, pk: int):
    notice = _notice_or_404(request, pk)
    try:
        counts = notice_catch_up(notice=notice, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        queued = counts["retried"] + counts["added"]
        if queued:
            messages.success(
                request,
                f"{queued} more {'copy is' if queued == 1 else 'copies are'} being sent "
                f"({counts['retried']} retried, {counts['added']} for people new to the "
                "audience).",
            )
        else:
            messages.info(request, "Nobody else can receive this notice yet.")
    return redirect(notice.get_staff_url())


# How often the notice page looks again at its copies while they go out.
NOTICE_REFRESH_SECONDS = 5


@staff_required
def notice_detail_view(request, pk: int):
    notice = _notice_or_404(request, pk)
    summary, listing, people = None, None, []
    if notice.state != Notice.State.DRAFT:
        summary = notice_delivery_totals(notice=notice)
        listing = listing_build(
            request,
            notice_deliveries(notice=notice),
            search_fields=("email", "organization__name", "reference_code"),
            search_label="Address, organisation or reference",
            filters=(DELIVERY_STATUS_FILTER,),
        )
        people = [person_delivery(delivery) for delivery in listing]
    return render(
        request,
        "embargo/staff/notice_detail.html",
        {
            "notice": notice,
            "listing": listing,
            "people": people,
            "case": notice.vulnerability,
            "body_html": markdown_render(notice.body),
            "organizations": list(notice.organizations.order_by("name")),
            "summary": summary,
            "status_counts": [
                (DELIVERY_STATUS_LABELS[status], count) for status, count in summary.totals.items()
            ]
            if summary
            else [],
            "revisions": list(notice.revisions.order_by("created_at", "pk")),
            "can_revise": notice.state != Notice.State.DRAFT and notice.vulnerability.is_open,
            "can_catch_up": notice.state != Notice.State.DRAFT
            and notice.vulnerability.state in SENDABLE_CASE_STATES,
            "gpg_faults": gpg_faults() if summary and not summary.is_complete else {},
            # While some copy is pending or sending, the page's counts and copies update
            # in place (static/js/notice-progress.js, an own-origin script the CSP allows;
            # not a meta refresh, whose reloads take a screen reader back to the top), so
            # a settled notice stays still.
            "refresh_seconds": NOTICE_REFRESH_SECONDS
            if summary and not summary.is_complete
            else None,
        },
    )


@staff_required
def notice_deliveries_csv_view(request, pk: int):
    """Every copy of a notice and its acknowledgement, for the security team's records.
    Addresses, states, times and reference codes: never the subject or the body."""
    notice = _notice_or_404(request, pk)

    def rows():
        for delivery in notice_deliveries(notice=notice).iterator(chunk_size=500):
            person = person_delivery(delivery)
            yield (
                delivery.organization.name,
                delivery.email,
                delivery.reference_code,
                delivery.state,
                delivery.sent_at,
                delivery.acknowledged_at,
                delivery.finished_at,
                "; ".join(person.reasons),
            )

    return csv_response(
        filename=f"notice-{notice.pk}-copies.csv",
        header=(
            "organisation",
            "email",
            "reference_code",
            "state",
            "sent_at",
            "acknowledged_at",
            "finished_at",
            "why",
        ),
        rows=rows(),
    )
