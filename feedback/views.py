"""The feedback pages.

Members (/notices/feedback/, MFA required): a need-to-know person of an organisation
sent a notice about a case gives its status, reports patch tests and writes to the team,
for that organisation only. The organisation travels as an id in the query or the POST
body and is looked up among the person's own told organisations, so another
organisation's case, rows or thread is a plain 404. The case shows by its public id,
never its title.

The security team (/staff/cases/<pk>/feedback/): every told organisation's status in one
matrix, and each organisation's tests and thread with a reply form.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.views import mfa_required, staff_required
from core.views import service_error_report as report
from embargo.models import Vulnerability
from embargo.selectors import vulnerabilities_visible_to
from feedback.forms import MessageForm, PatchTestForm, StatusForm
from feedback.models import OrganizationStatus
from feedback.selectors import (
    MemberFeedback,
    feedback_cases_page,
    feedback_matrix,
    member_feedback_get,
    organization_feedback_for_staff,
    organization_reminder_of,
)
from feedback.services import organization_status_set, patch_test_add, thread_message_add


def _organization_param(request) -> int | None:
    source = request.POST if request.method == "POST" else request.GET
    value = source.get("organization", "")
    if value == "":
        return None
    if not value.isdigit() or len(value) > 12:
        raise Http404("No such organisation.")
    return int(value)


# ---------------------------------------------------------------- members


def _member_feedback_or_404(request, pk: int) -> MemberFeedback:
    item = member_feedback_get(
        user=request.user, vulnerability_id=pk, organization_id=_organization_param(request)
    )
    if item is None:
        raise Http404("No such case.")
    return item


def _member_case_url(item: MemberFeedback) -> str:
    url = reverse("feedback:member_case", kwargs={"pk": item.case.pk})
    if len(item.organizations) > 1:
        url += f"?organization={item.organization.pk}"
    return url


def _render_member_case(request, item: MemberFeedback, *, status=200, forms=None):
    forms = forms or {}
    context = {
        "item": item,
        "status_form": forms.get("status") or StatusForm.for_status(item.status),
        "test_form": forms.get("test") or PatchTestForm(),
        "message_form": forms.get("message") or MessageForm(),
    }
    return render(request, "feedback/member_case.html", context, status=status)


@mfa_required
def member_list_view(request):
    page = feedback_cases_page(user=request.user, page=request.GET.get("page"))
    return render(request, "feedback/member_list.html", {"page": page})


@mfa_required
def member_case_view(request, pk: int):
    return _render_member_case(request, _member_feedback_or_404(request, pk))


def _member_post(request, pk: int, *, key: str, form_class, call, success: str):
    """A member form: the organisation's own item, the form, one service, a redirect; on
    an error the page again with the form's messages and nothing changed."""
    item = _member_feedback_or_404(request, pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            call(item, form.cleaned_data)
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, success)
            return redirect(_member_case_url(item))
    messages.error(request, "Nothing was saved: see the form below.")
    return _render_member_case(request, item, status=400, forms={key: form})


@mfa_required
@require_POST
def member_status_view(request, pk: int):
    def call(item, data):
        organization_status_set(
            vulnerability=item.case, organization=item.organization, user=request.user, **data
        )

    return _member_post(
        request,
        pk,
        key="status",
        form_class=StatusForm,
        call=call,
        success="Your organisation's status is saved; the security team is told.",
    )


@mfa_required
@require_POST
def member_patch_test_view(request, pk: int):
    def call(item, data):
        patch_test_add(
            vulnerability=item.case, organization=item.organization, user=request.user, **data
        )

    return _member_post(
        request,
        pk,
        key="test",
        form_class=PatchTestForm,
        call=call,
        success="Your patch test is recorded; the security team is told.",
    )


@mfa_required
@require_POST
def member_message_view(request, pk: int):
    def call(item, data):
        thread_message_add(
            vulnerability=item.case,
            organization=item.organization,
            author=request.user,
            body=data["body"],
            from_team=False,
        )

    return _member_post(
        request,
        pk,
        key="message",
        form_class=MessageForm,
        call=call,
        success="Your message is sent to the security team.",
    )


# ---------------------------------------------------------------- the security team


def _case_or_404(request, pk: int) -> Vulnerability:
    return get_object_or_404(vulnerabilities_visible_to(request.user), pk=pk)


@staff_required
def staff_matrix_view(request, pk: int):
    case = _case_or_404(request, pk)
    matrix = feedback_matrix(vulnerability=case, page=request.GET.get("page"))
    labels = dict(OrganizationStatus.Status.choices)
    counts = [(labels[value], matrix.counts[value]) for value in labels]
    return render(
        request,
        "feedback/staff_matrix.html",
        {"case": case, "matrix": matrix, "counts": counts, "unanswered": matrix.counts["none"]},
    )


def _staff_item_or_404(request, pk: int, organization_pk: int) -> MemberFeedback:
    case = _case_or_404(request, pk)
    item = organization_feedback_for_staff(vulnerability=case, organization_id=organization_pk)
    if item is None:
        raise Http404("This organisation was not told about the case.")
    return item


def _render_staff_organization(request, item: MemberFeedback, *, status=200, form=None):
    context = {
        "item": item,
        "case": item.case,
        "reminder": organization_reminder_of(
            vulnerability=item.case, organization_id=item.organization.pk
        ),
        "message_form": form or MessageForm(),
    }
    return render(request, "feedback/staff_organization.html", context, status=status)


@staff_required
def staff_organization_view(request, pk: int, organization_pk: int):
    return _render_staff_organization(request, _staff_item_or_404(request, pk, organization_pk))


@staff_required
@require_POST
def staff_reply_view(request, pk: int, organization_pk: int):
    item = _staff_item_or_404(request, pk, organization_pk)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            thread_message_add(
                vulnerability=item.case,
                organization=item.organization,
                author=request.user,
                body=form.cleaned_data["body"],
                from_team=True,
            )
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, "The team's message is posted; the organisation is told.")
            return redirect(
                "feedback:staff_organization", pk=item.case.pk, organization_pk=item.organization.pk
            )
    messages.error(request, "The message was not posted.")
    return _render_staff_organization(request, item, status=400, form=form)
