"""Demo data for a local run, the membership half: a staff reviewer with TOTP, applicants
in different states and member organisations that can vouch.

Everything goes through the services, so the audit log reads like real use. Running it
again changes nothing: each step first looks for what it would create. The `demo` command
lives in embargo (embargo/management/commands/demo.py): it calls `demo_people_and_members`
here, then adds the embargo half. This module never imports embargo.
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.contrib.auth import get_user_model

from distributors.models import (
    Application,
    Criterion,
    CriterionReview,
    Organization,
    TeamMember,
    Vouch,
)
from distributors.selectors import policy_current
from distributors.services import (
    application_decide,
    application_submit,
    criterion_answer_save,
    criterion_review_record,
    organization_apply,
    organization_vouch_listing_set,
    policy_accept,
    vouch_confirm,
    vouch_request,
)
from distributors.services.founding import organization_found

# A fixed base32 secret so the same authenticator entry keeps working after a reset of
# var/. It is printed, so it only ever exists where `demo` runs: never in production.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPHAULOUTDEMO2345A"  # noqa: S105 (demo only, printed)


@dataclass(frozen=True)
class DemoPerson:
    username: str
    email: str
    password: str
    staff: bool = False


REVIEWER = DemoPerson(
    username="demo-reviewer",
    email="reviewer@security-team.example.org",
    password="walrus-reviews-every-claim-42",  # noqa: S106
    staff=True,
)
MEMBER_ADMIN = DemoPerson(
    username="demo-selkie",
    email="admin@selkie-bsd.example.org",
    password="selkie-vouches-for-you-17",  # noqa: S106
)
SUBMITTED_ADMIN = DemoPerson(
    username="demo-harbour",
    email="admin@harbour-linux.example.org",
    password="harbour-linux-has-applied-23",  # noqa: S106
)
DRAFT_ADMIN = DemoPerson(
    username="demo-driftwood",
    email="admin@driftwood-os.example.org",
    password="driftwood-os-is-drafting-31",  # noqa: S106
)
# The list's founding member: nobody can vouch for the very first member, so it is entered
# with `manage.py founding_member` (the same service) and vouches for Selkie BSD.
FOUNDER = DemoPerson(
    username="demo-walrus",
    email="security@walrus-linux.example.org",
    password="walrus-linux-founded-the-list-8",  # noqa: S106
)
DEMO_PEOPLE = (REVIEWER, FOUNDER, MEMBER_ADMIN, SUBMITTED_ADMIN, DRAFT_ADMIN)

EVIDENCE = {
    1: "We publish signed builds of the project in our stable and testing channels; the "
    "latest release reached users last week.",
    2: "Our distribution is used by a public community of several thousand installations "
    "and by hosting providers we do not control.",
    3: "Every security fix we ship gets a public advisory with the upstream reference.",
    4: "We build from upstream sources on our own infrastructure with our own patches.",
    5: "Our maintainers review upstream changes and report packaging bugs upstream.",
    6: "We accept the embargo policy for our organisation and everyone we bring in.",
    7: "A maintainer at Selkie BSD knows our security work and has offered to vouch.",
}


def _links(number: int, slug: str) -> list[str]:
    return [f"https://{slug}.example.org/evidence/criterion-{number}"]


@dataclass(frozen=True)
class DemoMembers:
    """What the embargo half of the demo builds on."""

    reviewer: object
    founder: object
    member_admin: object
    walrus: Organization
    selkie: Organization


def demo_refused() -> str | None:
    """Why the demo must not run here, or None. Known passwords and a printed TOTP secret
    must never reach a real deployment."""
    if settings.SECURE:
        return (
            "Refusing to create demo accounts with known passwords: this looks like a "
            "production configuration (DJANGO_SECURE is on). Run with DJANGO_SECURE=0."
        )
    return None


def demo_people_and_members() -> DemoMembers:
    """People, organisations and applications; the caller holds the transaction."""
    reviewer = _ensure_person(REVIEWER)
    _ensure_totp(reviewer)
    founder = _ensure_founding_member()
    member_admin = _ensure_person(MEMBER_ADMIN)
    selkie = _ensure_member_organization(
        admin=member_admin,
        reviewer=reviewer,
        name="Selkie BSD",
        slug="selkie-bsd",
        voucher=founder,
    )
    # Selkie BSD offers to vouch, so an applicant sees whom to ask (unchanged on a rerun).
    organization_vouch_listing_set(
        actor=member_admin,
        organization=selkie,
        contact=TeamMember.objects.get(organization=selkie, user=member_admin),
    )
    harbour_admin = _ensure_person(SUBMITTED_ADMIN)
    # Selkie BSD's admin is asked to vouch and has not answered yet.
    _ensure_application(
        admin=harbour_admin,
        name="Harbour Linux",
        slug="harbour-linux",
        answered=sorted(EVIDENCE),
        submit=True,
        voucher=member_admin,
    )
    driftwood_admin = _ensure_person(DRAFT_ADMIN)
    _ensure_application(
        admin=driftwood_admin,
        name="Driftwood OS",
        slug="driftwood-os",
        answered=[1, 2, 3],
        submit=False,
    )
    return DemoMembers(
        reviewer=reviewer,
        founder=founder,
        member_admin=member_admin,
        walrus=Organization.objects.get(name="Walrus Linux"),
        selkie=selkie,
    )


def demo_summary_lines() -> list[str]:
    lines = [f"Demo data is ready. Sign in at {settings.SITE_URL}/accounts/login/ with:"]
    for person, role in (
        (REVIEWER, "security team reviewer (staff, TOTP)"),
        (FOUNDER, "admin of Walrus Linux (founding member, TOTP)"),
        # The embargo half of the demo gives both members' admins TOTP: they receive notices.
        (MEMBER_ADMIN, "admin of Selkie BSD (member, TOTP, offers to vouch; Harbour Linux asked)"),
        (SUBMITTED_ADMIN, "admin of Harbour Linux (application submitted)"),
        (DRAFT_ADMIN, "admin of Driftwood OS (draft, 3 of 7 answered)"),
    ):
        lines.append(f"  {person.email:34} password: {person.password:32} {role}")
    lines.append(
        f"TOTP secret of those marked TOTP (base32, for an authenticator app): {DEMO_TOTP_SECRET}"
    )
    lines.append("No authenticator app? `python3 dev.py totp` prints the current 6-digit code.")
    return lines


def _ensure_person(person: DemoPerson):
    User = get_user_model()
    user = User.objects.filter(email__iexact=person.email).first()
    if user is None:
        user = User(username=person.username, email=person.email, is_staff=person.staff)
        user.set_password(person.password)
        user.save()
    # allauth only lets a verified primary address sign in.
    EmailAddress.objects.get_or_create(
        user=user, email=person.email, defaults={"verified": True, "primary": True}
    )
    return user


def _ensure_totp(user) -> None:
    # An authenticator the person enrolled themselves is kept: `demo_totp` reads whatever
    # secret is stored.
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_TOTP_SECRET)
    RecoveryCodes.activate(user)


def _ensure_founding_member():
    founder = _ensure_person(FOUNDER)
    if not Organization.objects.filter(name="Walrus Linux").exists():
        organization_found(
            actor=None,
            name="Walrus Linux",
            website="https://walrus-linux.example.org",
            admin_email=founder.email,
        )
    return founder


def _ensure_policy_and_vouch(*, application: Application, admin, voucher) -> None:
    """Criteria 6 and 7: the applicant's own acceptance and a vouch request."""
    policy_accept(
        user=admin, version=policy_current(), ip_address=None, user_agent="manage.py demo"
    )
    if voucher is not None and not application.vouches.filter(voucher=voucher).exists():
        vouch_request(application=application, voucher_email=voucher.email, actor=admin)


def _ensure_application(
    *, admin, name: str, slug: str, answered: list[int], submit: bool, voucher=None
) -> Application:
    organization = Organization.objects.filter(name=name).first()
    if organization is None:
        application = organization_apply(
            actor=admin, name=name, website=f"https://{slug}.example.org"
        )
    else:
        application = organization.applications.order_by("-created_at").first()
    if application.state != Application.State.DRAFT:
        return application
    already = set(application.answers.values_list("criterion__number", flat=True))
    for criterion in Criterion.objects.filter(number__in=answered, is_active=True):
        if criterion.number not in already:
            criterion_answer_save(
                application=application,
                criterion=criterion,
                evidence=EVIDENCE[criterion.number],
                links=_links(criterion.number, slug),
                actor=admin,
            )
    if submit:
        _ensure_policy_and_vouch(application=application, admin=admin, voucher=voucher)
        application = application_submit(application=application, actor=admin)
    return application


def _ensure_member_organization(*, admin, reviewer, name: str, slug: str, voucher) -> Organization:
    """An existing member, admitted through the same review every applicant goes through."""
    application = _ensure_application(
        admin=admin, name=name, slug=slug, answered=sorted(EVIDENCE), submit=True, voucher=voucher
    )
    if application.state in Application.REVIEW_STATES:
        for vouch in application.vouches.filter(voucher=voucher, state=Vouch.State.REQUESTED):
            vouch_confirm(
                vouch=vouch,
                statement="We have worked with their security team on several fixes.",
                actor=voucher,
            )
        reviewed = set(application.reviews.values_list("criterion__number", flat=True))
        for criterion in Criterion.objects.filter(is_active=True):
            if criterion.number not in reviewed:
                criterion_review_record(
                    application=application,
                    criterion=criterion,
                    verdict=CriterionReview.Verdict.MET,
                    note="Checked for the demo.",
                    actor=reviewer,
                )
        application_decide(
            application=application,
            approve=True,
            reason="Founding member of the demo list.",
            actor=reviewer,
        )
    return Organization.objects.get(pk=application.organization_id)
