"""Reads for the disclosure-date negotiation: who takes part, the proposals of a case,
and what a need-to-know person of a member organisation may see of it. Apart from
embargo/selectors.py (which re-exports these) because the negotiation services read
them too, and selectors.py imports the notice services."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Min, Prefetch, QuerySet

from distributors.models import Organization, TeamMember
from embargo.models import Delivery, DisclosureProposal, Notice, ProposalAnswer, Vulnerability


def organizations_notified(*, vulnerability: Vulnerability) -> QuerySet[Organization]:
    """The member organisations that have been sent a notice about the case (at least one
    copy went out to one of their people): they are invited to negotiate its date. A
    suspended or removed organisation is not."""
    told = Delivery.objects.filter(
        notice__vulnerability_id=vulnerability.pk, state=Delivery.State.SENT
    ).values("organization_id")
    return Organization.objects.filter(pk__in=told, status=Organization.Status.MEMBER).order_by(
        "name", "pk"
    )


@dataclass(frozen=True)
class InvitedParty:
    kind: str  # DisclosureProposal.Party
    organization: Organization | None = None

    @property
    def label(self) -> str:
        if self.organization is not None:
            return self.organization.name
        return DisclosureProposal.Party(self.kind).label


def proposal_parties(
    *, vulnerability: Vulnerability, proposal: DisclosureProposal | None = None
) -> list[InvitedParty]:
    """Who takes part in the case's negotiation: the security team, the reporter when the
    case records their address, and every organisation notified (organizations_notified).
    For a proposal, its own proposer is left out: the others answer it."""
    parties = [InvitedParty(DisclosureProposal.Party.TEAM)]
    if vulnerability.reporter_email:
        parties.append(InvitedParty(DisclosureProposal.Party.REPORTER))
    parties += [
        InvitedParty(DisclosureProposal.Party.MEMBER, organization)
        for organization in organizations_notified(vulnerability=vulnerability)
    ]
    if proposal is None:
        return parties
    return parties_answering(parties=parties, proposal=proposal)


def parties_answering(
    *, parties: list[InvitedParty], proposal: DisclosureProposal
) -> list[InvitedParty]:
    """Of the case's parties (proposal_parties), those who answer `proposal`: all but
    its proposer. No query, for a page of many proposals."""
    return [
        party
        for party in parties
        if party.kind != proposal.proposed_by
        or (
            party.kind == DisclosureProposal.Party.MEMBER
            and party.organization.pk != proposal.proposed_by_organization_id
        )
    ]


def disclosure_proposals_of(*, vulnerability: Vulnerability) -> list[DisclosureProposal]:
    """Every proposal of the case, oldest first, with its answers: three queries however
    many there are."""
    answers = ProposalAnswer.objects.select_related("user", "organization").order_by(
        "answered_at", "pk"
    )
    return list(
        DisclosureProposal.objects.filter(vulnerability_id=vulnerability.pk)
        .select_related("proposed_by_user", "proposed_by_organization")
        .prefetch_related(Prefetch("answers", queryset=answers))
        .order_by("created_at", "pk")
    )


def first_notice_sent_at(*, vulnerability: Vulnerability):
    """When the first notice about the case went out (None if none has)."""
    return Notice.objects.filter(
        vulnerability_id=vulnerability.pk, send_started_at__isnull=False
    ).aggregate(first=Min("send_started_at"))["first"]


def negotiation_memberships(user) -> list[TeamMember]:
    """The memberships through which a person speaks in negotiations: need-to-know in a
    member organisation."""
    if not user.is_authenticated:
        return []
    return list(
        TeamMember.objects.filter(
            user=user, is_need_to_know=True, organization__status=Organization.Status.MEMBER
        ).select_related("organization")
    )


@dataclass
class MemberNegotiation:
    """One case as one of the person's organisations sees its negotiation: only the case's
    public id and dates, and the proposals (never who else was told)."""

    organization: Organization
    case: Vulnerability
    proposals: list[DisclosureProposal]
    answers: dict[int, ProposalAnswer]  # this organisation's, by proposal id


# What members may read of a case on the negotiation pages.
MEMBER_CASE_FIELDS = ("pk", "public_id", "disclosure_at", "state", "reported_at")


def negotiations_for_member(*, user) -> list[MemberNegotiation]:
    """The open cases each of the person's need-to-know organisations was sent a notice
    about, with their open proposals and that organisation's own answers: four queries
    however many cases and proposals."""
    organizations = {m.organization_id: m.organization for m in negotiation_memberships(user)}
    if not organizations:
        return []
    pairs = set(
        Delivery.objects.filter(
            organization_id__in=organizations,
            state=Delivery.State.SENT,
            notice__vulnerability__state__in=Vulnerability.OPEN_STATES,
        ).values_list("notice__vulnerability_id", "organization_id")
    )
    case_ids = {case_id for case_id, _ in pairs}
    cases = Vulnerability.objects.filter(pk__in=case_ids).only(*MEMBER_CASE_FIELDS)
    cases = {case.pk: case for case in cases}
    proposals: dict[int, list[DisclosureProposal]] = {}
    for proposal in DisclosureProposal.objects.filter(
        vulnerability_id__in=case_ids, state=DisclosureProposal.State.OPEN
    ).order_by("created_at", "pk"):
        proposals.setdefault(proposal.vulnerability_id, []).append(proposal)
    answers = ProposalAnswer.objects.filter(
        proposal__vulnerability_id__in=case_ids, organization_id__in=organizations
    )
    own = {(answer.organization_id, answer.proposal_id): answer for answer in answers}
    return [
        MemberNegotiation(
            organization=organizations[org_id],
            case=cases[case_id],
            proposals=proposals.get(case_id, []),
            answers={pid: answer for (oid, pid), answer in own.items() if oid == org_id},
        )
        for case_id, org_id in sorted(
            pairs, key=lambda pair: (cases[pair[0]].public_id, organizations[pair[1]].name)
        )
    ]


def member_negotiation_get(*, user, organization_id, vulnerability_id) -> MemberNegotiation | None:
    """One of negotiations_for_member(user), or None: a case or organisation outside the
    person's reach is indistinguishable from one that does not exist."""
    for item in negotiations_for_member(user=user):
        if item.organization.pk == organization_id and item.case.pk == vulnerability_id:
            return item
    return None
