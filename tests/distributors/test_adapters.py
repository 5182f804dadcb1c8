"""The account adapter: which address a request comes from behind our proxies, and
failed-login lockouts per address and account together."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from tests.factories import PASSWORD, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db
TOO_MANY = "Too many failed login attempts"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # allauth keeps its counts in the cache
    yield
    cache.clear()


@pytest.fixture
def behind_one_proxy(settings):
    # What HAULOUT_TRUSTED_PROXY_COUNT=1 sets (tests/config/test_settings_proxy.py).
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    settings.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = None


def _login(client, email, password, forwarded_for=None):
    """A sign-in as the proxy passes it on: from the proxy's address (the test client's
    127.0.0.1), with the client's address appended to X-Forwarded-For."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(
        reverse("account_login"), {"login": email, "password": password}, headers=headers
    )


def _signed_in(response, user) -> bool:
    return response.status_code == 302 and response.wsgi_request.user.pk == user.pk


def test_failed_logins_on_random_accounts_through_the_proxy_do_not_stop_another_client(
    client, behind_one_proxy
):
    person = UserFactory()
    for number in range(12):
        response = _login(client, f"nobody{number}@example.org", "wrong password", "203.0.113.7")
        assert response.status_code == 200
    # The guessing address itself is held back (10 failures a minute per address).
    assert TOO_MANY in response.content.decode()
    response = _login(client, person.email, PASSWORD, "198.51.100.9")
    assert _signed_in(response, person), response.content.decode()[:2000]


def test_failures_against_an_account_from_one_address_do_not_lock_it_from_another(
    client, behind_one_proxy
):
    staff = StaffFactory()
    staff.save()
    for _ in range(6):
        response = _login(client, staff.email, "wrong password", "203.0.113.7")
    assert TOO_MANY in response.content.decode()
    # The guesser cannot go on, not even with the right password...
    assert TOO_MANY in _login(client, staff.email, PASSWORD, "203.0.113.7").content.decode()
    # ...but the person, from their own address, signs in.
    response = _login(client, staff.email, PASSWORD, "198.51.100.9")
    assert TOO_MANY not in response.content.decode()
    assert _signed_in(response, staff)


def test_without_trusted_proxies_a_forwarded_address_is_ignored(client):
    """The default (no trusted proxy): a client cannot dodge its limit by making up
    X-Forwarded-For addresses."""
    for number in range(12):
        response = _login(client, f"nobody{number}@example.org", "wrong", f"192.0.2.{number}")
    assert TOO_MANY in response.content.decode()


def test_the_address_the_outermost_trusted_proxy_saw_is_the_one_that_counts(client, settings):
    """Behind two proxies, X-Forwarded-For ends with the client's address as the outer
    proxy saw it, then the outer proxy's own; anything before them is the client's
    invention, and changing it does not buy more guesses."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 2
    for number in range(12):
        forwarded = f"192.0.2.{number}, 203.0.113.7, 10.0.0.2"
        response = _login(client, f"nobody{number}@example.org", "wrong", forwarded)
    assert TOO_MANY in response.content.decode()


def test_too_few_forwarded_addresses_count_against_the_connecting_address(client, settings):
    """A request that did not pass through every trusted proxy gets an answer, not an
    error page, and is counted against the address it came from."""
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 2
    person = UserFactory()
    response = _login(client, person.email, PASSWORD, "198.51.100.9")
    assert _signed_in(response, person)
    client.logout()
    for number in range(11):
        response = _login(client, f"nobody{number}@example.org", "wrong", f"192.0.2.{number}")
        assert response.status_code == 200
    assert TOO_MANY in response.content.decode()


def test_django_sees_the_connecting_address_unchanged(client, behind_one_proxy):
    response = _login(client, "nobody@example.org", "wrong", "203.0.113.7")
    assert response.wsgi_request.META["REMOTE_ADDR"] == "127.0.0.1"
