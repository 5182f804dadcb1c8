"""Embargo's health checks for the staff health page (ops/ lists them): the copies
waiting, the team key (through pgpmail, the only code that runs gpg), the gpg binary,
and workers that said they cannot encrypt (embargo/delivery/health.py)."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from typing import ClassVar

from django.conf import settings
from django.utils import timezone
from health_check import HealthCheck
from health_check.exceptions import ServiceUnavailable

from core.health import DatabaseReadCheck, age_text
from embargo.delivery.health import gpg_faults
from embargo.selectors import delivery_oldest_waiting_since
from pgpmail import CryptoError, KeyRejected, key_inspect, team_public_key_armored

# The rule: the team key must stay valid for at least this long.
TEAM_KEY_MIN_VALIDITY = timedelta(days=30)


@dataclasses.dataclass
class WaitingCopies(DatabaseReadCheck):
    """The oldest copy still queued or being sent has not waited too long. Copies wait
    through temporary failures for hours by design; longer than
    HAULOUT_HEALTH_COPY_WAIT_MAX_SECONDS means mail is not going out."""

    title: ClassVar[str] = "Copies waiting to be sent"

    def check(self) -> None:
        oldest = delivery_oldest_waiting_since()
        if oldest is None:
            self.detail = "No copy is waiting."
            return
        age = timezone.now() - oldest
        if age > timedelta(seconds=settings.HAULOUT_HEALTH_COPY_WAIT_MAX_SECONDS):
            raise ServiceUnavailable(f"The oldest copy waiting has waited {age_text(age)}.")
        self.detail = f"The oldest copy waiting has waited {age_text(age)}."


@dataclasses.dataclass
class GpgBinary(HealthCheck):
    """The gpg binary is on this machine's PATH (looked up, not run: pgpmail runs it)."""

    title: ClassVar[str] = "gpg"
    detail: str = dataclasses.field(default="", init=False, repr=False)

    def run(self) -> None:
        found = shutil.which(settings.GPG_BINARY)
        if found is None:
            raise ServiceUnavailable(f"No {settings.GPG_BINARY} binary on this machine's PATH.")
        self.detail = found


@dataclasses.dataclass
class TeamKey(HealthCheck):
    """The team's published key is a usable key (pgpmail's own key inspection, as for any
    key) that stays valid for TEAM_KEY_MIN_VALIDITY more at least."""

    title: ClassVar[str] = "Team key"
    detail: str = dataclasses.field(default="", init=False, repr=False)
    # Key inspection runs gpg a few times; the library's default of 5 s is tight.
    timeout = timedelta(seconds=20)

    def run(self) -> None:
        try:
            report = key_inspect(armored=team_public_key_armored())
        except KeyRejected as error:
            raise ServiceUnavailable(f"The team key cannot be used: {error.message}") from error
        except CryptoError as error:
            raise ServiceUnavailable(f"The team key cannot be read: {error}") from error
        if report.expires_at is None:
            self.detail = f"{report.fingerprint}, does not expire."
            return
        shown = report.expires_at.strftime("%Y-%m-%d %H:%M UTC")
        if report.expires_at - timezone.now() < TEAM_KEY_MIN_VALIDITY:
            raise ServiceUnavailable(
                f"The team key {report.fingerprint} expires on {shown}: extend or rotate it."
            )
        self.detail = f"{report.fingerprint}, valid until {shown}."


@dataclasses.dataclass
class WorkerEncryption(HealthCheck):
    """No worker process has reported in the last minutes that it cannot encrypt."""

    title: ClassVar[str] = "Workers can encrypt"
    detail: str = dataclasses.field(default="", init=False, repr=False)

    def run(self) -> None:
        faults = gpg_faults()
        if faults:
            reasons = sorted({fault["reason"] for fault in faults.values()})
            raise ServiceUnavailable(
                f"{len(faults)} worker process(es) cannot encrypt: {'; '.join(reasons)}"
            )
        self.detail = "No worker reported a fault."
