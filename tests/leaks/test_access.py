"""A person's leak access is worked out once per request, and each selector still scopes
to the user it is given when called alone or handed someone else's access."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse
from django.utils import timezone

from devsupport.list_rows import leaks_add
from distributors import eligibility
from distributors.models import TeamMember
from leaks import selectors
from leaks.models import Sanction
from leaks.selectors import (
    leak_access_of,
    leak_reports_visible_to,
    organizations_reporting_for,
    retrospectives_due_for,
    sanctions_visible_to,
)
from tests.factories import (
    MemberOrganizationFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db
NOTHING = {"reports": set(), "sanctions": set(), "retrospectives": set(), "organizations": set()}


def _warning(organization, staff) -> Sanction:
    return Sanction.objects.create(
        organization=organization,
        kind=Sanction.Kind.WARNING,
        reason="Be careful.",
        created_by=staff,
        created_at=timezone.now(),
        retrospective_required=True,
    )


@pytest.fixture
def two(staff_reviewer):
    """Two organisations, each with an eligible admin, a report and a warning."""
    case = VulnerabilityFactory(created_by=staff_reviewer)
    sides = []
    for name in ("Acme Access", "Other Access"):
        organization = MemberOrganizationFactory(name=name)
        admin = make_eligible(TeamMemberFactory(organization=organization, is_admin=True)).user
        (report,) = leaks_add(organization=organization, case=case, n=1, reported_by=admin)
        sides.append(
            SimpleNamespace(
                org=organization,
                user=admin,
                report=report,
                warning=_warning(organization, staff_reviewer),
            )
        )
    return sides


def _scoped(user, access) -> dict:
    return {
        "reports": set(leak_reports_visible_to(user, access=access)),
        "sanctions": set(sanctions_visible_to(user, access=access)),
        "retrospectives": set(retrospectives_due_for(user, access=access)),
        "organizations": set(organizations_reporting_for(user, access=access)),
    }


def _own(side) -> dict:
    return {
        "reports": {side.report},
        "sanctions": {side.warning},
        "retrospectives": {side.warning},
        "organizations": {side.org},
    }


def test_the_selectors_called_alone_scope_to_the_user(two):
    acme, other = two
    assert _scoped(acme.user, None) == _own(acme)
    assert _scoped(other.user, None) == _own(other)


def test_the_selectors_ignore_an_access_worked_out_for_someone_else(two):
    acme, other = two
    assert _scoped(acme.user, leak_access_of(other.user)) == _own(acme)


def test_the_selectors_ignore_an_anonymous_access_for_a_signed_in_user(two):
    acme, _ = two
    assert _scoped(acme.user, leak_access_of(AnonymousUser())) == _own(acme)


def test_an_anonymous_user_sees_nothing_whatever_access_is_passed(two):
    acme, _ = two
    assert _scoped(AnonymousUser(), leak_access_of(acme.user)) == NOTHING


def test_the_selectors_given_the_users_own_access_answer_as_alone(two):
    acme, _ = two
    assert _scoped(acme.user, leak_access_of(acme.user)) == _own(acme)


def test_a_closed_access_shows_nothing_even_when_passed_in(two):
    acme, _ = two
    TeamMember.objects.filter(user=acme.user).update(is_need_to_know=False)
    access = leak_access_of(acme.user)
    assert access.closed and access.allowed_ids == []
    assert _scoped(acme.user, access) == NOTHING


def test_the_member_leak_list_reads_the_persons_eligibility_once(two, mfa_client, monkeypatch):
    acme, _ = two
    calls = []
    real = eligibility.eligibility_of_person

    def counted(**kwargs):
        calls.append(kwargs["user"].pk)
        return real(**kwargs)

    monkeypatch.setattr(selectors, "eligibility_of_person", counted)
    response = mfa_client(acme.user).get(reverse("leaks:leak_list"))
    assert response.status_code == 200
    assert calls == [acme.user.pk]
