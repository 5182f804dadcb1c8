"""A plain statement of a suspension or removal, for the people it affects."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from ..models import Organization
from ..selectors import memberships_of

SANCTIONED = (Organization.Status.SUSPENDED, Organization.Status.REMOVED)


@login_required
def standing_view(request):
    memberships = [
        m for m in memberships_of(user=request.user) if m.organization.status in SANCTIONED
    ]
    return render(request, "distributors/standing.html", {"memberships": memberships})
