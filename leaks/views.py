"""Leak reports, sanctions and tracing.

People of an organisation file and follow their own organisation's reports (never the
pasted evidence, never another organisation's), signed in with a second factor and only
while they may receive its notices (selectors_leaks.leak_access_of); anyone else of the
organisation gets a page saying what they lack. The security team triages, sanctions and
traces under /staff/, where the MFA middleware applies. A leaked text pasted for tracing
is only ever POSTed and rendered back, never put in a URL, the session or a log.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.lists import ListFilter, choices_from, listing_build
from core.views import mfa_required, service_run, staff_required
from core.views import service_error_report as report_error
from distributors.selectors import organizations_for_staff
from embargo.models import Notice
from embargo.selectors import notices_visible_to, vulnerabilities_visible_to
from leaks.forms import (
    DecisionForm,
    DismissForm,
    LeakDisclosureForm,
    LiftForm,
    MemberLeakReportForm,
    RetrospectiveForm,
    SanctionForm,
    StaffLeakReportForm,
    TraceForm,
)
from leaks.models import LeakReport, Sanction
from leaks.selectors import (
    LeakAccess,
    PersonLeakAccess,
    delivery_of_case_by_code,
    leak_access_of,
    leak_dashboard,
    leak_reports_for_staff,
    leak_reports_visible_to,
    leak_trace,
    notice_trace_capacity,
    notices_received_by_any,
    organization_leak_history,
    organizations_reporting_for,
    retrospectives_due_for,
    sanctions_visible_to,
)
from leaks.services import (
    leak_disclosure_move,
    leak_report_confirm,
    leak_report_dismiss,
    leak_report_file,
    organization_sanction,
    retrospective_answer,
    sanction_lift,
)

LEAK_STATE_FILTER = ListFilter(
    name="state", label="State", choices=choices_from("state", LeakReport.State.choices)
)

# ---------------------------------------------------------------- members


def _refusal(request, refused: list[LeakAccess]):
    """What the person lacks, per organisation; never anything of a report."""
    return render(request, "leaks/not_allowed.html", {"refused": refused}, status=403)


def leak_pages(view):
    """The member leak pages: a second factor (mfa_required), then, for people of member
    organisations, the notice recipients' rules. Someone whose every organisation is
    closed to them gets the refusal page whatever they asked for, so it says nothing about
    whether a given report exists. The view gets the access worked out here as
    `leak_access` (None for staff), for its selectors: the person's eligibility is read
    once per request, not once per list."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        access = None
        if not request.user.is_staff:
            access = leak_access_of(request.user)
            if access.closed:
                return _refusal(request, list(access.organizations))
        return view(request, *args, leak_access=access, **kwargs)

    return mfa_required(wrapper)


def _not_found_or_refused(request, rows, *, access: PersonLeakAccess | None):
    """A report or sanction the person cannot open: the refusal page when it is of one of
    their own organisations that is closed to them, otherwise a plain 404."""
    if access is None or access.user_id != request.user.pk:
        access = leak_access_of(request.user)
    refused = access.refused
    ids = [access.organization.pk for access in refused]
    if ids and rows.filter(organization_id__in=ids).exists():
        return _refusal(request, refused)
    raise Http404("No such report.")


@leak_pages
def leak_list_view(request, *, leak_access: PersonLeakAccess | None):
    if request.user.is_staff:
        return redirect("leaks:staff_leak_dashboard")
    user, access = request.user, leak_access
    return render(
        request,
        "leaks/list.html",
        {
            "listing": listing_build(
                request,
                leak_reports_visible_to(user, access=access).order_by("-reported_at", "-pk"),
                filters=(LEAK_STATE_FILTER,),
            ),
            "sanctions": list(sanctions_visible_to(user, access=access)),
            "retrospectives_due": list(retrospectives_due_for(user, access=access)),
            "can_report": organizations_reporting_for(user, access=access).exists(),
        },
    )


@leak_pages
def leak_create_view(request, *, leak_access: PersonLeakAccess | None):
    organizations = organizations_reporting_for(request.user, access=leak_access)
    if not organizations.exists():
        raise Http404("You are not in an organisation that receives notices.")
    notices = notices_received_by_any(organizations=organizations)
    form = MemberLeakReportForm(request.POST or None, organizations=organizations, notices=notices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = leak_report_file(
                actor=request.user,
                organization=data["organization"],
                notice=data["notice"],
                what_leaked=data["what_leaked"],
                leaked_to=data["leaked_to"],
                leaked_at=data["leaked_at"],
                how=data["how"],
                prevention=data["prevention"],
                evidence_text=data["evidence_text"],
                evidence_url=data["evidence_url"],
            )
        except ValidationError as error:
            report_error(request, form, error)
        except PermissionDenied as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, "Thank you. The security team has been alerted and will follow up."
            )
            return redirect(created.get_absolute_url())
    return render(request, "leaks/form.html", {"form": form, "staff": False})


@leak_pages
def leak_detail_view(request, pk: int, *, leak_access: PersonLeakAccess | None):
    leak = leak_reports_visible_to(request.user, access=leak_access).filter(pk=pk).first()
    if leak is None:
        return _not_found_or_refused(request, LeakReport.objects.filter(pk=pk), access=leak_access)
    return render(
        request,
        "leaks/detail.html",
        {"leak": leak, "sanctions": list(leak.sanctions.all())},
    )


@leak_pages
def retrospective_view(request, pk: int, *, leak_access: PersonLeakAccess | None):
    sanction = sanctions_visible_to(request.user, access=leak_access).filter(pk=pk).first()
    if sanction is None:
        return _not_found_or_refused(request, Sanction.objects.filter(pk=pk), access=leak_access)
    form = RetrospectiveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            retrospective_answer(
                sanction=sanction, actor=request.user, text=form.cleaned_data["retrospective"]
            )
        except PermissionDenied as error:
            messages.error(request, str(error))
        except ValidationError as error:
            report_error(request, form, error)
        else:
            messages.success(request, "Your retrospective is recorded. Thank you.")
            return redirect("leaks:leak_list")
    return render(request, "leaks/retrospective.html", {"sanction": sanction, "form": form})


# ---------------------------------------------------------------- the security team


@staff_required
def staff_leak_dashboard_view(request):
    listing = listing_build(
        request,
        leak_reports_for_staff(user=request.user),
        search_fields=("organization__name",),
        search_label="Organisation",
        filters=(LEAK_STATE_FILTER,),
    )
    return render(
        request,
        "leaks/staff_dashboard.html",
        {**leak_dashboard(user=request.user), "listing": listing},
    )


@staff_required
def staff_leak_create_view(request, pk: int):
    case = get_object_or_404(vulnerabilities_visible_to(request.user), pk=pk)
    notices = case.notices.exclude(state=Notice.State.DRAFT).select_related("vulnerability")
    form = StaffLeakReportForm(request.POST or None, notices=notices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created = leak_report_file(
                actor=request.user,
                organization=data["organization"],
                vulnerability=case,
                notice=data["notice"],
                source=data["source"],
                what_leaked=data["what_leaked"],
                leaked_to=data["leaked_to"],
                leaked_at=data["leaked_at"],
                how=data["how"],
                prevention=data["prevention"],
                evidence_text=data["evidence_text"],
                evidence_url=data["evidence_url"],
            )
        except ValidationError as error:
            report_error(request, form, error)
        else:
            messages.success(request, "Leak report filed.")
            return redirect(created.get_staff_url())
    return render(request, "leaks/form.html", {"form": form, "staff": True, "case": case})


def _staff_leak(request, pk: int) -> LeakReport:
    return get_object_or_404(leak_reports_visible_to(request.user), pk=pk)


@staff_required
def staff_leak_detail_view(request, pk: int):
    leak = _staff_leak(request, pk)
    return render(
        request,
        "leaks/staff_detail.html",
        {
            "leak": leak,
            "sanctions": list(leak.sanctions.all()),
            "confirm_form": DecisionForm(),
            # Both forms have a reason: ids of their own, so each label names its field.
            "dismiss_form": DismissForm(auto_id="id_dismiss_%s"),
            "disclosure_form": LeakDisclosureForm(),
            "trace_form": TraceForm(initial={"text": leak.evidence_text, "leak": leak.pk}),
            "history": organization_leak_history(organization=leak.organization),
        },
    )


@staff_required
@require_POST
def staff_leak_confirm_view(request, pk: int):
    leak = _staff_leak(request, pk)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for the decision.")
        return redirect(leak.get_staff_url())
    delivery = None
    code = form.cleaned_data["reference_code"].strip().upper()
    if code:
        delivery = delivery_of_case_by_code(
            vulnerability_id=leak.vulnerability_id, reference_code=code
        )
        if delivery is None:
            messages.error(request, "No copy of this case has that reference code.")
            return redirect(leak.get_staff_url())
    service_run(
        request,
        lambda: leak_report_confirm(
            report=leak, actor=request.user, reason=form.cleaned_data["reason"], delivery=delivery
        ),
        success="Leak confirmed; the sanction ladder was applied.",
    )
    return redirect(leak.get_staff_url())


@staff_required
@require_POST
def staff_leak_dismiss_view(request, pk: int):
    leak = _staff_leak(request, pk)
    form = DismissForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for the decision.")
        return redirect(leak.get_staff_url())
    service_run(
        request,
        lambda: leak_report_dismiss(
            report=leak, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        success="Leak report dismissed.",
    )
    return redirect(leak.get_staff_url())


@staff_required
@require_POST
def staff_leak_disclosure_view(request, pk: int):
    leak = _staff_leak(request, pk)
    form = LeakDisclosureForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the new disclosure time in UTC.")
        return redirect(leak.get_staff_url())
    service_run(
        request,
        lambda: leak_disclosure_move(
            report=leak,
            actor=request.user,
            disclosure_at=form.cleaned_data["disclosure_at"],
            note=form.cleaned_data["note"],
        ),
        success="Disclosure moved; every recipient gets an encrypted notice.",
    )
    return redirect(leak.get_staff_url())


def _staff_organization(request, slug: str):
    return get_object_or_404(organizations_for_staff(user=request.user), slug=slug)


@staff_required
def staff_organization_leaks_view(request, slug: str):
    organization = _staff_organization(request, slug)
    return render(
        request,
        "leaks/staff_organization.html",
        {
            "organization": organization,
            "sanction_form": SanctionForm(),
            "lift_form": LiftForm(),
            **organization_leak_history(organization=organization),
        },
    )


@staff_required
@require_POST
def staff_organization_sanction_view(request, slug: str):
    organization = _staff_organization(request, slug)
    form = SanctionForm(request.POST)
    url = reverse("leaks:staff_organization_leaks", kwargs={"slug": organization.slug})
    if not form.is_valid():
        messages.error(request, "Choose a decision and give a reason.")
        return redirect(url)
    try:
        sanction = organization_sanction(
            organization=organization,
            actor=request.user,
            kind=form.cleaned_data["kind"],
            reason=form.cleaned_data["reason"],
            until=form.cleaned_data["until"],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{sanction.get_kind_display()} recorded.")
    return redirect(url)


@staff_required
@require_POST
def staff_sanction_lift_view(request, pk: int):
    sanction = get_object_or_404(sanctions_visible_to(request.user), pk=pk)
    form = LiftForm(request.POST)
    url = reverse("leaks:staff_organization_leaks", kwargs={"slug": sanction.organization.slug})
    if not form.is_valid():
        messages.error(request, "Give a reason.")
        return redirect(url)
    service_run(
        request,
        lambda: sanction_lift(
            sanction=sanction, actor=request.user, reason=form.cleaned_data["reason"]
        ),
        success="Suspension lifted.",
    )
    return redirect(url)


@staff_required
def staff_trace_view(request, pk: int):
    case = get_object_or_404(vulnerabilities_visible_to(request.user), pk=pk)
    form = TraceForm(request.POST or None)
    result = leak = confirm_form = None
    if request.method == "POST" and form.is_valid():
        result = leak_trace(vulnerability=case, text=form.cleaned_data["text"])
        if form.cleaned_data["leak"]:
            # Only a report of this very case: a trace never confirms another case's leak.
            leak = (
                leak_reports_visible_to(request.user)
                .filter(pk=form.cleaned_data["leak"], vulnerability=case)
                .first()
            )
        identified = result.identified.delivery if result.identified else None
        # Offered only for the report's own organisation's copy: a copy of another one is
        # a leak of that organisation, for a report of its own.
        if (
            leak is not None
            and leak.is_open
            and identified is not None
            and identified.organization_id == leak.organization_id
        ):
            confirm_form = DecisionForm(initial={"reference_code": identified.reference_code})
    return render(
        request,
        "leaks/trace.html",
        {
            "case": case,
            "form": form,
            "result": result,
            "rows": (result.rows[:25] if result else []),
            "leak": leak,
            "confirm_form": confirm_form,
        },
    )


@staff_required
def staff_notice_tracing_view(request, pk: int):
    notice = get_object_or_404(notices_visible_to(request.user), pk=pk)
    return render(
        request,
        "leaks/notice_tracing.html",
        {"notice": notice, "capacity": notice_trace_capacity(notice=notice)},
    )
