"""A security key (WebAuthn) is two-factor authentication wherever the site asks for it,
as an authenticator app is: staff pages, the member pages that need a second factor, a
recipient's notices and the checklist. Its pages run on our own static scripts only."""

from __future__ import annotations

import re
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.urls import reverse

from core.mfa import has_second_factor, second_factor_confirm_url
from tests.conftest import enable_totp
from tests.factories import PASSWORD, StaffFactory, UserFactory, security_key_add

pytestmark = pytest.mark.django_db

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S)


def _signed_in_with_key(client, user):
    """Logged in as allauth leaves it after the password and the key, with the key
    confirmed again a moment ago, so adding or removing a key asks for nothing more."""
    client.force_login(user)
    session = client.session
    now = time.time()
    session["account_authentication_methods"] = [
        {"method": "password", "at": now, "email": user.email},
        {"method": "mfa", "at": now, "type": "webauthn", "reauthenticated": True},
    ]
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def _key_only(user):
    security_key_add(user)
    return user


def _password_step(client, user):
    """The first sign-in step; a person with a second factor is then asked for it."""
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    return client.get(response["Location"])


# --- what counts -------------------------------------------------------------------------


def test_an_app_or_a_key_is_a_second_factor_and_recovery_codes_alone_are_not():
    app, key, codes, nothing = (UserFactory() for _ in range(4))
    enable_totp(app)
    security_key_add(key)
    Authenticator.objects.create(user=codes, type=Authenticator.Type.RECOVERY_CODES, data={})

    assert has_second_factor(app) and has_second_factor(key)
    assert not has_second_factor(codes) and not has_second_factor(nothing)


def test_a_session_without_the_factor_is_confirmed_on_the_page_of_what_the_person_has():
    app, key, both = (UserFactory() for _ in range(3))
    enable_totp(app)
    security_key_add(key)
    enable_totp(both)
    security_key_add(both)

    assert second_factor_confirm_url(app) == reverse("mfa_reauthenticate")
    assert second_factor_confirm_url(key) == reverse("mfa_reauthenticate_webauthn")
    assert second_factor_confirm_url(both) == reverse("mfa_reauthenticate")


# --- the checks across the site ----------------------------------------------------------


def test_staff_with_only_a_security_key_open_the_staff_pages(client):
    staff = _key_only(StaffFactory())
    response = _signed_in_with_key(client, staff).get(reverse("distributors:review_queue"))
    assert response.status_code == 200


def test_a_member_page_needing_two_factor_opens_for_a_key_used_at_sign_in(client, org_admin):
    _key_only(org_admin)
    response = _signed_in_with_key(client, org_admin).get(reverse("embargo:member_negotiations"))
    assert response.status_code == 200


def test_a_session_signed_in_before_the_key_was_added_confirms_it_with_the_key(client, org_admin):
    _key_only(org_admin)
    client.force_login(org_admin)  # the password alone, then the key added
    url = reverse("embargo:member_negotiations")

    response = client.get(url)

    assert response.status_code == 302
    confirm = reverse("mfa_reauthenticate_webauthn")
    assert response["Location"] == f"{confirm}?next=%2Fnotices%2Fdates%2F"
    # The page it is sent to is the key's own, not a bounce to the password page.
    assert client.get(response["Location"]).status_code == 200


def test_a_recipient_with_only_a_security_key_opens_their_notices(client, org_admin):
    _key_only(org_admin)
    response = _signed_in_with_key(client, org_admin).get(reverse("embargo:my_notices"))
    assert response.status_code == 200


def test_the_checklist_counts_a_security_key_as_two_factor_authentication(client, org_admin):
    _key_only(org_admin)
    body = _signed_in_with_key(client, org_admin).get(reverse("distributors:me")).content.decode()
    row = body[body.index("Two-factor authentication") :].split("</tr>")[0]
    assert "Done" in row and "Missing" not in row


def test_the_checklist_without_a_second_factor_offers_an_app_or_a_key(client, org_admin):
    client.force_login(org_admin)
    body = client.get(reverse("distributors:me")).content.decode()
    assert reverse("mfa_activate_totp") in body
    assert reverse("mfa_add_webauthn") in body


# --- the two-factor pages ----------------------------------------------------------------


def test_the_two_factor_page_lists_each_key_with_its_remove_link_and_an_add_link(client):
    user = UserFactory()
    desk = security_key_add(user, name="Desk key")
    spare = security_key_add(user, name="Spare key")
    RecoveryCodes.activate(user)

    body = _signed_in_with_key(client, user).get(reverse("mfa_index")).content.decode()

    for key in (desk, spare):
        assert key.data["name"] in body
        assert reverse("mfa_remove_webauthn", kwargs={"pk": key.pk}) in body
    assert reverse("mfa_add_webauthn") in body
    assert reverse("mfa_view_recovery_codes") in body
    assert "10 of 10 recovery codes are left" in body


def test_nobody_sees_or_removes_another_persons_key(client):
    owner, other = UserFactory(), UserFactory()
    key = security_key_add(owner, name="Owner's key")
    _key_only(other)
    client = _signed_in_with_key(client, other)

    assert "Owner&#x27;s key" not in client.get(reverse("mfa_index")).content.decode()
    url = reverse("mfa_remove_webauthn", kwargs={"pk": key.pk})
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert Authenticator.objects.filter(pk=key.pk).exists()


def test_the_second_step_offers_the_key_to_a_person_with_one(client):
    body = _password_step(client, _key_only(UserFactory())).content.decode()
    assert 'id="mfa_webauthn_authenticate"' in body
    assert 'name="code"' in body  # a recovery code still works


def test_the_second_step_offers_no_key_to_a_person_with_only_an_app(client):
    user = UserFactory()
    enable_totp(user)
    body = _password_step(client, user).content.decode()
    assert 'id="mfa_webauthn_authenticate"' not in body
    assert "<script" not in body
    assert 'name="code"' in body


def test_a_recovery_code_signs_in_a_person_whose_only_factor_is_a_key(client):
    user = _key_only(UserFactory())
    codes = RecoveryCodes.activate(user)
    _password_step(client, user)

    response = client.post(reverse("mfa_authenticate"), {"code": codes.get_unused_codes()[0]})

    assert response.status_code == 302
    assert client.get(reverse("distributors:me")).wsgi_request.user == user


def test_a_wrong_code_at_the_second_step_is_refused_beside_the_field(client):
    user = _key_only(UserFactory())
    RecoveryCodes.activate(user)
    _password_step(client, user)

    response = client.post(reverse("mfa_authenticate"), {"code": "00000000"})

    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("page", ["add", "second step", "confirm"])
def test_the_key_pages_run_only_our_own_static_scripts(client, page):
    """The strict CSP (script-src 'self') blocks inline script: every <script> is either
    a file under /static/ or a JSON data block, which a browser does not run."""
    user = _key_only(UserFactory())
    if page == "add":
        response = _signed_in_with_key(client, user).get(reverse("mfa_add_webauthn"))
    elif page == "confirm":
        client.force_login(user)
        response = client.get(reverse("mfa_reauthenticate_webauthn"))
    else:
        response = _password_step(client, user)
    assert response.status_code == 200
    scripts = SCRIPT.findall(response.content.decode())
    sources = [re.search(r'src="([^"]+)"', attrs) for attrs, _ in scripts]
    files = [found.group(1) for found in sources if found]
    assert "/static/mfa/js/webauthn.js" in files
    assert "/static/js/webauthn-errors.js" in files
    assert all(name.startswith("/static/") for name in files)
    for attrs, body in scripts:
        if "src=" not in attrs:
            assert 'type="application/json"' in attrs, attrs
        else:
            assert body.strip() == ""


# --- adding and removing a key -----------------------------------------------------------


def test_adding_a_key_before_it_answered_says_what_to_do_and_adds_nothing(client):
    user = _key_only(UserFactory())
    client = _signed_in_with_key(client, user)

    response = client.post(reverse("mfa_add_webauthn"), {"name": "Spare key"})

    assert response.status_code == 200
    assert "then touch or insert your security key" in response.content.decode()
    assert Authenticator.objects.filter(user=user).count() == 1


def test_a_key_answer_that_does_not_verify_is_refused_with_a_clear_message(client):
    user = _key_only(UserFactory())
    client = _signed_in_with_key(client, user)
    client.get(reverse("mfa_add_webauthn"))  # the registration request (its challenge)

    response = client.post(
        reverse("mfa_add_webauthn"),
        {"name": "Spare key", "credential": '{"id": "x", "type": "public-key", "response": {}}'},
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "answer could not be checked, so the key was not added" in body
    assert "Incorrect code" not in body
    assert Authenticator.objects.filter(user=user).count() == 1


def test_a_key_name_longer_than_64_characters_is_refused(client):
    user = _key_only(UserFactory())
    client = _signed_in_with_key(client, user)

    response = client.post(reverse("mfa_add_webauthn"), {"name": "k" * 65, "credential": "{}"})

    assert response.status_code == 200
    assert 'aria-invalid="true"' in response.content.decode()
    assert Authenticator.objects.filter(user=user).count() == 1


def test_removing_a_key_returns_to_the_two_factor_page_and_ends_the_second_factor(client):
    user = UserFactory()
    key = security_key_add(user)
    RecoveryCodes.activate(user)
    client = _signed_in_with_key(client, user)
    url = reverse("mfa_remove_webauthn", kwargs={"pk": key.pk})
    assert "Remove the key" in client.get(url).content.decode()

    response = client.post(url, {"next": reverse("mfa_index")})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")
    assert not has_second_factor(user)
    # allauth takes the recovery codes away with the last factor.
    assert not Authenticator.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    "answer",
    [
        '{"id": "x"}',
        "{}",
        '"x"',
        '{"id": "x", "rawId": "eA", "type": "public-key", "response": {}}',
    ],
    ids=["no-raw-id", "empty", "not-an-object", "no-response-fields"],
)
def test_a_malformed_key_answer_at_sign_in_is_refused_with_a_message_not_a_server_error(
    client, answer
):
    user = _key_only(UserFactory())
    _password_step(client, user)

    response = client.post(reverse("mfa_authenticate"), {"credential": answer})

    assert response.status_code == 200
    assert "answer could not be checked" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_malformed_key_answer_when_confirming_the_key_is_refused_with_a_message(client):
    user = _key_only(UserFactory())
    client.force_login(user)

    response = client.post(
        reverse("mfa_reauthenticate_webauthn"), {"credential": '{"id": "x"}'}, follow=True
    )

    # allauth sends a refused confirmation to the sign-in page, which for someone signed
    # in is their home page: the message goes with it.
    assert response.status_code == 200
    assert "answer could not be checked" in response.content.decode()


# --- the list of keys and renaming one ---------------------------------------------------


def _rename_url(key) -> str:
    return reverse("mfa_edit_webauthn", kwargs={"pk": key.pk})


def _name_of(key) -> str:
    key.refresh_from_db()
    return key.wrap().name


@pytest.mark.parametrize("page", ["list", "rename"])
def test_an_anonymous_visitor_is_sent_to_sign_in_from_the_key_pages(client, page):
    key = security_key_add(UserFactory())
    url = reverse("mfa_list_webauthn") if page == "list" else _rename_url(key)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert client.post(url, {"name": "Taken"}).status_code == 302
    assert _name_of(key) == "Desk key"


@pytest.mark.parametrize("factory", [UserFactory, StaffFactory], ids=["member", "staff"])
def test_the_list_of_keys_is_the_two_factor_page_with_a_rename_link_for_each_own_key(
    client, factory
):
    user, other = factory(), UserFactory()
    own = security_key_add(user, name="Desk key")
    theirs = security_key_add(other, name="Their key")
    client = _signed_in_with_key(client, user)

    response = client.get(reverse("mfa_list_webauthn"))

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")
    body = client.get(response["Location"]).content.decode()
    assert _rename_url(own) in body
    assert _rename_url(theirs) not in body and "Their key" not in body


@pytest.mark.parametrize("factory", [UserFactory, StaffFactory], ids=["member", "staff"])
def test_a_person_renames_their_own_key_and_returns_to_the_two_factor_page(client, factory):
    user = factory()
    key = security_key_add(user, name="Desk key")
    client = _signed_in_with_key(client, user)

    page = client.get(_rename_url(key)).content.decode()
    assert page.count("<h1") == 1 and "Rename the security key “Desk key”" in page
    assert 'value="Desk key"' in page
    assert f'href="{reverse("mfa_index")}"' in page

    response = client.post(_rename_url(key), {"name": "Spare key", "next": reverse("mfa_index")})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_index")
    assert _name_of(key) == "Spare key"


@pytest.mark.parametrize("factory", [UserFactory, StaffFactory], ids=["member", "staff"])
def test_another_persons_key_cannot_be_opened_or_renamed(client, factory):
    owner, other = UserFactory(), factory()
    key = security_key_add(owner, name="Owner's key")
    client = _signed_in_with_key(client, _key_only(other))

    assert client.get(_rename_url(key)).status_code == 404
    assert client.post(_rename_url(key), {"name": "Mine now"}).status_code == 404
    assert _name_of(key) == "Owner's key"


@pytest.mark.parametrize("name", ["   ", "k" * 65], ids=["blank", "too-long"])
def test_a_blank_or_too_long_name_is_refused_beside_the_field_and_changes_nothing(client, name):
    user = UserFactory()
    key = security_key_add(user, name="Desk key")
    client = _signed_in_with_key(client, user)

    response = client.post(_rename_url(key), {"name": name})

    assert response.status_code == 200
    body = response.content.decode()
    assert 'aria-invalid="true"' in body and 'id="key-name-error"' in body
    assert _name_of(key) == "Desk key"
