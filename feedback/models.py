"""What member organisations tell the security team during an embargo, per case: where
they stand (a VEX-style status), the patch tests they ran and a private thread.

One organisation's rows are never shown to another. String forms carry ids only: they
reach audit events and admin pages, where embargoed text must not appear.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models

from distributors.models import Organization
from embargo.models import Vulnerability

TEXT_MAX_LENGTH = 10000


class OrganizationStatus(models.Model):
    """An organisation's current answer for one case; its history is the audit log."""

    class Status(models.TextChoices):
        UNDER_INVESTIGATION = "under_investigation", "Under investigation"
        AFFECTED = "affected", "Affected"
        NOT_AFFECTED = "not_affected", "Not affected"
        FIXED = "fixed", "Fixed"

    class Justification(models.TextChoices):
        # The CISA VEX justifications, which CSAF uses as flag labels.
        COMPONENT_NOT_PRESENT = "component_not_present", "The component is not present"
        VULNERABLE_CODE_NOT_PRESENT = (
            "vulnerable_code_not_present",
            "The vulnerable code is not present",
        )
        VULNERABLE_CODE_NOT_IN_EXECUTE_PATH = (
            "vulnerable_code_not_in_execute_path",
            "The vulnerable code is never executed",
        )
        VULNERABLE_CODE_CANNOT_BE_CONTROLLED_BY_ADVERSARY = (
            "vulnerable_code_cannot_be_controlled_by_adversary",
            "An attacker cannot control the vulnerable code",
        )
        INLINE_MITIGATIONS_ALREADY_EXIST = (
            "inline_mitigations_already_exist",
            "Mitigations already in place",
        )

    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.CASCADE, related_name="member_statuses"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="case_statuses"
    )
    status = models.CharField(max_length=24, choices=Status.choices)
    # Required for not affected, empty otherwise.
    justification = models.CharField(max_length=56, choices=Justification.choices, blank=True)
    # The organisation's own product or package the status is about (e.g. its build of
    # the project) and, for fixed, the version that carries the fix.
    product = models.CharField(max_length=200, blank=True)
    fixed_version = models.CharField(max_length=100, blank=True)
    statement = models.TextField(blank=True, validators=[MaxLengthValidator(TEXT_MAX_LENGTH)])
    # The organisation's choice: may the statement and status be published (CSAF VEX)
    # after disclosure? Never before, whatever this says.
    publish_after_disclosure = models.BooleanField(default=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["vulnerability", "organization"], name="one_status_per_case_and_org"
            ),
        ]

    def __str__(self) -> str:
        return f"status #{self.pk}"


class PatchTest(models.Model):
    """A member's report of testing the fix: what, on what, and how it went."""

    class Result(models.TextChoices):
        WORKS = "works", "The fix works"
        PARTIAL = "partial", "Partly works"
        FAILS = "fails", "The fix does not work"
        BREAKS = "breaks", "The fix breaks something else"

    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.CASCADE, related_name="patch_tests"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    tested = models.CharField(max_length=300, help_text="Which patch or build was tested.")
    environment = models.CharField(max_length=300, help_text="On what: platform, versions.")
    result = models.CharField(max_length=16, choices=Result.choices)
    details = models.TextField(blank=True, validators=[MaxLengthValidator(TEXT_MAX_LENGTH)])
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField()

    class Meta:
        ordering = ["vulnerability", "-reported_at", "-pk"]

    def __str__(self) -> str:
        return f"patch test #{self.pk}"


class ThreadMessage(models.Model):
    """One message in the private thread between the team and one organisation."""

    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.CASCADE, related_name="feedback_messages"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_team = models.BooleanField()
    body = models.TextField(validators=[MaxLengthValidator(TEXT_MAX_LENGTH)])
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["vulnerability", "organization", "created_at", "pk"]

    def __str__(self) -> str:
        return f"feedback message #{self.pk}"


class FeedbackReminder(models.Model):
    """The one reminder an organisation gets when it has not answered. The unique row is
    what makes it one: two reminder jobs at once cannot both insert it."""

    vulnerability = models.ForeignKey(Vulnerability, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["vulnerability", "organization"], name="one_feedback_reminder"
            ),
        ]

    def __str__(self) -> str:
        return f"feedback reminder #{self.pk}"
