"""A small world for the feedback tests: a case (its title a canary) told to two member
organisations, Acme and Other, each with an eligible need-to-know person; a teammate of
Acme's who is not need-to-know; and Stranger, a member organisation never told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from distributors.models import TeamMember
from embargo.models import Vulnerability
from tests.factories import (
    DeliveryFactory,
    MemberOrganizationFactory,
    NoticeFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    make_eligible,
)

CANARY_TITLE = "Walrus canary heap overflow"
CANARY_STATEMENT = "Walrus canary statement about our build"
CANARY_DETAILS = "Walrus canary details of the test"
CANARY_BODY = "Walrus canary message body"
CANARY_VERSION = "9.9.9-walrus"


def told(member: TeamMember, *, case: Vulnerability | None = None, hours_ago: float = 1):
    """Sends `member` a copy of a notice about `case` (a new open one by default)."""
    case = case or VulnerabilityFactory(title=CANARY_TITLE, state=Vulnerability.State.NOTIFIED)
    sent_at = timezone.now() - timedelta(hours=hours_ago)
    notice = NoticeFactory(vulnerability=case, state="sent", send_started_at=sent_at)
    DeliveryFactory(notice=notice, member=member, sent_at=sent_at)
    return case


def eligible_person(name: str) -> TeamMember:
    return make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory(name=name)))


@dataclass
class World:
    case: Vulnerability
    owner: TeamMember  # Acme's need-to-know person
    other: TeamMember  # Other's, told about the same case
    stranger: TeamMember  # of an organisation never told
    teammate: TeamMember  # Acme's, not need-to-know


@pytest.fixture
def world(db) -> World:
    owner = eligible_person("Acme Linux")
    other = eligible_person("Other Distro")
    stranger = eligible_person("Stranger BSD")
    case = told(owner)
    told(other, case=case)
    teammate = TeamMemberFactory(organization=owner.organization, is_need_to_know=False)
    return World(case=case, owner=owner, other=other, stranger=stranger, teammate=teammate)
