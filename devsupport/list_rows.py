"""Many rows for each paginated list, inserted in bulk: the list tests (10 against 100
rows) and benchmarks/pages.py (10 against 1,000) build their lists with these. Dev
support: not shipped. Rows are plain and valid, not realistic: a list page only reads
them."""

from __future__ import annotations

from itertools import count

from django.contrib.auth import get_user_model
from django.utils import timezone

from distributors.models import Application, Organization, TeamMember
from embargo.models import Delivery, Notice, Vulnerability
from leaks.models import LeakReport

_serial = count(1)


def _tag() -> int:
    # Names, slugs and addresses must be unique across calls within one database.
    return next(_serial)


def users_add(*, n: int, prefix: str = "row") -> list:
    User = get_user_model()
    tag = _tag()
    return User.objects.bulk_create(
        [
            User(username=f"{prefix}{tag}-{i}", email=f"{prefix}{tag}-{i}@rows.example.org")
            for i in range(n)
        ]
    )


def organizations_add(*, n: int, status: str = Organization.Status.MEMBER) -> list[Organization]:
    tag = _tag()
    now = timezone.now()
    return Organization.objects.bulk_create(
        [
            Organization(
                name=f"Rows {tag} distro {i:04d}",
                slug=f"rows-{tag}-{i}",
                website=f"https://rows{tag}-{i}.example.org",
                status=status,
                member_since=now if status == Organization.Status.MEMBER else None,
            )
            for i in range(n)
        ]
    )


def team_add(*, organization: Organization, n: int, need_to_know: bool = True) -> list:
    users = users_add(n=n, prefix=f"team{organization.pk}-")
    return TeamMember.objects.bulk_create(
        [
            TeamMember(organization=organization, user=user, is_need_to_know=need_to_know)
            for user in users
        ]
    )


def applications_add(*, n: int, created_by, state: str = Application.State.SUBMITTED) -> list:
    now = timezone.now()
    return Application.objects.bulk_create(
        [
            Application(organization=org, created_by=created_by, state=state, submitted_at=now)
            for org in organizations_add(n=n, status=Organization.Status.APPLICANT)
        ]
    )


def cases_add(*, n: int, created_by, state: str = Vulnerability.State.TRIAGED) -> list:
    tag = _tag()
    now = timezone.now()
    return Vulnerability.objects.bulk_create(
        [
            Vulnerability(
                year=3000 + tag,
                number=i,
                public_id=f"ROWS-{tag}-{i:04d}",
                title=f"Rows case {i}",
                summary="A case for a list.",
                state=state,
                created_by=created_by,
                created_at=now,
                updated_at=now,
            )
            for i in range(n)
        ]
    )


def deliveries_add(*, notice: Notice, members: list[TeamMember], **fields) -> list[Delivery]:
    tag = _tag()
    now = timezone.now()
    fields.setdefault("state", Delivery.State.SENT)
    if fields["state"] == Delivery.State.SENT:
        fields.setdefault("sent_at", now)
    return Delivery.objects.bulk_create(
        [
            Delivery(
                notice=notice,
                member=member,
                user_id=member.user_id,
                organization_id=member.organization_id,
                email=member.user.email,
                reference_code=f"R{tag:04d}{i:05d}"[:16],
                message_id=f"<rows.{tag}.{i}@haulout.test>",
                created_at=now,
                **fields,
            )
            for i, member in enumerate(members)
        ]
    )


def notices_add(*, case: Vulnerability, n: int, author) -> list[Notice]:
    now = timezone.now()
    return Notice.objects.bulk_create(
        [
            Notice(
                vulnerability=case,
                outer_subject="Embargoed notice from the security team",
                subject=f"Rows notice {i}",
                body="A notice for a list.",
                audience_all=True,
                author=author,
                state=Notice.State.SENT,
                created_at=now,
                updated_at=now,
            )
            for i in range(n)
        ]
    )


def my_notices_add(*, member: TeamMember, case: Vulnerability, n: int, author) -> list[Delivery]:
    """N notices, each sent to the one person: their "my notices" list."""
    tag = _tag()
    now = timezone.now()
    return Delivery.objects.bulk_create(
        [
            Delivery(
                notice=notice,
                member=member,
                user_id=member.user_id,
                organization_id=member.organization_id,
                email=member.user.email,
                reference_code=f"M{tag:04d}{i:05d}"[:16],
                message_id=f"<mine.{tag}.{i}@haulout.test>",
                state=Delivery.State.SENT,
                sent_at=now,
                created_at=now,
            )
            for i, notice in enumerate(notices_add(case=case, n=n, author=author))
        ]
    )


def leaks_add(*, organization: Organization, case: Vulnerability, n: int, reported_by) -> list:
    now = timezone.now()
    return LeakReport.objects.bulk_create(
        [
            LeakReport(
                organization=organization,
                vulnerability=case,
                source=LeakReport.Source.FOUND,
                what_leaked="Rows leak.",
                leaked_to="Nobody in particular.",
                how="Unknown.",
                state=LeakReport.State.OPEN,
                reported_by=reported_by,
                reported_at=now,
            )
            for _ in range(n)
        ]
    )
