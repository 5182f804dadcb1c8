"""An invitee's first minutes: the invited address filled in and confirmed by the link,
two-factor set up without typing the password again, a TOTP secret that holds still, and
pages that say where to go next."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from distributors.models import BlockedIdentity
from distributors.services.team import invitation_accept
from tests.conftest import sign_in_with_mfa
from tests.factories import PASSWORD, InvitationFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # allauth's per-address limits must not carry over between tests


def _invite(**kwargs):
    """An open invitation; `.token` is its link's raw token (the factory keeps none)."""
    token = secrets.token_urlsafe(32)
    invitation = InvitationFactory(token=token, **kwargs)
    invitation.token = token
    return invitation


def _open_link(client, invitation) -> str:
    path = reverse("distributors:invitation", kwargs={"token": invitation.token})
    assert client.get(path).status_code == 200
    return path


def _sign_up(client, email: str, next_path: str = "/"):
    return client.post(
        f"{reverse('account_signup')}?next={next_path}",
        {"email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


def _verified(email: str) -> bool:
    return EmailAddress.objects.filter(email__iexact=email, verified=True).exists()


def test_the_sign_up_form_has_the_invited_address_filled_in(client):
    invitation = _invite(email="new.person@example.org")
    _open_link(client, invitation)
    page = client.get(reverse("account_signup")).content.decode()
    assert 'value="new.person@example.org"' in page


def test_the_sign_up_form_is_empty_without_an_invitation_link(client):
    invitation = _invite(email="new.person@example.org")
    page = client.get(reverse("account_signup")).content.decode()
    assert "new.person@example.org" not in page
    assert "to join the team of" not in page
    assert invitation.organization.name not in page


def test_the_sign_up_page_names_the_team_the_invitation_is_for(client):
    invitation = _invite(email="new.person@example.org")
    _open_link(client, invitation)
    page = client.get(reverse("account_signup")).content.decode()
    assert "to join the team of" in page
    assert f"<strong>{invitation.organization.name}</strong>" in page


def test_signing_up_with_the_invited_address_through_the_link_confirms_it(client):
    invitation = _invite(email="New.Person@Example.org")
    path = _open_link(client, invitation)
    response = _sign_up(client, "new.person@example.org", path)
    assert response.status_code == 302
    assert response["Location"] == path  # signed in and back at the link
    assert _verified("new.person@example.org")
    assert mail.outbox == []
    member = invitation_accept(
        token=invitation.token,
        user=EmailAddress.objects.get(email__iexact="new.person@example.org").user,
    )
    assert member.organization == invitation.organization


def test_another_address_signed_up_through_the_link_is_not_confirmed(client):
    invitation = _invite(email="new.person@example.org")
    path = _open_link(client, invitation)
    response = _sign_up(client, "someone.else@example.org", path)
    assert response.status_code == 302
    assert response["Location"] != path
    assert not _verified("someone.else@example.org")
    assert not _verified("new.person@example.org")
    assert not EmailAddress.objects.filter(email__iexact="new.person@example.org").exists()
    assert len(mail.outbox) == 1  # the usual confirmation mail
    assert "_auth_user_id" not in client.session


def test_an_invitation_expired_before_sign_up_confirms_nothing(client):
    invitation = _invite(email="new.person@example.org")
    path = _open_link(client, invitation)
    invitation.expires_at = timezone.now() - timedelta(minutes=1)
    invitation.save(update_fields=["expires_at"])
    _sign_up(client, "new.person@example.org", path)
    assert not _verified("new.person@example.org")
    assert len(mail.outbox) == 1


def test_an_expired_link_fills_in_nothing(client):
    invitation = _invite(
        email="new.person@example.org", expires_at=timezone.now() - timedelta(days=1)
    )
    path = reverse("distributors:invitation", kwargs={"token": invitation.token})
    assert client.get(path).status_code == 410
    assert "new.person@example.org" not in client.get(reverse("account_signup")).content.decode()
    _sign_up(client, "new.person@example.org", path)
    assert not _verified("new.person@example.org")


def test_a_revoked_invitation_confirms_nothing(client):
    invitation = _invite(email="new.person@example.org")
    path = _open_link(client, invitation)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    _sign_up(client, "new.person@example.org", path)
    assert not _verified("new.person@example.org")


def test_a_barred_address_is_not_confirmed_and_still_cannot_join(client):
    invitation = _invite(email="barred.person@example.org")
    path = _open_link(client, invitation)
    BlockedIdentity.objects.create(
        kind=BlockedIdentity.Kind.EMAIL,
        value="barred.person@example.org",
        organization=invitation.organization,
        created_at=timezone.now(),
    )
    _sign_up(client, "barred.person@example.org", path)
    assert not _verified("barred.person@example.org")
    # Even once the address is confirmed by mail, the bar refuses the invitation.
    address = EmailAddress.objects.get(email__iexact="barred.person@example.org")
    address.verified = True
    address.save()
    with pytest.raises(ValidationError, match="barred"):
        invitation_accept(token=invitation.token, user=address.user)


def test_a_fresh_sign_up_turns_on_two_factor_without_the_password_again(client):
    invitation = _invite(email="new.person@example.org")
    _sign_up(client, "new.person@example.org", _open_link(client, invitation))
    assert client.get(reverse("mfa_activate_totp")).status_code == 200


def test_a_fresh_password_sign_in_turns_on_two_factor_without_the_password_again(client):
    UserFactory(email="person@example.org")
    response = client.post(
        reverse("account_login"), {"login": "person@example.org", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get(reverse("mfa_activate_totp")).status_code == 200


def test_the_password_is_asked_again_after_allauths_window(client, settings):
    # A window of 0 s stands for "the default 300 s have passed", without waiting.
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0
    invitation = _invite(email="new.person@example.org")
    _sign_up(client, "new.person@example.org", _open_link(client, invitation))
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_a_session_without_a_password_typed_still_reauthenticates(client):
    user = UserFactory(email="person@example.org")
    client.force_login(user)
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))


def test_the_totp_secret_stays_the_same_until_it_is_confirmed(client):
    invitation = _invite(email="new.person@example.org")
    _sign_up(client, "new.person@example.org", _open_link(client, invitation))
    activate = reverse("mfa_activate_totp")
    first = client.get(activate)
    secret = client.session[SECRET_SESSION_KEY]
    assert secret in first.content.decode()
    assert secret in client.get(activate).content.decode()
    assert client.post(activate, {"code": "000000"}).status_code == 200
    assert client.session[SECRET_SESSION_KEY] == secret


def test_the_recovery_codes_page_says_where_to_go_next(client):
    user = UserFactory(email="person@example.org")
    sign_in_with_mfa(client, user)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": timezone.now().timestamp(), "reauthenticated": True}
    ]
    session.save()
    generate = client.post(reverse("mfa_generate_recovery_codes"))
    assert generate.status_code == 302
    page = client.get(reverse("mfa_view_recovery_codes")).content.decode()
    assert f'href="{reverse("distributors:me")}"' in page
    assert "Continue to your checklist" in page


def test_the_two_factor_overview_says_where_to_go_next(client):
    user = UserFactory(email="person@example.org")
    sign_in_with_mfa(client, user)
    page = client.get(reverse("mfa_index")).content.decode()
    assert f'href="{reverse("distributors:me")}"' in page


def test_a_sign_up_finished_by_the_confirmation_link_still_reauthenticates(client, settings):
    settings.ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
    _sign_up(client, "person@example.org")  # no invitation: a confirmation mail goes out
    confirm = next(p for p in mail.outbox[-1].body.split() if "/accounts/confirm-email/" in p)
    response = client.post(confirm[confirm.index("/accounts/") :])
    assert response.status_code == 302
    assert "_auth_user_id" in client.session
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
