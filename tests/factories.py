"""Factories for every model; tests build their world from these."""

from __future__ import annotations

from datetime import timedelta

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.calendar import business_days_add
from distributors.models import (
    Application,
    Criterion,
    CriterionAnswer,
    CriterionReview,
    Organization,
    PolicyAcceptance,
    PolicyVersion,
    Question,
    TeamMember,
    Vouch,
)

PASSWORD = "correct horse battery staple 42"


def security_key_add(user, *, name: str = "Desk key", rp_id: str = "testserver"):
    """A security key (WebAuthn) registered for `user` as allauth stores one: a real
    attestation of a fresh P-256 key, so allauth can parse it and list it in a sign-in
    request (allowCredentials) like a key a browser registered."""
    import hashlib
    import os

    from allauth.mfa.webauthn.internal.auth import WebAuthn
    from cryptography.hazmat.primitives.asymmetric import ec
    from fido2.cose import ES256
    from fido2.utils import websafe_encode
    from fido2.webauthn import (
        Aaguid,
        AttestationObject,
        AttestedCredentialData,
        AuthenticatorData,
        CollectedClientData,
    )

    public_key = ES256.from_cryptography_key(ec.generate_private_key(ec.SECP256R1()).public_key())
    credential_id = os.urandom(16)
    auth_data = AuthenticatorData.create(
        hashlib.sha256(rp_id.encode()).digest(),
        AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.AT,
        0,
        AttestedCredentialData.create(Aaguid.NONE, credential_id, public_key),
    )
    client_data = CollectedClientData.create(
        type="webauthn.create", challenge=os.urandom(16), origin=f"http://{rp_id}"
    )
    credential = {
        "id": websafe_encode(credential_id),
        "rawId": websafe_encode(credential_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": websafe_encode(bytes(client_data)),
            "attestationObject": websafe_encode(
                bytes(AttestationObject.create("none", auth_data, {}))
            ),
        },
        "clientExtensionResults": {},
    }
    return WebAuthn.add(user, name, credential).instance


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        # allauth only lets a verified primary address sign in.
        if create and extracted is not False:
            EmailAddress.objects.update_or_create(
                user=obj, email=obj.email, defaults={"verified": True, "primary": True}
            )
        if create:
            obj.save()


class StaffFactory(UserFactory):
    is_staff = True


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Distro {n}")
    slug = factory.Sequence(lambda n: f"distro-{n}")
    website = factory.Sequence(lambda n: f"https://distro{n}.example.org")
    status = Organization.Status.APPLICANT


class MemberOrganizationFactory(OrganizationFactory):
    status = Organization.Status.MEMBER
    member_since = factory.LazyFunction(timezone.now)


class TeamMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMember

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    is_admin = False
    is_need_to_know = False


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Application

    organization = factory.SubFactory(OrganizationFactory)
    created_by = factory.LazyAttribute(
        lambda o: TeamMemberFactory(organization=o.organization, is_admin=True).user
    )
    state = Application.State.DRAFT
    submitted_at = factory.Maybe(
        factory.LazyAttribute(lambda o: o.state != Application.State.DRAFT),
        yes_declaration=factory.LazyFunction(timezone.now),
        no_declaration=None,
    )


def criterion(number: int) -> Criterion:
    return Criterion.objects.get(number=number)


class CriterionAnswerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CriterionAnswer

    application = factory.SubFactory(ApplicationFactory)
    criterion = factory.LazyFunction(lambda: criterion(1))
    evidence = "We ship it in our stable channel; see the links."
    links = factory.LazyFunction(lambda: ["https://example.org/evidence"])


class CriterionReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CriterionReview

    application = factory.SubFactory(ApplicationFactory, state=Application.State.IN_REVIEW)
    criterion = factory.LazyFunction(lambda: criterion(1))
    verdict = CriterionReview.Verdict.MET
    note = ""
    reviewer = factory.SubFactory(StaffFactory)
    reviewed_at = factory.LazyFunction(timezone.now)


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    application = factory.SubFactory(ApplicationFactory, state=Application.State.NEEDS_INFO)
    text = "Which release channels carry the fix?"
    asked_by = factory.SubFactory(StaffFactory)
    asked_at = factory.LazyFunction(timezone.now)


def _policy_sha256(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _next_policy_number() -> int:
    latest = PolicyVersion.objects.order_by("-number").values_list("number", flat=True).first()
    return (latest or 0) + 1


class PolicyVersionFactory(factory.django.DjangoModelFactory):
    """A newer version than any in the database (the migration seeds version 1)."""

    class Meta:
        model = PolicyVersion

    number = factory.LazyFunction(_next_policy_number)
    text = factory.LazyAttribute(lambda o: f"# Embargo policy v{o.number}\n\nKeep it private.\n")
    text_sha256 = factory.LazyAttribute(lambda o: _policy_sha256(o.text))
    published_by = factory.SubFactory(StaffFactory)
    published_at = factory.LazyFunction(timezone.now)


def policy_current_or_new() -> PolicyVersion:
    return PolicyVersion.objects.order_by("-number").first() or PolicyVersionFactory()


class PolicyAcceptanceFactory(factory.django.DjangoModelFactory):
    """Defaults to an acceptance of the CURRENT version."""

    class Meta:
        model = PolicyAcceptance
        django_get_or_create = ("user", "version")

    user = factory.SubFactory(UserFactory)
    version = factory.LazyFunction(policy_current_or_new)
    accepted_at = factory.LazyFunction(timezone.now)
    ip_address = "192.0.2.10"
    user_agent = "pytest"
    text_sha256 = factory.LazyAttribute(lambda o: o.version.text_sha256)


class VouchFactory(factory.django.DjangoModelFactory):
    """A confirmed vouch from a person of a member organisation (criterion 7 met)."""

    class Meta:
        model = Vouch

    application = factory.SubFactory(ApplicationFactory)
    voucher_organization = factory.SubFactory(MemberOrganizationFactory)
    voucher = factory.LazyAttribute(
        lambda o: TeamMemberFactory(organization=o.voucher_organization).user
    )
    state = Vouch.State.CONFIRMED
    statement = "I have worked with their security team for years."
    requested_by = factory.LazyAttribute(lambda o: o.application.created_by)
    requested_at = factory.LazyFunction(timezone.now)
    responded_at = factory.Maybe(
        factory.LazyAttribute(lambda o: o.state in (Vouch.State.CONFIRMED, Vouch.State.DECLINED)),
        yes_declaration=factory.LazyFunction(timezone.now),
        no_declaration=None,
    )


def answer_all_criteria(application: Application) -> None:
    """Every criterion answered as the system needs it: written evidence, the applicant's own
    acceptance of the current policy (criterion 6) and a confirmed vouch from a person of a
    member organisation (criterion 7)."""
    for item in Criterion.objects.filter(is_active=True):
        CriterionAnswerFactory(application=application, criterion=item)
    PolicyAcceptanceFactory(user=application.created_by, version=policy_current_or_new())
    if not application.vouches.filter(state=Vouch.State.CONFIRMED).exists():
        VouchFactory(application=application)


def review_all_criteria(application: Application, reviewer, verdict: str = "met") -> None:
    for item in Criterion.objects.filter(is_active=True):
        CriterionReviewFactory(
            application=application, criterion=item, reviewer=reviewer, verdict=verdict
        )


# --- Need-to-know teams, invitations and PGP keys (helper D2) ---------------------------


class InvitationFactory(factory.django.DjangoModelFactory):
    """An open invitation; `token` (not a model field) is the raw link token."""

    class Meta:
        model = "distributors.Invitation"
        exclude = ("token",)

    organization = factory.SubFactory(MemberOrganizationFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.org")
    is_admin = False
    is_need_to_know = True
    token = factory.Sequence(lambda n: f"test-invitation-token-{n}")
    token_sha256 = factory.LazyAttribute(lambda o: _policy_sha256(o.token))
    invited_by = factory.LazyAttribute(
        lambda o: TeamMemberFactory(organization=o.organization, is_admin=True).user
    )
    created_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda o: o.created_at + timedelta(days=7))


class PgpKeyFactory(factory.django.DjangoModelFactory):
    """A key row without real key material: for selectors and views that never run gpg."""

    class Meta:
        model = "distributors.PgpKey"

    user = factory.SubFactory(UserFactory)
    fingerprint = factory.Sequence(lambda n: f"{n:040X}")
    armored = (
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n(not a real key)\n"
        "-----END PGP PUBLIC KEY BLOCK-----\n"
    )
    uids = factory.LazyAttribute(lambda o: [f"Test <{o.user.email}>"])
    algorithm = "ed25519/cv25519"
    key_created_at = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=365))
    state = "active"
    uploaded_at = factory.LazyFunction(timezone.now)
    verified_at = factory.Maybe(
        factory.LazyAttribute(lambda o: o.state in ("active", "replaced", "revoked")),
        yes_declaration=factory.LazyFunction(timezone.now),
        no_declaration=None,
    )


def make_eligible(member: TeamMember) -> TeamMember:
    """Give a team member everything a notice needs: member organisation, need-to-know,
    TOTP, the current policy accepted and a verified key."""
    from allauth.mfa.models import Authenticator

    organization = member.organization
    if organization.status != Organization.Status.MEMBER:
        organization.status = Organization.Status.MEMBER
        organization.save(update_fields=["status"])
    if not member.is_need_to_know:
        member.is_need_to_know = True
        member.save(update_fields=["is_need_to_know"])
    Authenticator.objects.get_or_create(
        user=member.user, type=Authenticator.Type.TOTP, defaults={"data": {"secret": "x"}}
    )
    PolicyAcceptanceFactory(user=member.user)
    if not member.user.pgp_keys.filter(state="active").exists():
        PgpKeyFactory(user=member.user)
    return member


# --- Embargo (cases, notices, per-person copies) --------------------------------------
# Rows built directly, for pages and selectors; the services have their own tests.


class VulnerabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "embargo.Vulnerability"

    year = factory.LazyFunction(lambda: timezone.now().year)
    number = factory.Sequence(lambda n: 9000 + n)
    public_id = factory.LazyAttribute(lambda o: f"HAUL-{o.year}-{o.number:04d}")
    title = factory.Sequence(lambda n: f"Case title {n}")
    summary = "Private summary of the issue and its reporter."
    state = "triaged"
    disclosure_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=10))
    created_by = factory.SubFactory(StaffFactory)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class AffectedPackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "embargo.AffectedPackage"

    vulnerability = factory.SubFactory(VulnerabilityFactory)
    ecosystem = "PyPI"
    name = factory.Sequence(lambda n: f"pinniped{n}")
    purl = factory.LazyAttribute(lambda o: f"pkg:pypi/{o.name}" if o.ecosystem == "PyPI" else "")
    repository_url = ""
    position = factory.Sequence(lambda n: n)


class VersionRangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "embargo.VersionRange"

    package = factory.SubFactory(AffectedPackageFactory)
    introduced = "0"
    fixed = "2.4.1"
    last_affected = ""


class FixReferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "embargo.FixReference"

    vulnerability = factory.SubFactory(VulnerabilityFactory)
    kind = "commit"
    url = factory.Sequence(lambda n: f"https://git.example.org/pinniped/commit/{n:040x}")
    commit = factory.Sequence(lambda n: f"{n:040x}")
    note = ""
    added_at = factory.LazyFunction(timezone.now)


class AdvisoryRevisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "embargo.AdvisoryRevision"

    vulnerability = factory.SubFactory(
        VulnerabilityFactory, state="disclosed", disclosed_at=factory.LazyFunction(timezone.now)
    )
    number = factory.Sequence(lambda n: n + 1)
    published_at = factory.LazyFunction(timezone.now)
    summary = "Initial public release"


class CvssRatingFactory(factory.django.DjangoModelFactory):
    """A CVSS 3.1 rating (9.8, Critical); pass version="4.0" with a 4.0 vector for the other."""

    class Meta:
        model = "embargo.CvssRating"

    vulnerability = factory.SubFactory(VulnerabilityFactory)
    version = "3.1"
    vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    score = "9.8"
    severity = "Critical"
    set_by = factory.SubFactory(StaffFactory)
    set_at = factory.LazyFunction(timezone.now)


class NoticeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "embargo.Notice"

    vulnerability = factory.SubFactory(VulnerabilityFactory)
    outer_subject = "Embargoed notice from the security team"
    subject = factory.Sequence(lambda n: f"Real subject {n}")
    body = "Apply the patch."
    audience_all = True
    author = factory.LazyAttribute(lambda o: o.vulnerability.created_by)
    state = "draft"
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "embargo.Delivery"

    notice = factory.SubFactory(NoticeFactory, state="sending")
    member = factory.SubFactory(TeamMemberFactory, is_need_to_know=True)
    user = factory.LazyAttribute(lambda o: o.member.user)
    organization = factory.LazyAttribute(lambda o: o.member.organization)
    email = factory.LazyAttribute(lambda o: o.user.email)
    fingerprint = factory.Sequence(lambda n: f"{n:040X}")
    reference_code = factory.Sequence(lambda n: f"REF{n:07d}")
    message_id = factory.Sequence(lambda n: f"<notice.{n}@haulout.test>")
    state = "sent"
    created_at = factory.LazyFunction(timezone.now)
    due_at = factory.LazyFunction(timezone.now)
    sent_at = factory.Maybe(
        factory.LazyAttribute(lambda o: o.state == "sent"),
        yes_declaration=factory.LazyFunction(timezone.now),
        no_declaration=None,
    )


class ReportFactory(factory.django.DjangoModelFactory):
    """A report as the form leaves it: received now, deadlines by the team's calendar."""

    class Meta:
        model = "intake.Report"

    reference = factory.Sequence(lambda n: f"R-TEST{n:05d}")
    secret = factory.Sequence(lambda n: f"{n:064x}")
    channel = "web"
    reporter_name = "Rosa Reporter"
    reporter_email = factory.Sequence(lambda n: f"reporter{n}@example.net")
    subject = factory.Sequence(lambda n: f"Report subject {n}")
    reproduce = "Run the decoder on the attached file."
    received_at = factory.LazyFunction(timezone.now)
    first_response_warn_at = factory.LazyAttribute(
        lambda o: business_days_add(start=o.received_at, days=2)
    )
    first_response_due_at = factory.LazyAttribute(
        lambda o: business_days_add(start=o.received_at, days=3)
    )


# --- Disclosure-date negotiation (embargo) ---------------------------------------------


class DisclosureProposalFactory(factory.django.DjangoModelFactory):
    """An open team proposal, ten days out, answers taken for five days."""

    class Meta:
        model = "embargo.DisclosureProposal"

    vulnerability = factory.SubFactory(VulnerabilityFactory)
    proposed_by = "team"
    proposed_by_user = factory.LazyAttribute(lambda o: o.vulnerability.created_by)
    proposed_by_organization = None
    disclosure_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=10))
    reason = "The fix ships in the next release."
    reply_by = factory.LazyFunction(lambda: timezone.now() + timedelta(days=5))
    state = "open"
    created_at = factory.LazyFunction(timezone.now)


class ProposalAnswerFactory(factory.django.DjangoModelFactory):
    """A member organisation's acceptance."""

    class Meta:
        model = "embargo.ProposalAnswer"

    proposal = factory.SubFactory(DisclosureProposalFactory)
    party = "member"
    organization = factory.SubFactory(MemberOrganizationFactory)
    user = factory.LazyAttribute(
        lambda o: TeamMemberFactory(organization=o.organization, is_need_to_know=True).user
    )
    answer = "accept"
    reason = ""
    answered_at = factory.LazyFunction(timezone.now)


# --- Member feedback (feedback) ---------------------------------------------------------


def _need_to_know_user(o):
    return TeamMemberFactory(organization=o.organization, is_need_to_know=True).user


class OrganizationStatusFactory(factory.django.DjangoModelFactory):
    """A member organisation's answer on a case: under investigation, not for publishing."""

    class Meta:
        model = "feedback.OrganizationStatus"

    vulnerability = factory.SubFactory(VulnerabilityFactory)
    organization = factory.SubFactory(MemberOrganizationFactory)
    status = "under_investigation"
    justification = ""
    product = ""
    fixed_version = ""
    statement = ""
    publish_after_disclosure = False
    updated_by = factory.LazyAttribute(_need_to_know_user)
    updated_at = factory.LazyFunction(timezone.now)


class PatchTestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "feedback.PatchTest"

    vulnerability = factory.SubFactory(VulnerabilityFactory)
    organization = factory.SubFactory(MemberOrganizationFactory)
    tested = "The patch from the notice"
    environment = "Our build on x86_64"
    result = "works"
    details = ""
    reported_by = factory.LazyAttribute(_need_to_know_user)
    reported_at = factory.LazyFunction(timezone.now)


class ThreadMessageFactory(factory.django.DjangoModelFactory):
    """A member's message to the team."""

    class Meta:
        model = "feedback.ThreadMessage"

    vulnerability = factory.SubFactory(VulnerabilityFactory)
    organization = factory.SubFactory(MemberOrganizationFactory)
    author = factory.LazyAttribute(_need_to_know_user)
    from_team = False
    body = "A question about the patch."
    created_at = factory.LazyFunction(timezone.now)
