"""What is embargoed and when: cases, the notices about them and their per-person copies.

String forms never include a title, subject or body: they end up in audit events, logs
and admin pages, where embargoed text must not appear.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from distributors.models import Organization, TeamMember
from embargo.tracing.catalogue import CURRENT_VERSION as CATALOGUE_VERSION

TEXT_MAX_LENGTH = 20000
REASON_MAX_LENGTH = 2000


class CaseSequence(models.Model):
    """The last public number handed out in a year; its row is the lock that keeps
    two cases opened at the same moment from getting the same number."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class FixState(models.TextChoices):
    NONE = "", "Not started"
    IN_PROGRESS = "in_progress", "Fix in progress"
    READY_FOR_TESTING = "ready_for_testing", "Ready for testing"
    RELEASED = "released", "Released"


class Vulnerability(models.Model):
    """A case, from the private report to the public advisory."""

    FixState = FixState

    class State(models.TextChoices):
        REPORTED = "reported", "Reported"
        TRIAGED = "triaged", "Triaged"
        FIXING = "fixing", "Fix in progress"
        NOTIFIED = "notified", "Distributors notified"
        DISCLOSED = "disclosed", "Disclosed"
        REJECTED = "rejected", "Rejected"

    OPEN_STATES = (State.REPORTED, State.TRIAGED, State.FIXING, State.NOTIFIED)
    # States whose embargo the lift task ends at the disclosure time. A case still at
    # "reported" has not been looked at, so it is never published by the clock alone.
    LIFTABLE_STATES = (State.TRIAGED, State.FIXING, State.NOTIFIED)

    class Severity(models.TextChoices):
        NONE = "None", "None"
        LOW = "Low", "Low"
        MEDIUM = "Medium", "Medium"
        HIGH = "High", "High"
        CRITICAL = "Critical", "Critical"

    public_id = models.CharField(max_length=20, unique=True)
    year = models.PositiveSmallIntegerField()
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    summary = models.TextField(
        help_text="Private: what the issue is and who reported it. Markdown.",
        validators=[MaxLengthValidator(TEXT_MAX_LENGTH)],
    )
    cvss_vector = models.CharField(max_length=200, blank=True)
    cvss_version = models.CharField(max_length=8, blank=True)
    cvss_score = models.DecimalField(max_digits=3, decimal_places=1, null=True, blank=True)
    cvss_severity = models.CharField(max_length=16, choices=Severity.choices, blank=True)
    # Private until disclosure: a CVE id alone lets an outsider watch for the fix.
    cve_id = models.CharField(max_length=32, blank=True)
    # The weakness types (CWE-<number>), comma-separated in the team's order; published
    # with the advisory beside the CVE id.
    cwe_ids = models.CharField(max_length=200, blank=True)
    disclosure_at = models.DateTimeField(null=True, blank=True)
    # Where the fix stands; shown on the case and in the notices' template data.
    fix_state = models.CharField(max_length=20, choices=FixState.choices, default=FixState.NONE)
    fix_version = models.CharField(max_length=100, blank=True)
    fix_released_on = models.DateField(null=True, blank=True)
    # What the free-text affected/fixed versions said before they became structured
    # (AffectedPackage); kept for the team, never exported.
    versions_note = models.TextField(blank=True, validators=[MaxLengthValidator(REASON_MAX_LENGTH)])
    # The name the reporter asked to be credited under in the advisory; empty: no credit.
    credit = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.REPORTED)
    rejection_reason = models.TextField(
        blank=True, validators=[MaxLengthValidator(REASON_MAX_LENGTH)]
    )
    mitigation = models.TextField(
        blank=True,
        help_text="For the public advisory. Markdown.",
        validators=[MaxLengthValidator(TEXT_MAX_LENGTH)],
    )
    # For the public advisory; the private summary is never published.
    public_description = models.TextField(
        blank=True,
        help_text="For the public advisory. Markdown.",
        validators=[MaxLengthValidator(TEXT_MAX_LENGTH)],
    )
    # The reporter: told when the case is rejected or its disclosure date moves, encrypted
    # to the fingerprint pinned here; without a key only a mail that says nothing.
    reporter_name = models.CharField(max_length=200, blank=True)
    reporter_email = models.EmailField(blank=True)
    reporter_public_key = models.TextField(blank=True)
    reporter_key_fingerprint = models.CharField(max_length=40, blank=True)
    reported_at = models.DateTimeField(default=timezone.now)
    first_response_at = models.DateTimeField(null=True, blank=True)
    # When staff were told the first response is overdue, so they are told once.
    first_response_alerted_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    disclosed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-year", "-number"]
        verbose_name_plural = "vulnerabilities"
        constraints = [
            models.UniqueConstraint(fields=["year", "number"], name="one_number_per_year"),
        ]
        indexes = [models.Index(fields=["state", "disclosure_at"])]

    def __str__(self) -> str:
        return self.public_id

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def cwe_id_list(self) -> list[str]:
        return [part.strip() for part in self.cwe_ids.split(",") if part.strip()]

    @property
    def fix_summary(self) -> str:
        """Where the fix stands, in one line: "Released in 2.4.1 on 2026-12-01", "Ready for
        testing (2.4.1)", "Not started". For the case page, the notices and the advisory."""
        if self.fix_state == FixState.RELEASED:
            text = f"Released in {self.fix_version}" if self.fix_version else "Released"
            if self.fix_released_on:
                text += f" on {self.fix_released_on.isoformat()}"
            return text
        label = self.get_fix_state_display()
        return f"{label} ({self.fix_version})" if self.fix_version else label

    def get_advisory_url(self) -> str:
        return _reverse_or(
            "embargo:advisory_detail", f"/advisories/{self.public_id}/", public_id=self.public_id
        )


def _reverse_or(name: str, fallback: str, **kwargs) -> str:
    # The pages are built separately; mail written before they exist still links somewhere.
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return fallback


class CvssRating(models.Model):
    """A case's CVSS base score in one version of the standard: a case may keep a 3.1
    and a 4.0 rating side by side. The case's own cvss_* fields hold the one the
    advisory shows (the last set)."""

    class Version(models.TextChoices):
        V3_1 = "3.1", "CVSS 3.1"
        V4_0 = "4.0", "CVSS 4.0"

    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.CASCADE, related_name="cvss_ratings"
    )
    version = models.CharField(max_length=8, choices=Version.choices)
    vector = models.CharField(max_length=200)
    score = models.DecimalField(max_digits=3, decimal_places=1)
    severity = models.CharField(max_length=16, choices=Vulnerability.Severity.choices)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField()

    class Meta:
        ordering = ["version"]
        constraints = [
            models.UniqueConstraint(
                fields=["vulnerability", "version"], name="one_cvss_rating_per_version"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vulnerability_id} CVSS {self.version}"


class Notice(models.Model):
    """One embargoed message about a case; each person gets their own encrypted copy."""

    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"

    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.PROTECT, related_name="notices"
    )
    # What mail servers and inboxes show; never anything about the issue.
    outer_subject = models.CharField(max_length=200)
    # Only ever sent inside the encrypted part.
    subject = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown.", validators=[MaxLengthValidator(TEXT_MAX_LENGTH)])
    audience_all = models.BooleanField(
        default=True, help_text="Every member organisation, or only the chosen ones."
    )
    organizations = models.ManyToManyField(Organization, blank=True, related_name="+")
    # Which version of the tracing catalogue varies the body (embargo/tracing/catalogue.py):
    # kept with the notice, so a later catalogue never changes how its copies read. 0:
    # notices from before the catalogue (the author's marks and the framing only).
    tracing_catalogue = models.PositiveSmallIntegerField(default=CATALOGUE_VERSION)
    # The catalogue's points the author switched off in the preview, by id ("do-not#2").
    variation_off = models.JSONField(default=list, blank=True)
    # An update to a sent notice is a new notice: what people received never changes.
    revises = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="revisions"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    send_started_at = models.DateTimeField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Notice #{self.pk}"

    def get_staff_url(self) -> str:
        return _reverse_or("embargo:notice_detail", f"/staff/notices/{self.pk}/", pk=self.pk)


class Delivery(models.Model):
    """One person's copy of one notice, and everything that happened to it."""

    class State(models.TextChoices):
        PENDING = "pending", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # The mail server may hold the copy: the connection was lost after the whole
        # message had gone out, twice. Never tried again automatically (it could be a
        # third copy); staff are told and decide.
        UNCERTAIN = "uncertain", "Delivery uncertain"
        WITHHELD = "withheld", "Withheld"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATES = (State.PENDING, State.SENDING)
    FINAL_STATES = (State.SENT, State.FAILED, State.UNCERTAIN, State.WITHHELD, State.CANCELLED)
    # Final states that need a person: the security team hears of each (once).
    ATTENTION_STATES = (State.FAILED, State.UNCERTAIN)

    # Indexed by one_delivery_per_person, which starts with it: every index on this table
    # is written again each time a copy changes state (claimed, sent), so none is spare.
    notice = models.ForeignKey(
        Notice, on_delete=models.PROTECT, related_name="deliveries", db_index=False
    )
    # The person and organisation as they were at send time; the membership row can go.
    member = models.ForeignKey(
        TeamMember, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    email = models.EmailField()
    # The key the copy must be encrypted to, pinned when "send" was pressed.
    fingerprint = models.CharField(max_length=40, blank=True)
    # Unique through Meta.constraints: a unique=True field would get a second index for
    # LIKE queries on PostgreSQL, which nothing here makes.
    reference_code = models.CharField(max_length=16)
    # Fixed once, so a copy sent again after a crash is recognisably the same message.
    message_id = models.CharField(max_length=200)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    reasons = models.JSONField(default=list, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    # Counts claims; the claim number also fences a slow worker out of a row that the
    # sweeper has since handed to another one.
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    # A pending row: when the sweeper queues it (again) if no task has claimed it by
    # then. Queued at send: a little later, in case the message is lost; after a
    # temporary failure: when the retry is due (capped backoff).
    due_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # A sending row belongs to its claimant until then; the claimant renews it and checks
    # it before every hand-off to SMTP, and the sweeper takes back rows whose lease ran out
    # (a killed or frozen worker).
    lease_until = models.DateTimeField(null=True, blank=True)
    # Temporary failures (SMTP 4xx or down, gpg missing, database gone) in a row, and the
    # moment the copy stops waiting for them (set at the first one, hours later).
    temporary_failures = models.PositiveIntegerField(default=0)
    give_up_at = models.DateTimeField(null=True, blank=True)
    # When a hand-off first ended ambiguously (connection lost after the whole message
    # went out): the copy gets one more try, with the same Message-ID, and no other.
    uncertain_at = models.DateTimeField(null=True, blank=True)
    # When staff were told that this copy failed or is uncertain.
    attention_alerted_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    staff_alerted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["notice", "organization__name", "email"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["notice", "user"], name="one_delivery_per_person"),
            models.UniqueConstraint(fields=["reference_code"], name="delivery_reference_unique"),
            models.UniqueConstraint(fields=["message_id"], name="delivery_message_id_unique"),
        ]
        # Each for the one state its queries ask about (the sweeper: pending and sending
        # rows; the reminders: sent ones): a row in any other state is in none of them.
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(state="pending"), name="delivery_pending_due"
            ),
            models.Index(
                fields=["lease_until"], condition=Q(state="sending"), name="delivery_sending_lease"
            ),
            models.Index(fields=["sent_at"], condition=Q(state="sent"), name="delivery_sent_at"),
        ]

    def __str__(self) -> str:
        return f"Delivery #{self.pk} of notice #{self.notice_id}"

    @property
    def acknowledgement_path(self) -> str:
        return f"/notices/ack/{self.reference_code}/"


class DeliveryVariation(models.Model):
    """Which wording each variation point of one copy used (see embargo/tracing.py).
    Written when the copy is first rendered; a re-send renders the same choices."""

    delivery = models.OneToOneField(
        "embargo.Delivery", on_delete=models.PROTECT, related_name="variation"
    )
    choices = models.JSONField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Variation of delivery #{self.delivery_id}"


class DisclosureProposal(models.Model):
    """A proposed public disclosure time for a case, made by the security team, the
    reporter (through their report page) or a need-to-know person of a member
    organisation that was told about the case. A counter-proposal is a proposal whose
    counter_to is the one it answers. Rows are never deleted: with the case's audit events
    they are the negotiation's history. The team's decision (disclosure_date_set) marks
    the proposal it chose, if any, and supersedes the other open ones."""

    class Party(models.TextChoices):
        TEAM = "team", "The security team"
        REPORTER = "reporter", "The reporter"
        MEMBER = "member", "A member organisation"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        CHOSEN = "chosen", "Chosen by the team"
        SUPERSEDED = "superseded", "Superseded"

    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.PROTECT, related_name="disclosure_proposals"
    )
    proposed_by = models.CharField(max_length=16, choices=Party.choices)
    # Staff or the member's person; empty for the reporter, who has no account.
    proposed_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    proposed_by_organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The proposed disclosure date and time (aware; shown in UTC).
    disclosure_at = models.DateTimeField()
    reason = models.TextField(validators=[MaxLengthValidator(REASON_MAX_LENGTH)])
    # Answers are taken until then.
    reply_by = models.DateTimeField()
    counter_to = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="counters"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["vulnerability", "state"], name="proposal_case_state")]
        constraints = [
            models.CheckConstraint(
                condition=Q(proposed_by="member", proposed_by_organization__isnull=False)
                | (~Q(proposed_by="member") & Q(proposed_by_organization__isnull=True)),
                name="proposal_organization_only_for_members",
            ),
        ]

    def __str__(self) -> str:
        return f"Disclosure proposal #{self.pk} for case #{self.vulnerability_id}"

    @property
    def audit_organization(self):
        return self.proposed_by_organization

    def replies_open(self, now=None) -> bool:
        return self.state == self.State.OPEN and (now or timezone.now()) <= self.reply_by


class ProposalAnswer(models.Model):
    """One invited party's answer to one proposal. A counter-proposal is itself a
    proposal (counter), answered in its turn."""

    class Answer(models.TextChoices):
        ACCEPT = "accept", "Accept"
        OBJECT = "object", "Object"
        COUNTER = "counter", "Counter-propose"

    proposal = models.ForeignKey(
        DisclosureProposal, on_delete=models.PROTECT, related_name="answers"
    )
    party = models.CharField(max_length=16, choices=DisclosureProposal.Party.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answer = models.CharField(max_length=16, choices=Answer.choices)
    reason = models.TextField(blank=True, validators=[MaxLengthValidator(REASON_MAX_LENGTH)])
    counter = models.OneToOneField(
        DisclosureProposal,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="answered_with",
    )
    answered_at = models.DateTimeField()

    class Meta:
        ordering = ["answered_at", "pk"]
        constraints = [
            # One answer per party and proposal; the database has the last word when two
            # people of one organisation press the button at the same moment.
            models.UniqueConstraint(
                fields=["proposal", "organization"],
                condition=Q(party="member"),
                name="one_answer_per_organization",
            ),
            models.UniqueConstraint(
                fields=["proposal"], condition=Q(party="reporter"), name="one_reporter_answer"
            ),
            models.UniqueConstraint(
                fields=["proposal"], condition=Q(party="team"), name="one_team_answer"
            ),
            models.CheckConstraint(
                condition=Q(party="member", organization__isnull=False)
                | (~Q(party="member") & Q(organization__isnull=True)),
                name="answer_organization_only_for_members",
            ),
        ]

    def __str__(self) -> str:
        return f"Answer #{self.pk} to disclosure proposal #{self.proposal_id}"


class AffectedPackage(models.Model):
    """A package the case affects, named the way OSV and CSAF name it, with its ranges.
    Private like the case until disclosure."""

    class Ecosystem(models.TextChoices):
        # OSV's ecosystem names, spelled as OSV spells them; GIT is the upstream source
        # repository, whose ranges are commits rather than versions.
        GIT = "GIT", "Upstream source (git)"
        PYPI = "PyPI", "PyPI"
        NPM = "npm", "npm"
        GO = "Go", "Go"
        MAVEN = "Maven", "Maven"
        CRATES_IO = "crates.io", "crates.io"
        NUGET = "NuGet", "NuGet"
        RUBYGEMS = "RubyGems", "RubyGems"
        PACKAGIST = "Packagist", "Packagist"
        DEBIAN = "Debian", "Debian"
        ALPINE = "Alpine", "Alpine"

    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.CASCADE, related_name="packages"
    )
    ecosystem = models.CharField(max_length=20, choices=Ecosystem.choices)
    name = models.CharField(max_length=200)
    # A package URL (purl) where one fits, checked with packageurl-python.
    purl = models.CharField(max_length=300, blank=True)
    # For GIT: the repository the commits in the ranges belong to.
    repository_url = models.URLField(max_length=300, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["vulnerability", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["vulnerability", "ecosystem", "name"], name="one_package_entry_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ecosystem}:{self.name}"


class VersionRange(models.Model):
    """Versions from `introduced` up to (not including) `fixed`, or up to and including
    `last_affected` when no fix exists yet. "0" as introduced means every earlier one."""

    package = models.ForeignKey(AffectedPackage, on_delete=models.CASCADE, related_name="ranges")
    introduced = models.CharField(max_length=100, default="0")
    fixed = models.CharField(max_length=100, blank=True)
    last_affected = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["package", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fixed="") | Q(last_affected=""), name="range_fixed_or_last_affected"
            ),
        ]

    def __str__(self) -> str:
        return f"range #{self.pk}"


class FixReference(models.Model):
    """A commit, patch or release that fixes the case. Private until disclosure: a
    commit link before then is the vulnerability itself."""

    class Kind(models.TextChoices):
        COMMIT = "commit", "Commit"
        PATCH = "patch", "Patch"
        RELEASE = "release", "Release"

    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.CASCADE, related_name="fix_references"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    url = models.URLField(max_length=500, blank=True)
    # A full or abbreviated commit id, for a commit with no public URL yet.
    commit = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=300, blank=True)
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["vulnerability", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class AdvisoryRevision(models.Model):
    """One published version of an advisory: the first at disclosure, one more each time
    the public text changes. The exports take their modified time and revision history
    from here."""

    vulnerability = models.ForeignKey(
        Vulnerability, on_delete=models.CASCADE, related_name="advisory_revisions"
    )
    number = models.PositiveIntegerField()
    published_at = models.DateTimeField()
    summary = models.CharField(max_length=300)

    class Meta:
        ordering = ["vulnerability", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["vulnerability", "number"], name="one_advisory_revision_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vulnerability_id} rev {self.number}"
