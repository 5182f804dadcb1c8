"""A plain statement of a suspension or removal, for the people it affects; and, for
the security team, the personal bars and lifting one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from core.forms import form_errors_from
from core.views import staff_required
from distributors.forms.application import BarFilterForm, PersonBarLiftForm
from distributors.models import BlockedIdentity, Organization
from distributors.selectors import memberships_of
from distributors.services.bars import bars_for_staff, person_bar_lift

SANCTIONED = (Organization.Status.SUSPENDED, Organization.Status.REMOVED)


@login_required
def standing_view(request):
    memberships = [
        m for m in memberships_of(user=request.user) if m.organization.status in SANCTIONED
    ]
    return render(request, "distributors/standing.html", {"memberships": memberships})


# ---------------------------------------------------------------- staff: personal bars


@staff_required
def staff_bars_view(request):
    """Every bar (accounts, addresses, domains), in force or lifted, with filters."""
    form = BarFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    bars = bars_for_staff(
        user=request.user,
        kind=filters.get("kind", ""),
        state=filters.get("state", ""),
        query=filters.get("q", ""),
    )
    page = Paginator(bars, 100).get_page(request.GET.get("page"))
    return render(request, "distributors/staff_bars.html", {"form": form, "page": page})


@staff_required
def staff_bar_lift_view(request, pk: int):
    bar = get_object_or_404(bars_for_staff(user=request.user), pk=pk)
    form = PersonBarLiftForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            lifted = person_bar_lift(
                bar=bar, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as error:
            form_errors_from(form, error)
        else:
            messages.success(
                request,
                f"Lifted {len(lifted)} bar{'s' if len(lifted) != 1 else ''} for {bar.value}. "
                "The bars stay on record as lifted.",
            )
            return redirect("distributors:staff_bars")
    status = 400 if request.method == "POST" else 200
    related = []
    if bar.kind == BlockedIdentity.Kind.ACCOUNT and bar.user_id:
        related = list(
            bars_for_staff(user=request.user)
            .filter(user_id=bar.user_id, organization_id=bar.organization_id)
            .exclude(pk=bar.pk)
        )
    return render(
        request,
        "distributors/staff_bar_lift.html",
        {"bar": bar, "related": related, "form": form},
        status=status,
    )
