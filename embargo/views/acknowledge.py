"""What a recipient sees of their notices: reference codes and dates, never a subject,
body or case title. The notice itself only ever exists in their encrypted email.

Both pages need sign-in with a second factor. A code is looked up among the signed-in
person's own copies only, so another person's code (or a made-up one) is a plain 404:
the page tells nobody whether a code exists."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render

from core.lists import Choice, ListFilter, listing_build
from core.mfa import has_second_factor
from embargo.forms import AcknowledgeForm
from embargo.models import Delivery, Vulnerability
from embargo.selectors import deliveries_of_user
from embargo.services import delivery_acknowledge

REFERENCE_CODE_MAX_LENGTH = 16
ACKNOWLEDGED_FILTER = ListFilter(
    name="acknowledged",
    label="Acknowledged",
    choices=(
        Choice(value="no", label="Not yet", condition=Q(acknowledged_at__isnull=True)),
        Choice(value="yes", label="Acknowledged", condition=Q(acknowledged_at__isnull=False)),
    ),
)


def mfa_required(view):
    """Signed in, and with a second factor set up; otherwise off to set one up first."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not has_second_factor(request.user):
            messages.warning(
                request, "Set up two-factor authentication before opening your notices."
            )
            return redirect("mfa_activate_totp")
        return view(request, *args, **kwargs)

    return wrapper


def _own_delivery_or_404(request, reference_code: str) -> Delivery:
    code = (reference_code or "").strip().upper()
    if not code or len(code) > REFERENCE_CODE_MAX_LENGTH:
        raise Http404("No such notice.")
    delivery = (
        deliveries_of_user(request.user)
        .select_related("notice__vulnerability")
        .filter(reference_code=code)
        .first()
    )
    if delivery is None:
        raise Http404("No such notice.")
    return delivery


def _facts(delivery: Delivery) -> dict:
    """Only what is safe to show outside the encrypted mail."""
    case = delivery.notice.vulnerability
    disclosed = case.state == Vulnerability.State.DISCLOSED
    return {
        "delivery": delivery,
        "notice_number": delivery.notice_id,
        "disclosure_at": case.disclosure_at,
        "advisory_url": case.get_advisory_url() if disclosed else None,
        # Where the fix stands (a state, never a version), for the people actually told.
        "fix_state": case.get_fix_state_display()
        if delivery.state == Delivery.State.SENT
        else None,
        "can_acknowledge": delivery.state == Delivery.State.SENT
        and delivery.acknowledged_at is None,
    }


@mfa_required
def my_notices_view(request):
    sent = deliveries_of_user(request.user).filter(state=Delivery.State.SENT)
    listing = listing_build(
        request,
        sent.select_related("notice__vulnerability").order_by("-sent_at", "-pk"),
        search_fields=("reference_code",),
        search_label="Reference code",
        filters=(ACKNOWLEDGED_FILTER,),
    )
    rows = [_facts(delivery) for delivery in listing]
    waiting = sent.filter(acknowledged_at__isnull=True).count()
    return render(
        request,
        "embargo/my_notices.html",
        {"rows": rows, "waiting": waiting, "listing": listing},
    )


@mfa_required
def acknowledge_view(request, reference_code: str):
    delivery = _own_delivery_or_404(request, reference_code)
    if request.method == "POST":
        form = AcknowledgeForm(request.POST)
        if form.is_valid():
            try:
                delivery_acknowledge(reference_code=delivery.reference_code, user=request.user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, "Thank you: your acknowledgement is recorded.")
        return redirect("embargo:acknowledge", reference_code=delivery.reference_code)
    return render(request, "embargo/acknowledge.html", _facts(delivery))
