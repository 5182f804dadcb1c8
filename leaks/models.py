"""Leaks and the sanctions they lead to. The tables keep the names they had when these
were models of the embargo app (see migration leaks 0001).

String forms never include what leaked: they end up in the audit log.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.urls import reverse

from distributors.models import Organization

LEAK_TEXT_MAX_LENGTH = 5000
# A pasted leaked copy can be a whole notice.
LEAK_EVIDENCE_MAX_LENGTH = 25000


class LeakReport(models.Model):
    """What leaked, to whom, when and how, and what the organisation changed since."""

    class State(models.TextChoices):
        OPEN = "open", "Waiting for the security team"
        CONFIRMED = "confirmed", "Confirmed"
        DISMISSED = "dismissed", "Dismissed"

    class Source(models.TextChoices):
        SELF_REPORT = "self_report", "Reported by the organisation"
        ON_BEHALF = "on_behalf", "Filed by the security team for the organisation"
        FOUND = "found", "Found by the security team"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="leak_reports"
    )
    vulnerability = models.ForeignKey(
        "embargo.Vulnerability", on_delete=models.PROTECT, related_name="leak_reports"
    )
    notice = models.ForeignKey(
        "embargo.Notice",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leak_reports",
    )
    # Set when a trace (or the reference code) tied the leak to one copy.
    delivery = models.ForeignKey(
        "embargo.Delivery",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="leak_reports",
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    what_leaked = models.TextField(validators=[MaxLengthValidator(LEAK_TEXT_MAX_LENGTH)])
    leaked_to = models.TextField(validators=[MaxLengthValidator(LEAK_TEXT_MAX_LENGTH)])
    leaked_at = models.DateTimeField(null=True, blank=True)
    how = models.TextField(validators=[MaxLengthValidator(LEAK_TEXT_MAX_LENGTH)])
    prevention = models.TextField(blank=True, validators=[MaxLengthValidator(LEAK_TEXT_MAX_LENGTH)])
    # Shown to staff only (whoever pasted it): a pasted copy is embargoed text, a link
    # may point at it.
    evidence_text = models.TextField(
        blank=True, validators=[MaxLengthValidator(LEAK_EVIDENCE_MAX_LENGTH)]
    )
    evidence_url = models.URLField(max_length=500, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(
        blank=True, validators=[MaxLengthValidator(LEAK_TEXT_MAX_LENGTH)]
    )

    class Meta:
        db_table = "embargo_leakreport"
        ordering = ["-reported_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "reported_at"]),
            models.Index(fields=["organization", "state"]),
        ]

    def __str__(self) -> str:
        return f"Leak report #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("leaks:leak_detail", kwargs={"pk": self.pk})

    def get_staff_url(self) -> str:
        return reverse("leaks:staff_leak_detail", kwargs={"pk": self.pk})

    @property
    def is_open(self) -> bool:
        return self.state == self.State.OPEN


class Sanction(models.Model):
    """A decision against an organisation: a warning, a suspension or a removal."""

    class Kind(models.TextChoices):
        WARNING = "warning", "Warning"
        SUSPENSION = "suspension", "Suspension"
        REMOVAL = "removal", "Permanent removal"

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="sanctions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    leak_report = models.ForeignKey(
        LeakReport, on_delete=models.PROTECT, null=True, blank=True, related_name="sanctions"
    )
    reason = models.TextField(validators=[MaxLengthValidator(LEAK_TEXT_MAX_LENGTH)])
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    # A suspension's planned end (None: until lifted).
    ends_at = models.DateTimeField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    # A warning asks the organisation for a retrospective: what happened, what changed.
    retrospective_required = models.BooleanField(default=False)
    retrospective = models.TextField(
        blank=True, validators=[MaxLengthValidator(LEAK_TEXT_MAX_LENGTH)]
    )
    retrospective_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    retrospective_at = models.DateTimeField(null=True, blank=True)
    cancelled_deliveries = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "embargo_sanction"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} for {self.organization}"

    @property
    def retrospective_due(self) -> bool:
        return self.retrospective_required and self.retrospective_at is None
