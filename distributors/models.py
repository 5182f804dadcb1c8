"""Who may receive embargoed information: organisations, their applications and people."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.urls import reverse

EVIDENCE_MAX_LENGTH = 5000
NOTE_MAX_LENGTH = 2000
LINKS_MAX = 10


class Organization(models.Model):
    class Status(models.TextChoices):
        APPLICANT = "applicant", "Applicant"
        MEMBER = "member", "Member"
        SUSPENDED = "suspended", "Suspended"
        REMOVED = "removed", "Removed"

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    website = models.URLField(max_length=300)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPLICANT)
    created_at = models.DateTimeField(auto_now_add=True)
    member_since = models.DateTimeField(null=True, blank=True)
    # The latest suspension or removal, in words the organisation's people are shown.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True, validators=[MaxLengthValidator(2000)])
    # A suspension's planned end; None while suspended means "until lifted".
    suspended_until = models.DateTimeField(null=True, blank=True)
    # Opt-in: a member organisation willing to vouch for applicants names the person they
    # may ask; applicants see the name and that address where they ask for a vouch. None:
    # not listed.
    vouch_contact = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def audit_organization(self) -> Organization:
        # core.audit files an event about an organisation under that organisation.
        return self

    @property
    def is_member(self) -> bool:
        return self.status == self.Status.MEMBER


class TeamMember(models.Model):
    """A person in an organisation: its admins run the application and the team."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="people")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    is_admin = models.BooleanField(default=False)
    is_need_to_know = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_org"),
        ]
        ordering = ["organization", "user__email"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"


class Criterion(models.Model):
    """One of the membership criteria, kept as data so another project can word its own."""

    class Kind(models.TextChoices):
        EVIDENCE = "evidence", "Evidence reviewed by the security team"
        POLICY = "policy", "Acceptance of the embargo policy"
        VOUCH = "vouch", "Vouch from an existing member"

    number = models.PositiveSmallIntegerField(unique=True)
    key = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=200)
    guidance = models.TextField(
        help_text="What the applicant should show, in plain words.", max_length=2000
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.EVIDENCE)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["number"]
        verbose_name_plural = "criteria"

    def __str__(self) -> str:
        return f"{self.number}. {self.title}"


class Application(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        IN_REVIEW = "in_review", "In review"
        NEEDS_INFO = "needs_info", "Needs information"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        WITHDRAWN = "withdrawn", "Withdrawn"

    OPEN_STATES = (State.DRAFT, State.SUBMITTED, State.IN_REVIEW, State.NEEDS_INFO)
    # States the security team works on; a draft is still the applicant's own.
    REVIEW_STATES = (State.SUBMITTED, State.IN_REVIEW, State.NEEDS_INFO)
    FINAL_STATES = (State.APPROVED, State.REJECTED, State.WITHDRAWN)

    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="applications"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="applications_created"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications_decided",
    )
    decision_reason = models.TextField(blank=True, validators=[MaxLengthValidator(NOTE_MAX_LENGTH)])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open application per organisation: a second one would split the review.
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(state__in=["draft", "submitted", "in_review", "needs_info"]),
                name="one_open_application_per_org",
            ),
        ]
        indexes = [models.Index(fields=["state", "submitted_at"])]

    def __str__(self) -> str:
        return f"Application #{self.pk} from {self.organization}"

    def get_absolute_url(self) -> str:
        return reverse("distributors:application_detail", kwargs={"pk": self.pk})

    def get_review_url(self) -> str:
        return reverse("distributors:review_detail", kwargs={"pk": self.pk})

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def is_editable_by_applicant(self) -> bool:
        return self.state in (self.State.DRAFT, self.State.NEEDS_INFO)


class CriterionAnswer(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="answers")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="answers")
    evidence = models.TextField(validators=[MaxLengthValidator(EVIDENCE_MAX_LENGTH)])
    links = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["application", "criterion"], name="one_answer_per_criterion"
            ),
        ]
        ordering = ["criterion__number"]

    def __str__(self) -> str:
        return f"Answer to criterion {self.criterion_id} of application {self.application_id}"


class CriterionReview(models.Model):
    """The current verdict on one criterion; every earlier verdict is in the audit log."""

    class Verdict(models.TextChoices):
        MET = "met", "Met"
        NOT_MET = "not_met", "Not met"
        NEEDS_INFO = "needs_info", "Needs information"

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="reviews")
    criterion = models.ForeignKey(Criterion, on_delete=models.PROTECT, related_name="reviews")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    note = models.TextField(blank=True, validators=[MaxLengthValidator(NOTE_MAX_LENGTH)])
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    reviewed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["application", "criterion"], name="one_review_per_criterion"
            ),
        ]
        ordering = ["criterion__number"]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()}: criterion {self.criterion_id}"


class Question(models.Model):
    """A reviewer's request for more information, and the applicant's reply."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="questions")
    criterion = models.ForeignKey(
        Criterion, on_delete=models.PROTECT, null=True, blank=True, related_name="questions"
    )
    text = models.TextField(validators=[MaxLengthValidator(NOTE_MAX_LENGTH)])
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="questions_asked"
    )
    asked_at = models.DateTimeField()
    reply = models.TextField(blank=True, validators=[MaxLengthValidator(EVIDENCE_MAX_LENGTH)])
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="questions_replied",
    )
    replied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["asked_at", "pk"]

    def __str__(self) -> str:
        return f"Question #{self.pk} on application {self.application_id}"

    @property
    def is_open(self) -> bool:
        return self.replied_at is None


class Vouch(models.Model):
    """A member's word that the applicant is who they say (criterion 7)."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Waiting for the voucher"
        CONFIRMED = "confirmed", "Confirmed"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="vouches")
    voucher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vouches_given"
    )
    # The voucher's organisation when they vouched: the graph must survive people moving.
    voucher_organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="vouches_given"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.REQUESTED)
    statement = models.TextField(blank=True, validators=[MaxLengthValidator(NOTE_MAX_LENGTH)])
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="vouches_requested"
    )
    requested_at = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)
    # Set when the vouched-for organisation is removed, so staff look at the voucher again.
    flagged_at = models.DateTimeField(null=True, blank=True)
    flag_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "voucher"], name="one_vouch_per_voucher"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.voucher} for {self.application.organization}"


class PolicyVersion(models.Model):
    """A published embargo policy. The newest one is the one people must accept."""

    number = models.PositiveIntegerField(unique=True)
    text = models.TextField(help_text="Markdown.")
    text_sha256 = models.CharField(max_length=64)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"Embargo policy v{self.number}"


class PolicyAcceptance(models.Model):
    """One person's own acceptance of one policy version, with the evidence of it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="policy_acceptances"
    )
    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="acceptances")
    accepted_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    text_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "version"], name="one_acceptance_per_version"),
        ]

    def __str__(self) -> str:
        return f"{self.user} accepted policy {self.version_id}"


class Invitation(models.Model):
    """A single-use link an organisation admin sends to bring a person into the team."""

    VALID_DAYS = 7

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField()
    is_admin = models.BooleanField(default=False)
    is_need_to_know = models.BooleanField(default=True)
    # Only a hash is stored: a database reader cannot use a pending invitation.
    token_sha256 = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invitations_sent"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invitations_accepted",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.email} to {self.organization}"


class PgpKey(models.Model):
    """A person's public key. Encryption only ever names the pinned fingerprint."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for proof of possession"
        ACTIVE = "active", "Verified"
        REPLACED = "replaced", "Replaced"
        REVOKED = "revoked", "Revoked"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="pgp_keys"
    )
    fingerprint = models.CharField(max_length=40)
    armored = models.TextField()
    uids = models.JSONField(default=list)
    algorithm = models.CharField(max_length=40, blank=True)
    key_created_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    uploaded_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    # The proof code is stored hashed; the person sees it only inside the ciphertext.
    challenge_sha256 = models.CharField(max_length=64, blank=True)
    challenge_created_at = models.DateTimeField(null=True, blank=True)
    challenge_attempts = models.PositiveSmallIntegerField(default=0)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expiry_warned_days = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(state="active"), name="one_active_key_per_user"
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(state="pending"),
                name="one_pending_key_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint} ({self.get_state_display()})"


class BlockedIdentity(models.Model):
    """An account, email address or domain barred because the organisation it belonged
    to was permanently removed.

    An account or address bar is personal: its person is refused at every door
    (application, invitation, acceptance, eligibility). A domain only stops new
    applications. Staff may lift a personal bar; the row stays, with who lifted it and
    why, so the history is never lost."""

    class Kind(models.TextChoices):
        DOMAIN = "domain", "Email or web domain"
        EMAIL = "email", "Email address"
        ACCOUNT = "account", "Account"

    PERSONAL_KINDS = (Kind.EMAIL, Kind.ACCOUNT)

    kind = models.CharField(max_length=8, choices=Kind.choices)
    # Lower case; a domain also blocks its subdomains. An account bar holds the user id.
    value = models.CharField(max_length=254)
    # The person an account bar (or an address bar made by a removal) belongs to.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bars",
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="blocked_identities"
    )
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    lift_reason = models.TextField(blank=True, validators=[MaxLengthValidator(2000)])

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            # One bar in force per identity; lifted ones stay as history beside it.
            models.UniqueConstraint(
                fields=["kind", "value"],
                condition=models.Q(lifted_at__isnull=True),
                name="one_live_block_per_identity",
            ),
        ]
        indexes = [models.Index(fields=["user", "kind"], name="blocked_identity_user_kind")]
        verbose_name_plural = "blocked identities"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"

    @property
    def is_live(self) -> bool:
        return self.lifted_at is None
