"""Blocks about criteria 6 and 7 that the application pages include without their views
having to load anything: `{% load trust %}{% vouch_status application %}`."""

from __future__ import annotations

from django import template

from distributors.forms.trust import VouchRequestForm
from distributors.models import Application, PolicyAcceptance, Vouch
from distributors.selectors import policy_current, vouches_for_application

register = template.Library()


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
    return {
        "application": application,
        "vouches": vouches,
        "waiting": [v for v in vouches if v.state == Vouch.State.REQUESTED],
        "confirmed": [v for v in vouches if v.state == Vouch.State.CONFIRMED],
        "form": VouchRequestForm(),
        "can_change": application.is_open,
        "csrf_token": context.get("csrf_token"),
    }


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
