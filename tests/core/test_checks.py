"""The deployment check on the security contact every page shows."""

from __future__ import annotations

import pytest

from core.checks import security_contact_check


@pytest.mark.parametrize(
    "address", ["security@localhost", "security@box.localhost", "security@example.com", "", "x"]
)
def test_a_placeholder_security_contact_is_a_deployment_warning(settings, address):
    settings.SECURITY_TEAM_EMAIL = address
    assert [message.id for message in security_contact_check()] == ["haulout.W110"]


def test_a_real_security_contact_passes_the_deployment_check(settings):
    settings.SECURITY_TEAM_EMAIL = "security@haulout.example.org"
    assert security_contact_check() == []
