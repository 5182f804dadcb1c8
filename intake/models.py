"""A private report, its conversation with the reporter and its attachments."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.utils import timezone


class AttachmentStorage(FileSystemStorage):
    """Files reporters send, kept outside the web root (HAULOUT_REPORT_FILES_DIR, under
    the var directory) and served only by the staff download view, never by a URL of
    their own. The directory is read from the settings on each use."""

    @property
    def base_location(self):
        return str(settings.HAULOUT_REPORT_FILES_DIR)

    @property
    def location(self):
        return os.path.abspath(self.base_location)


attachment_storage = AttachmentStorage()


def attachment_storage_get() -> AttachmentStorage:
    # A callable, so migrations name it instead of freezing a path.
    return attachment_storage


class Report(models.Model):
    class State(models.TextChoices):
        RECEIVED = "received", "Received"
        VALID = "valid", "Valid"
        INVALID = "invalid", "Invalid"
        ACCEPTED = "accepted", "Accepted"
        DEFERRED = "deferred", "Deferred"
        CLOSED = "closed", "Closed"

    class Channel(models.TextChoices):
        WEB = "web", "Report form"
        MAIL = "mail", "Email"

    class Exposure(models.TextChoices):
        NOT_PUBLIC = "not_public", "Not public, as far as I know"
        PUBLIC = "public", "Already public"
        EXPLOITED = "exploited", "Being exploited"
        UNKNOWN = "unknown", "I don't know"

    # Shown to the reporter and staff; random, so it says nothing about how many reports
    # there are. The tracking link adds a token derived from `secret` (intake/tokens.py).
    reference = models.CharField(max_length=16, unique=True)
    secret = models.CharField(max_length=64)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.RECEIVED)

    reporter_name = models.CharField(max_length=200, blank=True)
    reporter_affiliation = models.CharField(max_length=200, blank=True)
    reporter_email = models.EmailField()
    reporter_public_key = models.TextField(blank=True)
    reporter_key_fingerprint = models.CharField(max_length=40, blank=True)

    subject = models.CharField(max_length=200)
    reproduce = models.TextField("steps to reproduce", blank=True)
    effects = models.TextField("effects and the configuration needed", blank=True)
    impact = models.TextField("how it affects users; the attack surface", blank=True)
    others_involved = models.TextField("other projects or dependencies involved", blank=True)
    exposure = models.CharField(max_length=12, choices=Exposure.choices, default=Exposure.UNKNOWN)
    disclosure_plans = models.TextField("the reporter's disclosure plans", blank=True)
    credit_wanted = models.BooleanField(default=False)
    credit_as = models.CharField(max_length=200, blank=True)
    # Free text: the body of a mailed report, or the decrypted text of a pasted message.
    body = models.TextField(blank=True)
    # The message as it arrived, when it was encrypted to the team key.
    encrypted_original = models.TextField(blank=True)
    signer_fingerprint = models.CharField(max_length=40, blank=True)
    # A mailed report's Message-ID: the same message piped in twice makes one report.
    mail_message_id = models.CharField(max_length=255, blank=True)

    received_at = models.DateTimeField(default=timezone.now)
    # Set when the receipt went out; a periodic job sends any the queue lost.
    receipt_sent_at = models.DateTimeField(null=True, blank=True)
    first_response_warn_at = models.DateTimeField()
    first_response_due_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    # Set once each by the periodic job, so staff hear once and a second beat does nothing.
    sla_warned_at = models.DateTimeField(null=True, blank=True)
    sla_overdue_at = models.DateTimeField(null=True, blank=True)

    decision_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    vulnerability = models.ForeignKey(
        "embargo.Vulnerability",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reports",
    )
    merged = models.BooleanField(default=False)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["state", "first_response_due_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["mail_message_id"],
                condition=~models.Q(mail_message_id=""),
                name="report_mail_message_id_once",
            )
        ]

    def __str__(self) -> str:
        return self.reference

    OPEN_STATES = (State.RECEIVED, State.VALID, State.ACCEPTED, State.DEFERRED)


class ReportMessage(models.Model):
    """One turn of the conversation on the reporter's page."""

    class Author(models.TextChoices):
        REPORTER = "reporter", "Reporter"
        TEAM = "team", "Security team"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=8, choices=Author.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    # A team message is mailed to the reporter (encrypted, or as "there is news");
    # a periodic job sends any the queue lost.
    mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_author_display()} on {self.report_id}"


class ReportAttachment(models.Model):
    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="attachments")
    message = models.ForeignKey(
        ReportMessage, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    # The name the reporter gave, cleaned; the file on disk has a random name.
    name = models.CharField(max_length=200)
    file = models.FileField(storage=attachment_storage_get, max_length=200)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.name
