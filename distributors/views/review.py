"""The security team's side: the queue, one application, verdicts, questions, the decision.

Every page here sits under /staff/, where StaffMfaRequiredMiddleware asks for a second
factor first."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.lists import listing_build
from core.views import service_error_report, staff_required
from distributors.forms.application import (
    AskForm,
    CriterionReviewForm,
    CriterionVerdictForm,
    DecideForm,
    ReviewQueueFilterForm,
)
from distributors.models import Application
from distributors.selectors import (
    application_approval_blockers,
    application_criteria_rows,
    application_history,
    application_with_details,
    applications_for_review,
    applications_visible_to,
    criteria_active,
)
from distributors.services import (
    application_ask,
    application_decide,
    criteria_review_record,
    criterion_review_record,
)

# What each audit action means, for the history table; unknown actions show as recorded.
ACTION_WORDS = {
    "application.created": "started the application",
    "application.answer_saved": "saved the answer to criterion {criterion}",
    "application.submitted": "submitted the application",
    "application.criterion_reviewed": "recorded “{verdict}” for criterion {criterion}",
    "application.question_asked": "asked a question",
    "application.needs_info": "asked the applicant for more information",
    "application.review_started": "started the review",
    "application.question_answered": "answered a question",
    "application.info_provided": "answered every open question; back in review",
    "application.approved": "approved the application",
    "application.rejected": "rejected the application",
    "application.withdrawn": "withdrew the application",
}
VERDICT_WORDS = {"met": "met", "not_met": "not met", "needs_info": "needs information"}


def _reviewable(user) -> QuerySet[Application]:
    # Decided applications stay readable for their history; drafts are the applicant's own.
    return applications_visible_to(user).exclude(state=Application.State.DRAFT)


def _state_label(value) -> str | None:
    if value in Application.State.values:
        return Application.State(value).label
    return value


def history_rows(*, application: Application) -> list[dict]:
    rows = []
    for event in application_history(application=application):
        data = event.data or {}
        words = ACTION_WORDS.get(event.action, event.action)
        if event.action == "application.question_asked" and data.get("criterion"):
            words = "asked a question about criterion {criterion}"
        words = words.format(
            criterion=data.get("criterion", "?"),
            verdict=VERDICT_WORDS.get(data.get("verdict"), data.get("verdict", "?")),
        )
        rows.append(
            {
                "actor": event.actor,
                "words": words,
                "at": event.created_at,
                "from": _state_label(data.get("from")),
                "to": _state_label(data.get("to")),
            }
        )
    return rows


def _render_detail(
    request, pk: int, *, status: int = 200, bound=None, ask_form=None, decide_form=None
):
    application = application_with_details(queryset=_reviewable(request.user), pk=pk)
    bound = bound or {}
    rows = application_criteria_rows(application=application)
    for row in rows:
        number = row["criterion"].number
        review = row["review"]
        initial = {"verdict": review.verdict, "note": review.note} if review else {}
        row["form"] = bound.get(number) or CriterionVerdictForm(
            prefix=f"c{number}", initial=initial
        )
    can_review = application.state in Application.REVIEW_STATES
    context = {
        "application": application,
        "rows": rows,
        "reviewed_count": sum(1 for row in rows if row["review"]),
        "met_count": sum(1 for row in rows if row["review"] and row["review"].verdict == "met"),
        # Beside the criterion and again at the top, linked to it, so nobody scrolls to find it.
        "review_errors": [row for row in rows if row["form"].errors],
        "blockers": application_approval_blockers(application=application),
        "questions": list(application.questions.all()),
        "can_review": can_review,
        "ask_form": ask_form or AskForm(),
        "decide_form": decide_form or DecideForm(),
        "history": history_rows(application=application),
    }
    return render(request, "distributors/review_detail.html", context, status=status)


def _application_or_404(request, pk: int) -> Application:
    return get_object_or_404(_reviewable(request.user), pk=pk)


@staff_required
def review_queue_view(request):
    form = ReviewQueueFilterForm(request.GET or None)
    state, older_than_days, keep = None, None, ()
    if form.is_bound:
        if form.is_valid():
            state = form.cleaned_data["state"] or None
            older_than_days = form.cleaned_data["older_than_days"]
            keep = ("state", "older_than_days")
        else:
            messages.error(request, "The filter was not applied; see the message beside it.")
    applications = applications_for_review(
        user=request.user, state=state, older_than_days=older_than_days
    ).annotate(
        open_questions=Count("questions", filter=Q(questions__replied_at__isnull=True)),
    )
    listing = listing_build(request, applications, search_fields=("organization__name",), keep=keep)
    now = timezone.now()
    rows = [
        {
            "application": application,
            "waiting_days": (now - application.submitted_at).days
            if application.submitted_at
            else None,
        }
        for application in listing
    ]
    return render(
        request,
        "distributors/review_queue.html",
        {"form": form, "rows": rows, "now": now, "listing": listing},
    )


@staff_required
def review_detail_view(request, pk: int):
    _application_or_404(request, pk)
    return _render_detail(request, pk)


def _review_errors_attach(request, forms_by_number: dict, error: ValidationError) -> None:
    """The service's errors, keyed "c<number>-<field>", beside the field they are about."""
    if not hasattr(error, "error_dict"):
        messages.error(request, " ".join(error.messages))
        return
    for key, words in error.message_dict.items():
        number, _, field = key.removeprefix("c").partition("-")
        form = forms_by_number.get(int(number)) if number.isdigit() else None
        if form is None or field not in form.fields:
            messages.error(request, " ".join(words))
        else:
            form.add_error(field, words)


@staff_required
@require_POST
def criteria_review_view(request, pk: int):
    """Every verdict of the one-page review in one POST: all are recorded, or none."""
    application = _application_or_404(request, pk)
    forms_by_number = {
        criterion.number: CriterionVerdictForm(request.POST, prefix=f"c{criterion.number}")
        for criterion in criteria_active()
    }
    valid = [form.is_valid() for form in forms_by_number.values()]
    if all(valid):
        verdicts = {
            number: (form.cleaned_data["verdict"], form.cleaned_data["note"])
            for number, form in forms_by_number.items()
        }
        try:
            recorded = criteria_review_record(
                application=application, verdicts=verdicts, actor=request.user
            )
        except ValidationError as error:
            _review_errors_attach(request, forms_by_number, error)
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect(application.get_review_url())
        else:
            if recorded:
                numbers = ", ".join(str(review.criterion.number) for review in recorded)
                messages.success(request, f"Verdicts recorded on criteria {numbers}.")
            else:
                messages.info(request, "Nothing changed: no new verdict was given.")
            return redirect(f"{application.get_review_url()}#criteria-title")
    messages.error(request, "No verdict was recorded; the errors are listed below.")
    return _render_detail(request, pk, status=400, bound=forms_by_number)


@staff_required
@require_POST
def criterion_review_view(request, pk: int, number: int):
    application = _application_or_404(request, pk)
    criterion = get_object_or_404(criteria_active(), number=number)
    form = CriterionReviewForm(request.POST, prefix=f"c{number}")
    if form.is_valid():
        try:
            criterion_review_record(
                application=application,
                criterion=criterion,
                verdict=form.cleaned_data["verdict"],
                note=form.cleaned_data["note"],
                actor=request.user,
            )
        except ValidationError as error:
            service_error_report(request, form, error)
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect(application.get_review_url())
        else:
            messages.success(request, f"Verdict on criterion {number} recorded.")
            return redirect(f"{application.get_review_url()}#criterion-{number}")
    if form.errors:
        messages.error(request, f"The verdict on criterion {number} was not recorded.")
    return _render_detail(request, pk, status=400, bound={number: form})


@staff_required
@require_POST
def application_ask_view(request, pk: int):
    application = _application_or_404(request, pk)
    form = AskForm(request.POST)
    if form.is_valid():
        try:
            application_ask(
                application=application, text=form.cleaned_data["text"], actor=request.user
            )
        except ValidationError as error:
            service_error_report(request, form, error)
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect(application.get_review_url())
        else:
            messages.success(request, "The question is sent; the applicant is told by email.")
            return redirect(application.get_review_url())
    if form.errors:
        messages.error(request, "The question was not sent.")
    return _render_detail(request, pk, status=400, ask_form=form)


@staff_required
@require_POST
def application_decide_view(request, pk: int):
    application = _application_or_404(request, pk)
    form = DecideForm(request.POST)
    if form.is_valid():
        try:
            application_decide(
                application=application,
                approve=form.cleaned_data["decision"] == DecideForm.APPROVE,
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except ValidationError as error:
            service_error_report(request, form, error)
        except PermissionDenied as error:
            messages.error(request, str(error))
            return redirect(application.get_review_url())
        else:
            application.refresh_from_db(fields=["state"])
            messages.success(request, f"Application {application.get_state_display().lower()}.")
            return redirect(application.get_review_url())
    if form.errors:
        messages.error(request, "No decision was recorded.")
    return _render_detail(request, pk, status=400, decide_form=form)
