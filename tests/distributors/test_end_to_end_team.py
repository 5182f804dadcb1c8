"""One person's whole way in, through the test client and the real allauth pages:
invitation -> sign-up -> email verification -> joining -> TOTP enrolment -> policy ->
key upload -> proof of possession -> eligible; a new policy version then lapses it."""

from __future__ import annotations

import re

import pytest
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from distributors.eligibility import Reason, eligibility_for_member
from distributors.models import PgpKey, TeamMember
from distributors.selectors import policy_current
from distributors.services.policy import policy_publish
from tests.conftest import sign_in_with_mfa
from tests.factories import PASSWORD, MemberOrganizationFactory, TeamMemberFactory
from tests.keys.person import PersonKey

pytestmark = pytest.mark.django_db

INVITEE = "New.Engineer@Example.org"
PATH = re.compile(r"https?://[^/\s]+(/\S+)")
MESSAGE = re.compile(r"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", re.DOTALL)


@pytest.fixture
def person_key():
    key = PersonKey(INVITEE.lower())
    yield key
    key.close()


def _link_in(message, contains: str) -> str:
    for path in PATH.findall(message.body):
        if contains in path:
            return path
    raise AssertionError(f"no {contains} link in: {message.body}")


def _now_eligibility(member):
    return eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now())


def _accept_policy(client) -> None:
    url = reverse("distributors:policy")
    assert client.get(url).status_code == 200
    response = client.post(url, {"version": policy_current().number, "next": "/me/"})
    assert response.status_code == 302, response.content.decode()[:2000]


def test_an_invited_person_becomes_eligible_and_a_new_policy_lapses_it(
    person_key, staff_reviewer, django_capture_on_commit_callbacks
):
    cache.clear()  # allauth's per-address rate limits must not carry over between runs
    organization = MemberOrganizationFactory(name="Acme Linux", slug="acme")
    admin = TeamMemberFactory(organization=organization, is_admin=True)
    admin_client = sign_in_with_mfa(Client(), admin.user)

    # 1. The admin invites a need-to-know person; the link arrives by mail.
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("distributors:invitation_create", kwargs={"slug": "acme"}),
            {"email": INVITEE, "is_need_to_know": "on"},
        )
    assert response.status_code == 302
    invitation_path = _link_in(mail.outbox[-1], "/invitations/")

    # 2. The invitee opens it and signs up; the form has the invited address filled in,
    # and the link proved they read mail there: signed in and back at the link at once,
    # with no confirmation mail.
    client = Client()
    page = client.get(invitation_path).content.decode()
    signup_url = f"{reverse('account_signup')}?next={invitation_path}"
    assert signup_url in page
    assert f'value="{INVITEE}"' in client.get(signup_url).content.decode()
    sent = len(mail.outbox)
    response = client.post(
        signup_url,
        {"email": INVITEE.lower(), "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert response["Location"] == invitation_path
    assert len(mail.outbox) == sent

    # 4. They accept the invitation.
    response = client.post(invitation_path)
    assert response["Location"] == reverse("distributors:me")
    member = TeamMember.objects.get(user__email__iexact=INVITEE, organization=organization)
    assert member.is_need_to_know and not member.is_admin
    assert set(_now_eligibility(member).reasons) == {
        Reason.NO_MFA,
        Reason.POLICY_NOT_ACCEPTED,
        Reason.NO_VERIFIED_KEY,
    }

    # 5. TOTP enrolment through allauth's own page, with a code from the session's secret.
    # The password typed at sign-up a moment ago counts: no second password prompt.
    activate = reverse("mfa_activate_totp")
    assert client.get(activate).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    counters = list(yield_hotp_counters_from_time())
    code = format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))
    response = client.post(activate, {"code": code})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Reason.NO_MFA not in _now_eligibility(member).reasons

    # 6. The embargo policy.
    _accept_policy(client)
    assert _now_eligibility(member).reasons == (Reason.NO_VERIFIED_KEY,)

    # 7. Key upload and proof: decrypt the challenge with the person's own secret key.
    response = client.post(reverse("distributors:keys"), {"armored": person_key.public})
    assert response.status_code == 302
    prove_page = client.get(response["Location"]).content.decode()
    code = person_key.code_from(MESSAGE.search(prove_page).group(0))
    response = client.post(response["Location"], {"code": code})
    assert response.status_code == 302

    row = _now_eligibility(member)
    assert row.eligible, row.reasons
    assert row.key.fingerprint == person_key.fingerprint.upper()
    assert row.key.state == PgpKey.State.ACTIVE
    checklist = client.get(reverse("distributors:me")).content.decode()
    assert "Not eligible" not in checklist

    # 8. A new policy version: ineligible until they accept it again.
    policy_publish(actor=staff_reviewer, text="# Embargo policy\n\nA stricter version.\n")
    assert _now_eligibility(member).reasons == (Reason.POLICY_NOT_ACCEPTED,)
    _accept_policy(client)
    assert _now_eligibility(member).eligible

    # The link was single-use.
    response = client.get(invitation_path)
    assert response.status_code == 410
