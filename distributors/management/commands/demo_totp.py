"""Print the current TOTP code of a demo account, for people without an authenticator app.

Only the accounts `demo` creates are accepted, so this is no way around a real person's
second factor.
"""

from __future__ import annotations

import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from allauth.mfa.utils import decrypt
from django.core.management.base import BaseCommand, CommandError

from distributors.demo import DEMO_PEOPLE, REVIEWER


class Command(BaseCommand):
    help = "Print the current 6-digit TOTP code of a demo account (default: the reviewer)."

    def add_arguments(self, parser):
        parser.add_argument("email", nargs="?", default=REVIEWER.email)

    def handle(self, *args, email: str, **options):
        if email.lower() not in {person.email for person in DEMO_PEOPLE}:
            raise CommandError(f"{email} is not a demo account; only those have printable codes.")
        authenticator = (
            Authenticator.objects.filter(user__email__iexact=email, type=Authenticator.Type.TOTP)
            .select_related("user")
            .first()
        )
        if authenticator is None:
            raise CommandError(f"{email} has no TOTP authenticator; run `manage.py demo` first.")
        secret = decrypt(authenticator.data["secret"])
        counters = list(yield_hotp_counters_from_time())
        # The middle counter is the current period; the others are only tolerance.
        current = counters[len(counters) // 2]
        code = format_hotp_value(hotp_value(secret, current))
        period = mfa_settings.TOTP_PERIOD
        remaining = period - int(time.time()) % period
        self.stdout.write(code)
        self.stderr.write(f"(valid for about {remaining} more seconds; each code works once)")
