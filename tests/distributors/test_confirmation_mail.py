"""Signing up, in our words: the pages say what the account is for and what comes next,
and the confirmation mail names the site, not the host name allauth would otherwise
greet people from ("Hello from 127.0.0.1:8000!")."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_confirmation_mail_names_the_site_and_carries_the_link(client, mailoutbox):
    password = "a long and unusual passphrase 7"
    response = client.post(
        reverse("account_signup"),
        {"email": "lead@otter.example", "password1": password, "password2": password},
    )
    assert response.status_code == 302
    (message,) = mailoutbox
    assert message.subject == f"[{settings.SITE_NAME}] Confirm your email address"
    assert "Hello from" not in message.body and "testserver" not in message.body.split("http")[0]
    assert f"account on {settings.SITE_NAME}" in message.body
    assert "(lead@otter.example)" in message.body
    assert "/accounts/confirm-email/" in message.body
    assert f"{settings.SITE_NAME}, the private distributors list of" in message.body


def test_the_confirmation_page_names_the_address_once_in_plain_words(client, mailoutbox):
    password = "a long and unusual passphrase 7"
    client.post(
        reverse("account_signup"),
        {"email": "lead@otter.example", "password1": password, "password2": password},
    )
    link = next(word for word in mailoutbox[0].body.split() if "/accounts/confirm-email/" in word)
    content = client.get(link).content.decode()
    # (The sign-up's "confirmation email sent to …" message is shown here too.)
    assert "is an email address for user" not in content
    assert "Confirm that <strong>lead@otter.example</strong> is your address" in content
    assert "Confirm my address" in content
    expired = client.get(reverse("account_confirm_email", args=["not-a-key"])).content.decode()
    assert "This confirmation link has expired or is not valid." in expired


def test_the_sign_up_pages_say_what_the_account_is_for_and_what_comes_next(client, settings):
    signup = client.get(reverse("account_signup")).content.decode()
    assert "<h1>Create an account</h1>" in signup
    assert "apply for your organisation" in signup
    password = "a long and unusual passphrase 7"
    response = client.post(
        reverse("account_signup"),
        {"email": "lead@otter.example", "password1": password, "password2": password},
        follow=True,
    )
    sent = response.content.decode()
    assert "<h1>Check your mail</h1>" in sent
    assert f'href="mailto:{settings.SECURITY_TEAM_EMAIL}"' in sent
