"""Blocks about criteria 6 and 7 that the application pages include without their views
having to load anything: `{% load trust %}{% vouch_status application %}`."""

from __future__ import annotations

from django import template
from django.core.paginator import Paginator

from distributors.forms.trust import VouchRequestForm
from distributors.models import Application, PolicyAcceptance, Vouch
from distributors.selectors import (
    organizations_willing_to_vouch,
    policy_current,
    vouches_for_application,
)

register = template.Library()

WILLING_PAGE = 20


def _policy_facts(application: Application) -> dict:
    current = policy_current()
    acceptance = None
    if current is not None:
        acceptance = PolicyAcceptance.objects.filter(
            user_id=application.created_by_id, version=current
        ).first()
    return {"policy": current, "acceptance": acceptance, "applicant": application.created_by}


@register.inclusion_tag("distributors/_vouch_status.html", takes_context=True)
def vouch_status(context, application: Application) -> dict:
    """The applicant's view: who was asked, who answered, and the form to ask someone."""
    vouches = vouches_for_application(application=application)
    can_change = application.is_open
    return {
        "application": application,
        "vouches": vouches,
        "waiting": [v for v in vouches if v.state == Vouch.State.REQUESTED],
        "confirmed": [v for v in vouches if v.state == Vouch.State.CONFIRMED],
        # A contact already asked is shown as asked in the list of those willing, not
        # offered again (a second request to the same person is refused).
        "asked": {
            v.voucher.email.lower()
            for v in vouches
            if v.state in (Vouch.State.REQUESTED, Vouch.State.CONFIRMED)
        },
        # A refused request comes back with what was typed (the view puts it in context).
        "form": context.get("vouch_form") or VouchRequestForm(),
        "can_change": can_change,
        "willing": _willing_page(context.get("request"), application) if can_change else None,
        "csrf_token": context.get("csrf_token"),
    }


def _willing_page(request, application: Application):
    """One page of the organisations willing to vouch; ?vouchers=N picks the page."""
    number = request.GET.get("vouchers", "1") if request is not None else "1"
    paginator = Paginator(organizations_willing_to_vouch(application=application), WILLING_PAGE)
    return paginator.get_page(number)


@register.inclusion_tag("distributors/_vouches.html")
def vouch_review(application: Application) -> dict:
    """The reviewer's view: who vouched, from which organisation, when, and what they said."""
    vouches = vouches_for_application(application=application)
    return {
        "application": application,
        "vouches": vouches,
        "eligible": any(v.state == Vouch.State.CONFIRMED and v.in_good_standing for v in vouches),
    }


@register.inclusion_tag("distributors/_policy_status.html", takes_context=True)
def policy_status(context, application: Application, accept_next: str = "") -> dict:
    """Whether the applicant accepted the current policy; the applicant gets the link to it."""
    request = context.get("request")
    facts = _policy_facts(application)
    facts.update(
        {
            "application": application,
            "is_applicant": request is not None and request.user.pk == application.created_by_id,
            "accept_next": accept_next,
            "viewer_is_staff": request is not None and request.user.is_staff,
        }
    )
    return facts
