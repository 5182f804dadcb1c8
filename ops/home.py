"""What each person lands on at "/": the panels of their roles, composed here because
they read from every layer (applications and teams, notices, leaks, reports) and only
the top layer may import them all. Each panel comes from a selector of the app that
owns the data, scoped to the person asking."""

from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from distributors.eligibility import Reason, eligibility_of_person, team_summary
from distributors.models import Application, Organization
from distributors.selectors import (
    applications_in_progress_for,
    applications_visible_to,
    applications_waiting,
    organizations_run_by,
    vouch_requests_to_organizations_of,
)
from embargo.selectors import (
    HOME_ROWS,
    notices_of_person,
    staff_embargo_summary,
    team_acknowledgements_outstanding,
)
from intake.selectors import reports_waiting
from leaks.selectors import leaks_open_summary, retrospectives_due_for

# The person's own checklist: each step is done while its reason is absent. The labels
# of the reasons say what blocks it; this only names the step.
CHECKLIST = (
    ("Embargo policy accepted", (Reason.POLICY_NOT_ACCEPTED,)),
    ("Two-factor authentication set up", (Reason.NO_MFA,)),
    ("Verified PGP key", (Reason.NO_VERIFIED_KEY, Reason.KEY_REVOKED)),
    ("Marked as need-to-know by an admin", (Reason.NOT_NEED_TO_KNOW,)),
)


def _checklist(eligibility) -> dict:
    steps = [
        {"label": label, "done": not any(reason in eligibility.reasons for reason in reasons)}
        for label, reasons in CHECKLIST
    ]
    return {"eligibility": eligibility, "steps": steps}


def member_panels(user) -> dict:
    """An applicant's, a member admin's and a need-to-know person's panels (each empty
    when the role does not apply)."""
    run = list(organizations_run_by(user))
    return {
        "progress": applications_in_progress_for(user),
        "organizations_run": run,
        "team": team_summary(organizations=run, disclosure_at=timezone.now(), limit=HOME_ROWS)
        if run
        else None,
        "vouch_requests": list(vouch_requests_to_organizations_of(user)[:HOME_ROWS]) if run else [],
        "retrospectives": list(retrospectives_due_for(user)) if run else [],
        "team_acknowledgements": team_acknowledgements_outstanding(user=user) if run else [],
        # An applicant's people receive nothing yet: their page is the application's.
        "checklists": [
            _checklist(row)
            for row in eligibility_of_person(user=user, disclosure_at=timezone.now())
            if row.member.organization.status != Organization.Status.APPLICANT
        ],
        "notices": notices_of_person(user=user),
        "past_applications": list(
            applications_visible_to(user).exclude(state__in=Application.OPEN_STATES)[:HOME_ROWS]
        ),
    }


def staff_panels(user) -> dict:
    return {
        "reports": reports_waiting(user=user),
        "applications": applications_waiting(user=user),
        "embargo": staff_embargo_summary(user=user, now=timezone.now()),
        "leaks": leaks_open_summary(user=user),
    }


def home_view(request):
    user = request.user
    context: dict = {}
    if user.is_authenticated:
        context = staff_panels(user) if user.is_staff else member_panels(user)
    return render(request, "ops/home.html", context)
