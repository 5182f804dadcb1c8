"""Sign-up costs the same whether or not the address already has an account.

Timing is not measured (the machine is shared and busy): the slow part is the password
hash, so the tests count the hashes each path makes."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a long new password for signing up 7"


@pytest.fixture
def hashes(monkeypatch):
    """Counts the hashes made with the tests' hasher (tests/conftest.py: MD5), whoever
    asks for them."""
    made = []
    encode = MD5PasswordHasher.encode

    def counting(self, password, salt):
        made.append(password)
        return encode(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting)
    cache.clear()
    return made


def _sign_up(client, email):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )


def test_signing_up_with_an_existing_address_hashes_the_password_as_a_new_one_does(client, hashes):
    existing = UserFactory(email="taken@example.org")
    hashes.clear()  # the factory's own password

    taken = _sign_up(client, existing.email)
    made_for_existing = len(hashes)
    hashes.clear()
    client.cookies.clear()
    new = _sign_up(client, "new@example.org")
    made_for_new = len(hashes)

    assert made_for_new >= 1
    assert made_for_existing == made_for_new
    # And the answers look alike: both go on to "check your mail".
    assert taken.status_code == new.status_code == 302
    assert taken["Location"] == new["Location"]


def test_an_existing_address_gets_mail_and_no_second_account(client, hashes):
    existing = UserFactory(email="taken@example.org")
    _sign_up(client, existing.email)
    assert get_user_model().objects.filter(email__iexact=existing.email).count() == 1
    assert [message.to for message in mail.outbox] == [[existing.email]]
    existing.refresh_from_db()
    assert existing.check_password(NEW_PASSWORD) is False
