"""The demo data behind `make run`: created through the services, safe to run twice, and
refused on a production configuration. (Moved from tests/distributors when the command
moved to embargo; the embargo half's tests are in test_demo_embargo.py.)"""

import time
from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, validate_totp_code
from allauth.mfa.utils import decrypt
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from core.models import AuditEvent
from distributors.demo import (
    DEMO_PEOPLE,
    DEMO_TOTP_SECRET,
    DRAFT_ADMIN,
    REVIEWER,
)
from distributors.models import Application, Organization, TeamMember
from tests.embargo.demo_world import (  # noqa: F401 (fixtures)
    demo_files_fixture,
    demo_team_key_cached_fixture,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _demo_files(demo_files):
    """Team key, demo secret keys and mail under the test's own folder (conftest)."""
    return demo_files


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def snapshot() -> tuple:
    return (
        get_user_model().objects.count(),
        sorted(Organization.objects.values_list("name", "status")),
        sorted(Application.objects.values_list("organization__name", "state")),
        AuditEvent.objects.count(),
        Authenticator.objects.count(),
        TeamMember.objects.count(),
    )


def test_demo_creates_applicants_in_different_states_and_a_member():
    run("demo")

    states = dict(Application.objects.values_list("organization__name", "state"))
    assert states == {
        "Selkie BSD": Application.State.APPROVED,
        "Harbour Linux": Application.State.SUBMITTED,
        "Driftwood OS": Application.State.DRAFT,
    }
    assert Organization.objects.get(name="Selkie BSD").status == Organization.Status.MEMBER
    draft = Application.objects.get(organization__name="Driftwood OS")
    assert draft.answers.count() == 3
    assert draft.organization.people.get(is_admin=True).user.email == DRAFT_ADMIN.email


def test_demo_leaves_an_audit_trail_through_the_services():
    run("demo")

    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "organization.created",
        "application.submitted",
        "application.approved",
        "organization.became_member",
    } <= actions


def test_demo_people_can_sign_in_with_the_printed_passwords():
    output = run("demo")

    User = get_user_model()
    for person in DEMO_PEOPLE:
        user = User.objects.get(email=person.email)
        assert user.check_password(person.password)
        assert user.emailaddress_set.get(email=person.email).verified
        assert person.email in output and person.password in output
    assert User.objects.get(email=REVIEWER.email).is_staff
    assert len(REVIEWER.password) >= 20


def test_demo_gives_the_reviewer_the_printed_totp_secret():
    output = run("demo")

    authenticator = Authenticator.objects.get(
        user__email=REVIEWER.email, type=Authenticator.Type.TOTP
    )
    assert decrypt(authenticator.data["secret"]) == DEMO_TOTP_SECRET
    assert DEMO_TOTP_SECRET in output


def test_running_demo_twice_changes_nothing():
    run("demo")
    before = snapshot()

    run("demo")

    assert snapshot() == before


def test_demo_is_refused_on_a_production_configuration(settings):
    settings.SECURE = True

    with pytest.raises(CommandError, match="DJANGO_SECURE"):
        run("demo")

    assert get_user_model().objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_demo_totp_prints_a_code_the_login_accepts(monkeypatch):
    run("demo")
    # Mid-period, so the code cannot roll over between printing and checking it.
    now = (int(time.time()) // 30) * 30 + 15
    monkeypatch.setattr(time, "time", lambda: now)

    code = run("demo_totp").strip()

    assert len(code) == 6 and code.isdigit()
    assert validate_totp_code(DEMO_TOTP_SECRET, code)
    authenticator = Authenticator.objects.get(
        user__email=REVIEWER.email, type=Authenticator.Type.TOTP
    )
    assert TOTP(authenticator).validate_code(code)


def test_demo_totp_refuses_an_account_that_is_not_a_demo_account(staff_reviewer):
    run("demo")

    with pytest.raises(CommandError, match="not a demo account"):
        run("demo_totp", staff_reviewer.email)
