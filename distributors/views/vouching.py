"""Vouching: the applicant asks, the voucher answers, the security team sees the graph."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.forms import form_errors_from
from core.views import mfa_required, service_run, staff_required
from distributors.forms.trust import VouchAnswerForm, VouchGraphFilterForm, VouchRequestForm
from distributors.models import Application, Criterion, Vouch
from distributors.pictures import vouch_graph_edges, vouch_graph_svg
from distributors.selectors import (
    application_with_details,
    applications_administered_by,
    vouch_graph,
    vouches_addressed_to,
)
from distributors.services import vouch_confirm, vouch_decline, vouch_request, vouch_withdraw
from distributors.views.applications import application_detail_context, criterion_page_context

GRAPH_PAGE_SIZE = 100


def _vouch_criterion() -> Criterion | None:
    return (
        Criterion.objects.filter(is_active=True, kind=Criterion.Kind.VOUCH)
        .order_by("number")
        .first()
    )


def vouch_page_url(application: Application) -> str:
    """The applicant's page for the vouch criterion while they may edit the application;
    otherwise (in review) the application page, which shows the vouches too."""
    if not application.is_editable_by_applicant:
        return application.get_absolute_url()
    criterion = _vouch_criterion()
    if criterion is None:
        return application.get_absolute_url()
    return reverse(
        "distributors:criterion_answer",
        kwargs={"pk": application.pk, "number": criterion.number},
    )


@login_required
@require_POST
def vouch_request_view(request, pk: int):
    application = get_object_or_404(applications_administered_by(request.user), pk=pk)
    form = VouchRequestForm(request.POST)
    if form.is_valid():
        try:
            vouch_request(
                application=application,
                voucher_email=form.cleaned_data["voucher_email"],
                actor=request.user,
            )
        except PermissionDenied as error:
            messages.error(request, str(error) or "You cannot do this.")
            return redirect(vouch_page_url(application))
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(
                request, "We have asked them to vouch for you; they will get an email."
            )
            return redirect(vouch_page_url(application))
    messages.error(request, "Nobody was asked to vouch; see the message beside the address.")
    return _vouch_form_render(request, application, form)


def _vouch_form_render(request, application: Application, form: VouchRequestForm):
    """The page the request came from again, with the typed address and the error beside
    it, instead of a redirect that would clear the field."""
    criterion = _vouch_criterion()
    if application.is_editable_by_applicant and criterion is not None:
        context = criterion_page_context(application, criterion, None)
        template = "distributors/criterion_answer.html"
    else:
        details = application_with_details(
            queryset=applications_administered_by(request.user), pk=application.pk
        )
        context = application_detail_context(request, details)
        template = "distributors/application_detail.html"
    context["vouch_form"] = form
    return render(request, template, context, status=400)


@login_required
@require_POST
def vouch_withdraw_view(request, pk: int, vouch_pk: int):
    application = get_object_or_404(applications_administered_by(request.user), pk=pk)
    vouch = get_object_or_404(application.vouches.all(), pk=vouch_pk)
    service_run(
        request,
        lambda: vouch_withdraw(vouch=vouch, actor=request.user),
        success="The vouch request was withdrawn.",
        permission_denied=True,
    )
    return redirect(vouch_page_url(application))


@login_required
def vouch_list_view(request):
    vouches = vouches_addressed_to(request.user).order_by("-requested_at", "-pk")
    return render(request, "distributors/vouch_list.html", {"vouches": vouches})


# The voucher's answer lets an organisation in: like a team change, it needs the second
# factor, so a stolen password alone cannot vouch.
@mfa_required
def vouch_detail_view(request, pk: int):
    vouch = get_object_or_404(vouches_addressed_to(request.user), pk=pk)
    form = VouchAnswerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        service = vouch_confirm if form.cleaned_data["action"] == "confirm" else vouch_decline
        try:
            service(vouch=vouch, statement=form.cleaned_data["statement"], actor=request.user)
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            word = "confirmed" if service is vouch_confirm else "declined"
            messages.success(request, f"Thank you: you {word} this request.")
            return redirect("distributors:vouch_detail", pk=vouch.pk)
    can_answer = vouch.application.is_open and vouch.state in (
        Vouch.State.REQUESTED,
        Vouch.State.CONFIRMED,
    )
    if vouch.state == Vouch.State.CONFIRMED:
        # Taking a vouch back replaces the statement with what is typed here: it is the
        # reason now, and an empty box is fine.
        form.fields["statement"].label = "Why you take it back"
        form.fields["statement"].help_text = "Optional; only the security team reads it."
    return render(
        request,
        "distributors/vouch_detail.html",
        {"vouch": vouch, "form": form, "can_answer": can_answer},
    )


@staff_required
def vouch_graph_view(request):
    filters = VouchGraphFilterForm(request.GET or None)
    flagged_only = filters.is_valid() and filters.cleaned_data["flagged"]
    page = Paginator(vouch_graph(user=request.user, flagged_only=flagged_only), GRAPH_PAGE_SIZE)
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        raise Http404("No such page.") from None
    current = page.get_page(number)
    # The picture draws the rows the table shows: no query of its own.
    picture = vouch_graph_svg(vouch_graph_edges(current.object_list))
    return render(
        request,
        "distributors/staff_vouch_graph.html",
        {"page": current, "filters": filters, "flagged_only": flagged_only, "picture": picture},
    )
