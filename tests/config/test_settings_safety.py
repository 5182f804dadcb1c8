"""The production defaults, read in a fresh interpreter with nothing but a var folder set:
what a security review checks first."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "SESSION_COOKIE_HTTPONLY": settings.SESSION_COOKIE_HTTPONLY,
    "SESSION_COOKIE_AGE": settings.SESSION_COOKIE_AGE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "CSRF_COOKIE_HTTPONLY": settings.CSRF_COOKIE_HTTPONLY,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "X_FRAME_OPTIONS": settings.X_FRAME_OPTIONS,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "CACHE": settings.CACHES["default"]["BACKEND"],
    "VALIDATORS": [v["NAME"].rsplit(".", 1)[-1] for v in settings.AUTH_PASSWORD_VALIDATORS],
    "SECRET_KEY_LENGTH": len(settings.SECRET_KEY),
    "MIDDLEWARE": settings.MIDDLEWARE,
    "MFA_SUPPORTED_TYPES": settings.MFA_SUPPORTED_TYPES,
    "MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": getattr(
        settings, "MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", False
    ),
    "MFA_PASSKEY_LOGIN_ENABLED": getattr(settings, "MFA_PASSKEY_LOGIN_ENABLED", False),
}))
"""


def _settings_in_a_fresh_process(var_dir: Path) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        # PYTEST_XDIST_WORKER would move the fresh process's var folder into a subfolder.
        if not key.startswith(
            ("DJANGO_", "HAULOUT_", "CACHE_URL", "SESSION_", "SECURE_", "PYTEST_XDIST_")
        )
    }
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "HAULOUT_VAR_DIR": str(var_dir)})
    code = "import django; django.setup()\n" + PROBE
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_defaults_are_the_secure_ones(tmp_path):
    found = _settings_in_a_fresh_process(tmp_path / "var")
    assert found["DEBUG"] is False
    assert found["SESSION_COOKIE_SECURE"] and found["SESSION_COOKIE_HTTPONLY"]
    assert found["CSRF_COOKIE_SECURE"] and found["CSRF_COOKIE_HTTPONLY"]
    assert found["SESSION_COOKIE_AGE"] <= 12 * 60 * 60
    assert found["SECURE_SSL_REDIRECT"] and found["SECURE_HSTS_SECONDS"] >= 31536000
    assert found["X_FRAME_OPTIONS"] == "DENY"
    assert "*" not in found["ALLOWED_HOSTS"]
    # allauth's rate limits must count across every web process: never per-process memory.
    assert "locmem" not in found["CACHE"].lower() and "dummy" not in found["CACHE"].lower()
    assert {"MinimumLengthValidator", "CommonPasswordValidator"} <= set(found["VALIDATORS"])
    assert found["SECRET_KEY_LENGTH"] >= 50
    assert "core.middleware.StaffMfaRequiredMiddleware" in found["MIDDLEWARE"]
    # Security keys are a second factor; python-fido2 checks every key's origin against
    # the site (no "insecure origin" switch) and a key never replaces the password.
    assert "webauthn" in found["MFA_SUPPORTED_TYPES"]
    assert found["MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN"] is False
    assert found["MFA_PASSKEY_LOGIN_ENABLED"] is False


def test_the_generated_secret_key_and_var_folder_are_private_and_stable(tmp_path):
    var_dir = tmp_path / "var"
    _settings_in_a_fresh_process(var_dir)
    key_file = var_dir / "secret_key"
    assert stat.S_IMODE(var_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    _settings_in_a_fresh_process(var_dir)
    assert key_file.read_text() == first


def test_people_are_shown_by_their_email_address_not_the_generated_username(db):
    from allauth.account.utils import user_display

    from tests.factories import UserFactory

    user = UserFactory(username="person-generated-name", email="lead@puffin.example.org")
    assert user_display(user) == "lead@puffin.example.org"
