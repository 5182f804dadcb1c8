"""The applicant's side: create, answer, submit, reply, withdraw, start again."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.forms import form_errors_from
from distributors.forms.application import (
    CriterionAnswerForm,
    OrganizationApplyForm,
    QuestionReplyForm,
    WithdrawForm,
)
from distributors.models import Application, Criterion
from distributors.selectors import (
    application_criteria_rows,
    application_with_details,
    applications_visible_to,
    criteria_active,
    organizations_administered_by,
)
from distributors.services import (
    application_start,
    application_submit,
    application_withdraw,
    criterion_answer_save,
    organization_apply,
    question_reply,
)


def _own_applications(user) -> QuerySet[Application]:
    """Applications of the organisations this person administers. Staff read applications
    on the review pages; here they only see their own organisation's, like anyone else."""
    return applications_visible_to(user).filter(
        organization__in=organizations_administered_by(user)
    )


def _own_application(request, pk: int) -> Application:
    return get_object_or_404(_own_applications(request.user), pk=pk)


def application_detail_context(
    request, application: Application, *, reply_forms=None, submit_errors=None
) -> dict:
    reply_forms = reply_forms or {}
    questions = [
        {
            "question": question,
            "form": reply_forms.get(question.pk, QuestionReplyForm(prefix=f"q{question.pk}")),
        }
        for question in application.questions.all()
    ]
    has_open = application.organization.applications.filter(
        state__in=Application.OPEN_STATES
    ).exists()
    rows = application_criteria_rows(application=application)
    return {
        "application": application,
        "rows": rows,
        "answered_count": sum(1 for row in rows if row["done"]),
        "total": len(rows),
        "missing": [row["criterion"] for row in rows if not row["done"]],
        "questions": questions,
        "can_reply": application.state == Application.State.NEEDS_INFO,
        "submit_errors": submit_errors or [],
        "can_start_again": (
            application.state in Application.FINAL_STATES
            and application.organization.status == application.organization.Status.APPLICANT
            and not has_open
        ),
    }


def criterion_page_context(application: Application, criterion: Criterion, form) -> dict:
    """One criterion's page: how far the application is, and the criteria either side of
    it, so the applicant can walk through all of them without the overview."""
    rows = application_criteria_rows(application=application)
    numbers = [row["criterion"].number for row in rows]
    index = numbers.index(criterion.number) if criterion.number in numbers else -1
    return {
        "application": application,
        "criterion": criterion,
        "form": form,
        "answered_count": sum(1 for row in rows if row["done"]),
        "total": len(rows),
        "previous_number": numbers[index - 1] if index > 0 else None,
        "next_number": numbers[index + 1] if 0 <= index < len(numbers) - 1 else None,
    }


def _render_detail(request, application: Application, *, status: int = 200, **kwargs):
    application = application_with_details(
        queryset=_own_applications(request.user), pk=application.pk
    )
    return render(
        request,
        "distributors/application_detail.html",
        application_detail_context(request, application, **kwargs),
        status=status,
    )


@login_required
def organization_apply_view(request):
    form = OrganizationApplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            application = organization_apply(
                actor=request.user,
                name=form.cleaned_data["name"],
                website=form.cleaned_data["website"],
            )
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(
                request, "Your organisation is registered. Answer each criterion, then submit."
            )
            return redirect(application)
    existing = _own_applications(request.user).first()
    return render(
        request, "distributors/organization_apply.html", {"form": form, "existing": existing}
    )


@login_required
def application_detail_view(request, pk: int):
    try:
        application = application_with_details(queryset=_own_applications(request.user), pk=pk)
    except Application.DoesNotExist:
        # Staff read every application on the review page, which asks for their second factor.
        if request.user.is_staff and applications_visible_to(request.user).filter(pk=pk).exists():
            return redirect("distributors:review_detail", pk=pk)
        raise Http404("No such application.") from None
    return render(
        request,
        "distributors/application_detail.html",
        application_detail_context(request, application),
    )


@login_required
def criterion_answer_view(request, pk: int, number: int):
    application = _own_application(request, pk)
    criterion = get_object_or_404(criteria_active(), number=number)
    answer = application.answers.filter(criterion=criterion).first()
    if not application.is_editable_by_applicant:
        messages.error(request, "This application can no longer be changed.")
        return redirect(application)
    initial = {}
    if answer is not None:
        initial = {"evidence": answer.evidence, "links": "\n".join(answer.links)}
    if criterion.kind != Criterion.Kind.EVIDENCE:
        # Criteria 6 and 7 are met by the policy acceptance and a vouch themselves, which
        # this page shows with their own forms; a written answer would prove nothing.
        if request.method == "POST":
            messages.error(request, "This criterion is met by the steps shown on its page.")
            return redirect(request.path)
        return render(
            request,
            "distributors/criterion_answer.html",
            criterion_page_context(application, criterion, None),
        )
    form = CriterionAnswerForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            criterion_answer_save(
                application=application,
                criterion=criterion,
                evidence=form.cleaned_data["evidence"],
                links=form.cleaned_data["links"],
                actor=request.user,
            )
        except ValidationError as error:
            form_errors_from(form, error)
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect(application)
        else:
            messages.success(request, f"Your answer to criterion {criterion.number} is saved.")
            if request.POST.get("then") == "next":
                following = criteria_active().filter(number__gt=criterion.number).first()
                if following is not None:
                    return redirect(
                        "distributors:criterion_answer", pk=application.pk, number=following.number
                    )
            return redirect(application)
    return render(
        request,
        "distributors/criterion_answer.html",
        criterion_page_context(application, criterion, form),
    )


@login_required
@require_POST
def application_submit_view(request, pk: int):
    application = _own_application(request, pk)
    try:
        application_submit(application=application, actor=request.user)
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, "The application was not submitted.")
        errors = error.messages if isinstance(error, ValidationError) else [str(error)]
        return _render_detail(request, application, status=400, submit_errors=errors)
    messages.success(request, "Submitted. The security team will review your application.")
    return redirect(application)


@login_required
def application_withdraw_view(request, pk: int):
    application = _own_application(request, pk)
    if not application.is_open:
        messages.error(request, "Only an open application can be withdrawn.")
        return redirect(application)
    form = WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            application_withdraw(
                application=application, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            form_errors_from(form, error)
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect(application)
        else:
            messages.success(request, "Your application is withdrawn.")
            return redirect(application)
    return render(
        request,
        "distributors/application_withdraw.html",
        {"application": application, "form": form},
    )


@login_required
@require_POST
def question_reply_view(request, pk: int, question_pk: int):
    application = _own_application(request, pk)
    question = get_object_or_404(application.questions.all(), pk=question_pk)
    form = QuestionReplyForm(request.POST, prefix=f"q{question.pk}")
    if form.is_valid():
        try:
            question_reply(question=question, reply=form.cleaned_data["reply"], actor=request.user)
        except ValidationError as error:
            form_errors_from(form, error)
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect(application)
        else:
            messages.success(request, "Your reply is sent to the security team.")
            return redirect(application)
    messages.error(request, "The reply was not sent; see the message beside it.")
    return _render_detail(request, application, status=400, reply_forms={question.pk: form})


@login_required
@require_POST
def application_start_view(request, slug: str):
    organization = get_object_or_404(organizations_administered_by(request.user), slug=slug)
    try:
        application = application_start(actor=request.user, organization=organization)
    except (ValidationError, PermissionDenied) as error:
        text = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
        messages.error(request, text)
        return redirect("home")
    messages.success(request, "A new application is open. Answer each criterion, then submit.")
    return redirect(application)
