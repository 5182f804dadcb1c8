"""A world for benchmarks and tests: a case ready for notices, and many eligible people
with real keys (bulk inserts, so 5,000 people take seconds, not minutes). Dev support: not
shipped, and built only on the apps' models and services."""

from __future__ import annotations

from datetime import timedelta

from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from devsupport.keyring import PersonKey
from distributors.models import Organization, PgpKey, PolicyAcceptance, PolicyVersion, TeamMember
from embargo.models import Notice, Vulnerability
from embargo.services import (
    affected_package_add,
    notice_create,
    version_range_add,
    vulnerability_create,
    vulnerability_transition,
)

CANARY = "The walrus canary sings at midnight"


def case_ready(*, actor, title="Heap overflow in the tarball unpacker", days=10, **extra):
    case = vulnerability_create(
        actor=actor,
        title=title,
        summary="Reported privately; a crafted archive overwrites the heap.",
        cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
        cve_id="CVE-2026-12345",
        disclosure_at=timezone.now() + timedelta(days=days),
        **extra,
    )
    # Structured like a real case: the package and its versions (before the fix).
    package = affected_package_add(
        vulnerability=case, actor=actor, ecosystem="PyPI", purl="pkg:pypi/pinniped"
    )
    version_range_add(package=package, actor=actor, introduced="0", fixed="2.4.1")
    return vulnerability_transition(
        vulnerability=case, actor=actor, state=Vulnerability.State.TRIAGED
    )


def notice_draft(*, case, actor=None, body=None, organizations=None, **extra) -> Notice:
    return notice_create(
        vulnerability=case,
        actor=actor or case.created_by,
        outer_subject="Embargoed notice from the security team",
        subject=f"Patch available: {case.title}",
        body=body or f"Apply the attached patch.\n\n{CANARY}.\n",
        audience_all=organizations is None,
        organizations=organizations or [],
        **extra,
    )


def bulk_people(
    keys: list[PersonKey],
    *,
    organizations: list[Organization] | None = None,
    policy: PolicyVersion | None = None,
) -> list[TeamMember]:
    """One eligible need-to-know person per key, spread over the given member
    organisations (two new ones by default)."""
    now = timezone.now()
    if organizations is None:
        stamp = now.strftime("%H%M%S%f")
        organizations = [
            Organization.objects.create(
                name=f"Fanout Distro {stamp}-{n}",
                slug=f"fanout-{stamp}-{n}",
                website="https://fanout.example.org",
                status=Organization.Status.MEMBER,
                member_since=now,
            )
            for n in range(2)
        ]
    policy = policy or PolicyVersion.objects.order_by("-number").first()
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        [
            user_model(
                username=key.email, email=key.email, password=make_password(None), is_active=True
            )
            for key in keys
        ]
    )
    users = list(user_model.objects.filter(email__in=[key.email for key in keys]))
    by_email = {user.email: user for user in users}
    TeamMember.objects.bulk_create(
        [
            TeamMember(
                organization=organizations[key.index % len(organizations)],
                user=by_email[key.email],
                is_need_to_know=True,
            )
            for key in keys
        ]
    )
    Authenticator.objects.bulk_create(
        [
            Authenticator(user=user, type=Authenticator.Type.TOTP, data={"secret": "x"})
            for user in users
        ]
    )
    PolicyAcceptance.objects.bulk_create(
        [
            PolicyAcceptance(
                user=user,
                version=policy,
                accepted_at=now,
                user_agent="tests",
                text_sha256=policy.text_sha256,
            )
            for user in users
        ]
    )
    PgpKey.objects.bulk_create(
        [
            PgpKey(
                user=by_email[key.email],
                fingerprint=key.fingerprint,
                armored=key.armored,
                uids=[f"Person {key.index} <{key.email}>"],
                algorithm="ed25519/cv25519",
                key_created_at=now,
                expires_at=None,
                state=PgpKey.State.ACTIVE,
                uploaded_at=now,
                verified_at=now,
            )
            for key in keys
        ]
    )
    return list(TeamMember.objects.filter(user__in=users).select_related("user", "organization"))
