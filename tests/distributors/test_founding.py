from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from core.models import AuditEvent
from distributors.models import Organization, TeamMember
from distributors.services.founding import organization_found
from distributors.services.sanctions import organization_remove
from tests.factories import MemberOrganizationFactory, TeamMemberFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_founding_member_is_a_member_with_its_admin_and_an_audit_event():
    admin = UserFactory(email="sec@walrus.example.org")
    organization = organization_found(
        actor=None, name="Walrus", website="https://walrus.example.org", admin_email=admin.email
    )
    assert organization.status == Organization.Status.MEMBER
    assert organization.member_since is not None
    member = TeamMember.objects.get(organization=organization)
    assert (member.user, member.is_admin, member.is_need_to_know) == (admin, True, True)
    event = AuditEvent.objects.get(action="organization.founded")
    assert event.organization == organization
    assert event.data["to"] == Organization.Status.MEMBER


def test_it_refuses_an_admin_whose_address_is_not_verified():
    UserFactory(email="unverified@walrus.example.org", verified=False)
    with pytest.raises(ValidationError, match="verified"):
        organization_found(
            actor=None,
            name="Walrus",
            website="https://walrus.example.org",
            admin_email="unverified@walrus.example.org",
        )
    assert not Organization.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_person_who_already_belongs_to_an_organisation():
    member = TeamMemberFactory(organization=MemberOrganizationFactory())
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError, match="already belongs"):
        organization_found(
            actor=None,
            name="Second",
            website="https://second.example.org",
            admin_email=member.user.email,
        )
    assert Organization.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_a_removed_organisation_cannot_come_back_as_a_founding_member(staff_reviewer):
    member = TeamMemberFactory(
        organization=MemberOrganizationFactory(name="Leaky", website="https://leaky.example.org"),
        is_admin=True,
    )
    organization_remove(organization=member.organization, actor=staff_reviewer, reason="Leaked")
    newcomer = UserFactory(email="new@leaky.example.org")
    with pytest.raises(ValidationError):
        organization_found(
            actor=None,
            name="Leaky Reborn",
            website="https://leaky.example.org",
            admin_email=newcomer.email,
        )
    assert not Organization.objects.filter(name="Leaky Reborn").exists()


def test_the_command_admits_a_founding_member_and_reports_errors_plainly():
    UserFactory(email="founder@example.net")
    out = StringIO()
    call_command(
        "founding_member",
        name="Founders",
        website="https://founders.example.net",
        admin_email="founder@example.net",
        stdout=out,
    )
    assert "Founders is a member" in out.getvalue()
    with pytest.raises(CommandError, match=r"already (exists|belongs)"):
        call_command(
            "founding_member",
            name="Founders",
            website="https://founders.example.net",
            admin_email="founder@example.net",
        )
