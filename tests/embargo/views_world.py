"""A small world for the embargo page tests: a case whose title and notice body carry a
canary phrase, a recipient organisation with one person holding a sent copy, and another
organisation's person holding their own copy."""

from __future__ import annotations

from dataclasses import dataclass

from allauth.mfa.models import Authenticator

from embargo.models import Delivery, Notice, Vulnerability
from tests.factories import (
    DeliveryFactory,
    MemberOrganizationFactory,
    NoticeFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    make_eligible,
)

CANARY_TITLE = "Walrus canary heap overflow"
CANARY_BODY = "The walrus canary sings at midnight"
CANARY_SUMMARY = "Reported privately by the walrus canary reporter"
CANARY_SUBJECT = "Walrus canary patch inside"
CANARIES = (CANARY_TITLE, CANARY_BODY, CANARY_SUMMARY, CANARY_SUBJECT)


def assert_no_canary(response) -> None:
    text = response.content.decode(errors="replace")
    for phrase in CANARIES:
        assert phrase not in text, f"embargoed text {phrase!r} leaked into {response.request}"


@dataclass
class World:
    case: Vulnerability
    notice: Notice
    delivery: Delivery  # the owner's copy
    other_delivery: Delivery  # another organisation's person's copy

    @property
    def owner(self):
        return self.delivery.user

    @property
    def other(self):
        return self.other_delivery.user


def world_build(*, with_mfa: bool = True) -> World:
    case = VulnerabilityFactory(
        title=CANARY_TITLE,
        summary=CANARY_SUMMARY,
        state=Vulnerability.State.NOTIFIED,
        mitigation="Upgrade.",
    )
    notice = NoticeFactory(
        vulnerability=case, subject=CANARY_SUBJECT, body=CANARY_BODY, state=Notice.State.SENDING
    )
    own_member = make_eligible(
        TeamMemberFactory(organization=MemberOrganizationFactory(name="Acme Linux"))
    )
    other_member = make_eligible(
        TeamMemberFactory(organization=MemberOrganizationFactory(name="Other Distro"))
    )
    delivery = DeliveryFactory(notice=notice, member=own_member)
    other_delivery = DeliveryFactory(notice=notice, member=other_member)
    if not with_mfa:
        # make_eligible set up a TOTP authenticator: this person has since removed it.
        Authenticator.objects.filter(user=delivery.user).delete()
    return World(case=case, notice=notice, delivery=delivery, other_delivery=other_delivery)
