"""The person's own pages: checklist, keys, proof of possession, revocation; for anonymous
visitors, the owner, a person of another organisation and staff."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import PgpKey
from tests.factories import (
    MemberOrganizationFactory,
    PgpKeyFactory,
    TeamMemberFactory,
    UserFactory,
    make_eligible,
)
from tests.keys import load
from tests.keys.person import PersonKey

pytestmark = pytest.mark.django_db

ARMORED_MESSAGE = re.compile(r"-----BEGIN PGP MESSAGE-----.*?-----END PGP MESSAGE-----", re.DOTALL)


@pytest.fixture(scope="module")
def owner_key():
    key = PersonKey("owner@example.org")
    yield key
    key.close()


@pytest.fixture(scope="module")
def expired_key():
    return load("expired")  # B's fixture: made by gpg "in" 2020, expired since 2021


@pytest.fixture
def owner(db):
    member = TeamMemberFactory(
        user=UserFactory(username="owner", email="owner@example.org"),
        organization=MemberOrganizationFactory(name="Acme Linux"),
        is_need_to_know=True,
    )
    return member.user


def _state():
    return (
        AuditEvent.objects.count(),
        list(PgpKey.objects.values_list("pk", "state", "challenge_attempts").order_by("pk")),
    )


def _challenge(response) -> str:
    html = response.content.decode()
    match = ARMORED_MESSAGE.search(html)
    assert match, "no challenge on the page"
    return match.group(0).replace("&#x27;", "'")


def _upload(client, armored):
    return client.post(reverse("distributors:keys"), {"armored": armored})


# --- /me/ --------------------------------------------------------------------------------------


def test_the_checklist_needs_sign_in(client):
    response = client.get(reverse("distributors:me"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_the_checklist_shows_what_is_missing_with_links_to_fix_it(client, owner):
    client.force_login(owner)
    response = client.get(reverse("distributors:me"))
    body = response.content.decode()
    assert response.status_code == 200
    assert reverse("mfa_activate_totp") in body
    assert reverse("distributors:policy") in body
    assert reverse("distributors:keys") in body
    assert "Not eligible" in body
    assert "Two-factor authentication is not set up." in body
    assert "Acme Linux" in body


def test_the_checklist_of_an_eligible_person_says_eligible(client, owner):
    make_eligible(owner.memberships.get())
    client.force_login(owner)
    body = client.get(reverse("distributors:me")).content.decode()
    assert "Not eligible" not in body
    assert "Eligible" in body


def test_each_person_sees_only_their_own_checklist(
    client, owner, outsider, mfa_client, staff_reviewer
):
    for user, client_ in ((outsider, client), (staff_reviewer, mfa_client(staff_reviewer))):
        if user is outsider:
            client_.force_login(outsider)
        body = client_.get(reverse("distributors:me")).content.decode()
        assert "Acme Linux" not in body
        assert owner.email not in body


# --- /me/keys/ -------------------------------------------------------------------------------


def test_the_keys_page_needs_sign_in(client):
    assert client.get(reverse("distributors:keys")).status_code == 302
    before = _state()
    assert _upload(client, "x").status_code == 302
    assert _state() == before


def test_a_pasted_key_leads_to_the_proof_and_the_right_code_verifies_it(client, owner, owner_key):
    client.force_login(owner)
    response = _upload(client, owner_key.public)
    key = PgpKey.objects.get(user=owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("distributors:key_prove", kwargs={"pk": key.pk})

    page = client.get(response["Location"])
    code = owner_key.code_from(_challenge(page))
    response = client.post(response["Location"], {"code": code})

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.state == PgpKey.State.ACTIVE
    # Back to the checklist, which now says whether the person can receive notices.
    assert response["Location"] == reverse("distributors:me")


def test_a_key_file_can_be_uploaded(client, owner, owner_key):
    client.force_login(owner)
    upload = SimpleUploadedFile("key.asc", owner_key.public.encode(), "application/pgp-keys")
    response = client.post(reverse("distributors:keys"), {"key_file": upload})
    assert response.status_code == 302
    assert PgpKey.objects.get(user=owner).state == PgpKey.State.PENDING


@pytest.mark.parametrize("kind", ["garbage", "expired", "secret", "binary file"])
def test_a_bad_key_is_shown_with_its_message_and_nothing_is_stored(
    client, owner, owner_key, expired_key, kind
):
    client.force_login(owner)
    before = _state()
    if kind == "binary file":
        upload = SimpleUploadedFile("key.gpg", b"\x99\x01\x0d\xff\x00", "application/octet-stream")
        response = client.post(reverse("distributors:keys"), {"key_file": upload})
        expected = "not ASCII armor"
    else:
        armored = {
            "garbage": "definitely not a key",
            "expired": expired_key,
            "secret": owner_key.secret,
        }[kind]
        response = _upload(client, armored)
        expected = {"garbage": "not an ASCII-armored", "expired": "expired", "secret": "secret"}[
            kind
        ]
    assert response.status_code == 400
    assert expected in response.content.decode()
    assert _state() == before


def test_too_many_uploads_in_an_hour_are_refused_with_a_clear_message(
    client, owner, owner_key, settings
):
    settings.HAULOUT_KEY_UPLOADS_PER_HOUR = 1
    client.force_login(owner)
    _upload(client, "definitely not a key")
    before = _state()

    response = _upload(client, owner_key.public)

    assert response.status_code == 400
    assert "at most 1 upload an hour" in response.content.decode()
    assert _state() == before


def test_a_user_id_with_markup_is_warned_about_and_shown_escaped(client):
    person = UserFactory(email="markup@example.org")
    client.force_login(person)

    response = _upload(client, load("markup-uid"))
    page = client.get(response["Location"]).content.decode()

    assert "contains markup or control characters" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page


def test_a_deprecated_key_is_accepted_with_a_warning_the_person_sees(client):
    person = UserFactory(email="dsa2048@example.org")
    client.force_login(person)

    response = _upload(client, load("dsa2048"))
    page = client.get(response["Location"]).content.decode()

    assert "DSA and ElGamal keys are deprecated" in page
    assert PgpKey.objects.get(user=person).state == PgpKey.State.PENDING


def test_a_key_for_another_address_shows_a_warning(client, owner_key):
    someone = UserFactory(email="someone@example.org")
    client.force_login(someone)
    response = _upload(client, owner_key.public)
    page = client.get(response["Location"]).content.decode()
    assert "someone@example.org" in page
    assert PgpKey.objects.get(user=someone).state == PgpKey.State.PENDING


def test_the_keys_page_lists_only_the_persons_own_keys(client, owner, outsider):
    mine = PgpKeyFactory(user=owner)
    theirs = PgpKeyFactory(user=outsider)
    client.force_login(owner)
    body = client.get(reverse("distributors:keys")).content.decode()
    assert mine.fingerprint in body
    assert theirs.fingerprint not in body


def test_a_wrong_code_shows_how_many_attempts_are_left(client, owner, owner_key):
    client.force_login(owner)
    prove_url = _upload(client, owner_key.public)["Location"]
    response = client.post(prove_url, {"code": "aaaaa-bbbbb"})
    assert response.status_code == 400
    assert "4 attempts left" in response.content.decode()
    assert PgpKey.objects.get(user=owner).state == PgpKey.State.PENDING


def test_a_new_session_asks_for_a_new_challenge(client, owner, owner_key):
    client.force_login(owner)
    prove_url = _upload(client, owner_key.public)["Location"]
    client.logout()
    client.force_login(owner)
    page = client.get(prove_url)
    assert "BEGIN PGP MESSAGE" not in page.content.decode()
    key = PgpKey.objects.get(user=owner)

    response = client.post(reverse("distributors:key_challenge", kwargs={"pk": key.pk}))

    assert response["Location"] == prove_url
    code = owner_key.code_from(_challenge(client.get(prove_url)))
    assert client.post(prove_url, {"code": code}).status_code == 302
    key.refresh_from_db()
    assert key.state == PgpKey.State.ACTIVE


def test_the_owner_revokes_their_key(client, owner):
    key = PgpKeyFactory(user=owner)
    client.force_login(owner)
    response = client.post(reverse("distributors:key_revoke", kwargs={"pk": key.pk}))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.state == PgpKey.State.REVOKED


@pytest.mark.parametrize("who", ["anonymous", "outsider", "staff"])
@pytest.mark.parametrize("view", ["key_prove", "key_challenge", "key_revoke"])
def test_nobody_else_reaches_a_persons_key(
    client, mfa_client, owner, outsider, staff_reviewer, who, view
):
    key = PgpKeyFactory(user=owner, state=PgpKey.State.PENDING)
    if who == "outsider":
        client.force_login(outsider)
    elif who == "staff":
        client = mfa_client(staff_reviewer)
    url = reverse(f"distributors:{view}", kwargs={"pk": key.pk})
    before = _state()

    response = client.post(url, {"code": "whatever"})

    if who == "anonymous":
        assert response.status_code == 302
        assert reverse("account_login") in response["Location"]
    else:
        assert response.status_code == 404
        if view == "key_prove":
            assert client.get(url).status_code == 404
    assert _state() == before
