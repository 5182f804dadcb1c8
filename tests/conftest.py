"""The fixed cast every test can use: a staff reviewer with MFA, an applicant
organisation's admin, and an outsider who admins another applicant organisation."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from tests.factories import StaffFactory, TeamMemberFactory


@pytest.fixture(autouse=True)
def _isolated_mail_and_tasks(settings, tmp_path):
    # Unit tests use Django's in-memory outbox and run tasks inline; the tests that
    # need the real worker, Redis and SMTP start them explicitly.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    from config.celery import app

    app.conf.task_always_eager = True
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from django.core.cache import cache

    # The in-memory cache outlives a test; counts kept in it (key-upload limits) must not.
    cache.clear()
    # Every factory user gets a password; the production hasher's deliberate slowness
    # (~0.3 s a hash) made the suite thirty times slower and tests nothing of ours.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The hashed-name manifest exists only after collectstatic, which tests do not run.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # No published team key file unless a test writes one: the public key is then derived
    # from whichever secret key file the test configures.
    settings.HAULOUT_TEAM_PUBLIC_KEY_FILE = tmp_path / "team-key.pub.asc"
    # Files reporters attach go to this test's own directory.
    settings.HAULOUT_REPORT_FILES_DIR = tmp_path / "report-files"
    yield


@pytest.fixture
def us_calendar(settings):
    """The calendar deadline tests count in: UTC with US public holidays, so a date in a
    test name ("the Friday before Thanksgiving") means the same on every machine."""
    settings.HAULOUT_TEAM_TIME_ZONE = "UTC"
    settings.HAULOUT_HOLIDAYS_COUNTRY = "US"
    settings.HAULOUT_HOLIDAYS_SUBDIVISION = ""


def enable_totp(user) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


@pytest.fixture
def staff_reviewer(db):
    user = StaffFactory(username="reviewer", email="reviewer@security.example.org")
    enable_totp(user)
    return user


@pytest.fixture
def staff_without_mfa(db):
    return StaffFactory(username="newstaff", email="newstaff@security.example.org")


@pytest.fixture
def org_admin(db):
    return TeamMemberFactory(is_admin=True, organization__name="Acme Linux").user


@pytest.fixture
def outsider(db):
    return TeamMemberFactory(is_admin=True, organization__name="Other Distro").user


def _record_mfa_sign_in(client, user):
    client.force_login(user)
    session = client.session
    session["account_authentication_methods"] = [
        {"method": "password", "at": 0, "email": user.email},
        {"method": "mfa", "at": 0, "type": "totp"},
    ]
    # allauth reads the records only for the account they were made for.
    session["account_authentication_methods_user"] = str(user.pk)
    session.save()
    return client


def sign_in_with_mfa(client, user):
    """Sets TOTP up for the user if they have none, then logs them in as allauth would
    after the second factor: what a member admin needs for the team's actions."""
    from allauth.mfa.models import Authenticator

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        enable_totp(user)
    return _record_mfa_sign_in(client, user)


@pytest.fixture
def mfa_client(client):
    """Logs a user in as allauth would after the second factor."""

    def login(user):
        return _record_mfa_sign_in(client, user)

    return login
