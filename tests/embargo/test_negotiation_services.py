"""Disclosure-date negotiation (issue 17): proposals by the team, the reporter and a
member organisation's need-to-know person, answers (accept, object, counter), the team's
final say, and every bad input refused with a clear message and nothing changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from core.models import AuditEvent
from distributors.models import Organization, TeamMember
from embargo.models import DisclosureProposal, Notice, ProposalAnswer, Vulnerability
from embargo.selectors import proposal_parties
from embargo.services import (
    disclosure_date_set,
    disclosure_proposal_make,
    proposal_answer,
    vulnerability_update,
)
from embargo.services.cases import cwe_ids_clean
from tests.factories import (
    DeliveryFactory,
    DisclosureProposalFactory,
    MemberOrganizationFactory,
    NoticeFactory,
    ProposalAnswerFactory,
    StaffFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db

Party = DisclosureProposal.Party
Answer = ProposalAnswer.Answer


@dataclass
class Negotiation:
    case: Vulnerability
    staff: object
    told: TeamMember  # need-to-know person of an organisation sent a notice
    told_too: TeamMember  # of a second such organisation
    colleague: TeamMember  # need-to-know, same organisation as `told`
    bystander: TeamMember  # same organisation, not need-to-know
    untold: TeamMember  # need-to-know person of a member organisation never sent a notice


def negotiation_build(**case) -> Negotiation:
    staff = StaffFactory()
    case = VulnerabilityFactory(
        **{
            "state": Vulnerability.State.NOTIFIED,
            "reporter_email": "rosa@example.net",
            "created_by": staff,
            **case,
        }
    )
    notice = NoticeFactory(
        vulnerability=case,
        state=Notice.State.SENT,
        send_started_at=timezone.now() - timedelta(days=1),
        sent_at=timezone.now() - timedelta(days=1),
    )
    told = make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory()))
    told_too = make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory()))
    DeliveryFactory(notice=notice, member=told)
    DeliveryFactory(notice=notice, member=told_too)
    return Negotiation(
        case=case,
        staff=staff,
        told=told,
        told_too=told_too,
        colleague=make_eligible(TeamMemberFactory(organization=told.organization)),
        bystander=TeamMemberFactory(organization=told.organization, is_need_to_know=False),
        untold=make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory())),
    )


def later(**kwargs):
    return timezone.now() + timedelta(**kwargs)


def team_proposal(world: Negotiation, **overrides) -> DisclosureProposal:
    arguments = {
        "vulnerability": world.case,
        "by_kind": Party.TEAM,
        "user": world.staff,
        "proposed_at": later(days=12),
        "reason": "The fix ships in 2.4.1.",
        "reply_by": later(days=4),
        **overrides,
    }
    return disclosure_proposal_make(**arguments)


def snapshot() -> tuple:
    return (
        DisclosureProposal.objects.count(),
        ProposalAnswer.objects.count(),
        AuditEvent.objects.count(),
        list(DisclosureProposal.objects.values_list("state", flat=True).order_by("pk")),
        list(Vulnerability.objects.values_list("disclosure_at", flat=True).order_by("pk")),
    )


# ---------------------------------------------------------------- who takes part


def test_the_parties_are_the_team_the_reporter_and_every_organisation_sent_a_notice():
    world = negotiation_build()
    parties = proposal_parties(vulnerability=world.case)
    assert [party.kind for party in parties] == ["team", "reporter", "member", "member"]
    invited = {party.organization for party in parties if party.organization}
    assert invited == {world.told.organization, world.told_too.organization}


def test_a_proposal_is_answered_by_everyone_but_its_proposer():
    world = negotiation_build()
    proposal = team_proposal(world)
    kinds = [party.kind for party in proposal_parties(vulnerability=world.case, proposal=proposal)]
    assert kinds == ["reporter", "member", "member"]


def test_a_suspended_organisation_and_a_case_without_reporter_address_invite_nobody_there():
    world = negotiation_build(reporter_email="")
    Organization.objects.filter(pk=world.told_too.organization_id).update(status="suspended")
    parties = proposal_parties(vulnerability=world.case)
    assert [(p.kind, p.organization) for p in parties] == [
        ("team", None),
        ("member", world.told.organization),
    ]


# ---------------------------------------------------------------- proposals


def test_the_team_proposes_a_date_and_it_is_audited_without_its_reason():
    world = negotiation_build()
    proposal = team_proposal(world)
    assert (proposal.state, proposal.proposed_by, proposal.proposed_by_user) == (
        "open",
        "team",
        world.staff,
    )
    event = AuditEvent.objects.get(action="vulnerability.date_proposed")
    assert event.target_id == str(world.case.pk)
    assert event.data["proposal"] == proposal.pk and event.data["party"] == "team"
    assert "2.4.1" not in str(event.data)


def test_the_reporter_proposes_without_an_account():
    world = negotiation_build()
    proposal = disclosure_proposal_make(
        vulnerability=world.case,
        by_kind=Party.REPORTER,
        proposed_at=later(days=20),
        reason="I present it at a conference that week.",
        reply_by=later(days=3),
    )
    assert (proposal.proposed_by, proposal.proposed_by_user) == ("reporter", None)
    assert AuditEvent.objects.get(action="vulnerability.date_proposed").actor is None


def test_a_need_to_know_person_of_an_organisation_told_proposes_for_it():
    world = negotiation_build()
    proposal = disclosure_proposal_make(
        vulnerability=world.case,
        by_kind=Party.MEMBER,
        user=world.told.user,
        organization=world.told.organization,
        proposed_at=later(days=15),
        reason="Our release train leaves on Tuesdays.",
        reply_by=later(days=3),
    )
    assert proposal.proposed_by_organization == world.told.organization
    event = AuditEvent.objects.get(action="vulnerability.date_proposed")
    assert event.organization_id == world.told.organization_id


def test_invited_parties_hear_of_a_proposal_by_a_mail_that_says_nothing(
    django_capture_on_commit_callbacks,
):
    world = negotiation_build()
    with django_capture_on_commit_callbacks(execute=True):
        disclosure_proposal_make(
            vulnerability=world.case,
            by_kind=Party.REPORTER,
            proposed_at=later(days=20),
            reason="Conference talk.",
            reply_by=later(days=3),
        )
    to_members = [m for m in mail.outbox if "awaits your answer" in m.subject]
    addresses = {address for message in to_members for address in message.to}
    assert addresses == {
        world.told.user.email,
        world.told_too.user.email,
        world.colleague.user.email,
    }
    for message in to_members:
        assert world.case.public_id not in message.body + message.subject
        assert "Conference" not in message.body
    to_staff = [m for m in mail.outbox if world.case.public_id in m.subject]
    assert world.staff.email in {address for message in to_staff for address in message.to}


@pytest.mark.parametrize(
    "who, message",
    [
        ("bystander", "need-to-know"),
        ("untold", "not invited"),
        ("staff_as_member", "not invited"),
        ("member_as_team", "security team"),
        ("reporter_with_user", "report page"),
    ],
)
def test_a_party_not_invited_cannot_propose_and_nothing_changes(who, message):
    world = negotiation_build()
    member = {"bystander": world.bystander, "untold": world.untold}.get(who)
    arguments = {"by_kind": Party.MEMBER}
    if member:
        arguments.update(user=member.user, organization=member.organization)
    elif who == "staff_as_member":
        arguments.update(user=world.staff, organization=world.untold.organization)
    elif who == "member_as_team":
        arguments.update(by_kind=Party.TEAM, user=world.told.user)
    else:
        arguments.update(by_kind=Party.REPORTER, user=world.told.user)
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        disclosure_proposal_make(
            vulnerability=world.case,
            proposed_at=later(days=12),
            reason="Why not.",
            reply_by=later(days=3),
            **arguments,
        )
    assert message in " ".join(caught.value.messages)
    assert snapshot() == before


def test_the_reporter_is_not_invited_when_the_case_records_no_reporter():
    world = negotiation_build(reporter_email="")
    with pytest.raises(ValidationError, match="no reporter"):
        disclosure_proposal_make(
            vulnerability=world.case,
            by_kind=Party.REPORTER,
            proposed_at=later(days=12),
            reason="Soon.",
            reply_by=later(days=3),
        )


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"proposed_at": later(days=-1)}, "proposed_at", "in the past"),
        ({"reply_by": later(hours=-1)}, "reply_by", "in the past"),
        ({"reply_by": later(days=13)}, "reply_by", "not be after the proposed"),
        ({"reason": "  "}, "reason", "Say why this date"),
        ({"reason": "x" * 2001}, "reason", "At most 2000"),
        ({"proposed_at": later(days=12).replace(tzinfo=None)}, "proposed_at", "zone"),
    ],
)
def test_bad_proposal_times_and_reasons_are_refused_and_change_nothing(overrides, field, message):
    world = negotiation_build()
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        team_proposal(world, **overrides)
    assert message in " ".join(caught.value.message_dict[field])
    assert snapshot() == before


@pytest.mark.parametrize("state", [Vulnerability.State.REJECTED, Vulnerability.State.DISCLOSED])
def test_a_closed_case_takes_no_proposal_and_no_answer(state):
    world = negotiation_build()
    proposal = team_proposal(world)
    Vulnerability.objects.filter(pk=world.case.pk).update(state=state)
    before = snapshot()
    with pytest.raises(ValidationError, match="closed"):
        team_proposal(world)
    with pytest.raises(ValidationError, match="closed"):
        proposal_answer(
            proposal=proposal,
            by_kind=Party.MEMBER,
            user=world.told.user,
            organization=world.told.organization,
            answer=Answer.ACCEPT,
        )
    assert snapshot() == before


# ---------------------------------------------------------------- answers


def member_answer(world, proposal, member=None, **kwargs) -> ProposalAnswer:
    member = member or world.told
    return proposal_answer(
        proposal=proposal,
        by_kind=Party.MEMBER,
        user=member.user,
        organization=member.organization,
        **kwargs,
    )


def test_a_member_accepts_and_the_answer_is_audited():
    world = negotiation_build()
    proposal = team_proposal(world)
    answer = member_answer(world, proposal, answer=Answer.ACCEPT)
    assert (answer.party, answer.organization, answer.user) == (
        "member",
        world.told.organization,
        world.told.user,
    )
    event = AuditEvent.objects.get(action="vulnerability.date_answered")
    assert event.data == {
        "proposal": proposal.pk,
        "party": "member",
        "answer": "accept",
        "counter": None,
    }


def test_an_objection_needs_a_reason():
    world = negotiation_build()
    proposal = team_proposal(world)
    before = snapshot()
    with pytest.raises(ValidationError) as caught:
        member_answer(world, proposal, answer=Answer.OBJECT, reason=" ")
    assert "Say why you object" in caught.value.message_dict["reason"][0]
    assert snapshot() == before
    answer = member_answer(world, proposal, answer=Answer.OBJECT, reason="Too soon for us.")
    assert answer.reason == "Too soon for us."


def test_a_counter_proposal_is_a_new_proposal_answering_the_first():
    world = negotiation_build()
    proposal = team_proposal(world)
    answer = proposal_answer(
        proposal=proposal,
        by_kind=Party.REPORTER,
        answer=Answer.COUNTER,
        reason="A week later, please.",
        counter_at=later(days=19),
        counter_reply_by=later(days=5),
    )
    counter = answer.counter
    assert (counter.counter_to, counter.proposed_by, counter.state) == (
        proposal,
        "reporter",
        "open",
    )
    assert counter.reason == "A week later, please."
    assert AuditEvent.objects.filter(action="vulnerability.date_proposed").count() == 2
    # The counter-proposal is answered in its turn, by the team among others.
    team = proposal_answer(proposal=counter, by_kind=Party.TEAM, user=world.staff, answer="accept")
    assert team.party == "team"


@pytest.mark.parametrize(
    "kwargs, field, message",
    [
        ({"counter_reply_by": later(days=2)}, "counter_at", "zone"),
        ({"counter_at": later(days=-2), "counter_reply_by": later(days=1)}, "counter_at", "past"),
        ({"counter_at": later(days=9), "counter_reply_by": later(days=10)}, "counter_reply_by", ""),
        (
            {"counter_at": later(days=9), "counter_reply_by": later(days=2), "reason": ""},
            "reason",
            "",
        ),
    ],
)
def test_a_bad_counter_proposal_changes_nothing(kwargs, field, message):
    world = negotiation_build()
    proposal = team_proposal(world)
    before = snapshot()
    arguments = {"reason": "Later.", **kwargs}
    with pytest.raises(ValidationError) as caught:
        member_answer(world, proposal, answer=Answer.COUNTER, **arguments)
    assert message in " ".join(caught.value.message_dict[field])
    assert snapshot() == before


def test_a_second_answer_by_the_same_organisation_is_refused():
    world = negotiation_build()
    proposal = team_proposal(world)
    member_answer(world, proposal, answer=Answer.ACCEPT)
    before = snapshot()
    with pytest.raises(ValidationError, match="already has your answer"):
        member_answer(world, proposal, member=world.colleague, answer=Answer.OBJECT, reason="No.")
    assert snapshot() == before
    # The other organisation still answers.
    member_answer(world, proposal, member=world.told_too, answer=Answer.ACCEPT)


def test_the_database_refuses_a_second_answer_of_one_party_too():
    proposal = DisclosureProposalFactory()
    first = ProposalAnswerFactory(proposal=proposal)
    with pytest.raises(IntegrityError):
        ProposalAnswerFactory(proposal=proposal, organization=first.organization)


def test_a_reply_after_the_reply_by_time_is_refused():
    world = negotiation_build()
    proposal = team_proposal(world)
    DisclosureProposal.objects.filter(pk=proposal.pk).update(reply_by=later(minutes=-1))
    before = snapshot()
    with pytest.raises(ValidationError, match="reply-by time of this proposal has passed"):
        member_answer(world, proposal, answer=Answer.ACCEPT)
    assert snapshot() == before


def test_a_proposer_does_not_answer_its_own_proposal():
    world = negotiation_build()
    proposal = team_proposal(world)
    with pytest.raises(ValidationError, match="your own proposal"):
        proposal_answer(proposal=proposal, by_kind=Party.TEAM, user=world.staff, answer="accept")


def test_an_organisation_not_told_cannot_answer():
    world = negotiation_build()
    proposal = team_proposal(world)
    before = snapshot()
    with pytest.raises(ValidationError, match="not invited"):
        member_answer(world, proposal, member=world.untold, answer=Answer.ACCEPT)
    with pytest.raises(ValidationError, match="need-to-know"):
        member_answer(world, proposal, member=world.bystander, answer=Answer.ACCEPT)
    assert snapshot() == before


def test_an_unknown_answer_is_refused():
    world = negotiation_build()
    proposal = team_proposal(world)
    with pytest.raises(ValidationError, match="Accept, object or counter"):
        member_answer(world, proposal, answer="maybe")


# ---------------------------------------------------------------- the team's final say


def test_the_team_chooses_a_proposal_and_everyone_told_gets_an_encrypted_notice():
    world = negotiation_build()
    chosen = team_proposal(world, proposed_at=later(days=9))
    other = team_proposal(world, proposed_at=later(days=11))
    notices_before = Notice.objects.filter(vulnerability=world.case).count()
    case = disclosure_date_set(vulnerability=world.case, actor=world.staff, proposal=chosen)
    assert case.disclosure_at == chosen.disclosure_at
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert (chosen.state, other.state) == ("chosen", "superseded")
    assert chosen.decided_at is not None
    # vulnerability_disclosure_move: a new notice to everyone told, through notice_send.
    moved = Notice.objects.filter(vulnerability=world.case).order_by("-pk").first()
    assert Notice.objects.filter(vulnerability=world.case).count() == notices_before + 1
    assert moved.revises_id is not None and moved.state != Notice.State.DRAFT
    recipients = set(moved.deliveries.values_list("user_id", flat=True))
    assert {world.told.user_id, world.told_too.user_id} <= recipients
    event = AuditEvent.objects.get(action="vulnerability.disclosure_date_set")
    assert event.data["proposal"] == chosen.pk and event.data["superseded"] == 1
    assert AuditEvent.objects.filter(action="vulnerability.disclosure_moved").exists()


def test_the_team_sets_its_own_date_and_every_open_proposal_is_superseded():
    world = negotiation_build()
    proposal = team_proposal(world)
    own = later(days=8).replace(microsecond=0)
    case = disclosure_date_set(vulnerability=world.case, actor=world.staff, disclosure_at=own)
    proposal.refresh_from_db()
    assert (case.disclosure_at, proposal.state) == (own, "superseded")


@pytest.mark.parametrize("how", ["both", "neither", "decided", "other_case", "not_staff", "past"])
def test_a_bad_decision_is_refused_and_changes_nothing(how):
    world = negotiation_build()
    proposal = team_proposal(world)
    arguments = {"vulnerability": world.case, "actor": world.staff}
    if how == "both":
        arguments.update(proposal=proposal, disclosure_at=later(days=9))
    elif how == "decided":
        DisclosureProposal.objects.filter(pk=proposal.pk).update(state="superseded")
        arguments.update(proposal=proposal)
    elif how == "other_case":
        arguments.update(proposal=DisclosureProposalFactory())
    elif how == "not_staff":
        arguments.update(actor=world.told.user, disclosure_at=later(days=9))
    elif how == "past":
        arguments.update(disclosure_at=later(days=-1))
    before = snapshot()
    with pytest.raises(ValidationError):
        disclosure_date_set(**arguments)
    assert snapshot() == before


# ---------------------------------------------------------------- CWE ids


def test_cwe_ids_are_checked_and_normalised():
    assert cwe_ids_clean(" cwe-787,CWE-20  CWE-787 ") == "CWE-787, CWE-20"
    assert cwe_ids_clean("") == ""
    for bad in ("CWE-", "CWE-0", "787", "CWE-12a", "CVE-2026-1"):
        with pytest.raises(ValidationError, match="Not a CWE id"):
            cwe_ids_clean(bad)


def test_the_case_keeps_its_cwe_ids_and_a_bad_one_changes_nothing():
    staff = StaffFactory()
    case = VulnerabilityFactory()
    vulnerability_update(vulnerability=case, actor=staff, cwe_ids="cwe-79")
    case.refresh_from_db()
    assert case.cwe_ids == "CWE-79"
    with pytest.raises(ValidationError) as caught:
        vulnerability_update(vulnerability=case, actor=staff, cwe_ids="CWE-79, XSS")
    assert "Not a CWE id: XSS" in caught.value.message_dict["cwe_ids"][0]
    case.refresh_from_db()
    assert case.cwe_ids == "CWE-79"
    event = AuditEvent.objects.get(action="vulnerability.updated")
    assert event.data == {"fields": ["cwe_ids"]}
