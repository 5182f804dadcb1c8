"""Deployment checks (`manage.py check --deploy`) for settings a person sees on every
page."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

PLACEHOLDER_DOMAINS = ("localhost", "localhost.localdomain", "example.com")


@checks.register(checks.Tags.security, deploy=True)
def security_contact_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The security contact is in every page's footer, the report form and the team's
    mail: a production site must not tell reporters to write to security@localhost."""
    address = settings.SECURITY_TEAM_EMAIL or ""
    local, _, domain = address.rpartition("@")
    domain = domain.lower()
    if local and domain and domain not in PLACEHOLDER_DOMAINS and not domain.endswith(".localhost"):
        return []
    return [
        checks.Warning(
            f"HAULOUT_SECURITY_TEAM_EMAIL is {address!r}, which nobody outside this machine "
            "can write to; it is the security contact every page shows.",
            hint="Set HAULOUT_SECURITY_TEAM_EMAIL to the security team's real address.",
            id="haulout.W110",
        )
    ]
