"""Negotiating a case's public disclosure date: proposals, answers, counter-proposals and
the team's decision (the security team has the final say).

Three kinds of party take part (DisclosureProposal.Party):
- TEAM: a staff user speaks for the security team.
- REPORTER: the case's reporter, who has no account. Pass `user=None` and
  `organization=None`; the caller (the reporter's page, which finds the report by its
  unguessable token) has already established who is asking. Only a case that records a
  reporter address invites the reporter.
- MEMBER: a need-to-know person (`user`) of a member organisation (`organization`) that
  has been sent a notice about the case. The portal checks the second factor first.

Every refusal is a ValidationError with a message fit for the person, and changes nothing.
Audit events go on the case (so its history shows the whole negotiation) and name dates
and ids, never a reason: reasons stay on the rows, which only the parties read.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.audit import audit_record
from core.mail import plain_mail
from core.queue import task_queue_after_commit
from distributors.models import Organization, TeamMember
from embargo.models import REASON_MAX_LENGTH, DisclosureProposal, ProposalAnswer, Vulnerability
from embargo.negotiation_selectors import organizations_notified
from embargo.services.cases import vulnerability_disclosure_move

Party = DisclosureProposal.Party


def _locked_open_case(vulnerability: Vulnerability) -> Vulnerability:
    # The case row is the negotiation's lock: proposals, answers and the decision on one
    # case queue up behind each other.
    case = Vulnerability.objects.select_for_update().get(pk=vulnerability.pk)
    if not case.is_open:
        raise ValidationError("The case is closed: its disclosure date is no longer negotiated.")
    return case


def _party_check(*, case: Vulnerability, by_kind: str, user, organization) -> None:
    """Whether this party takes part in the case's negotiation at all."""
    if by_kind == Party.TEAM:
        if user is None or not user.is_staff or organization is not None:
            raise ValidationError("Only a member of the security team speaks for the team.")
    elif by_kind == Party.REPORTER:
        if user is not None or organization is not None:
            raise ValidationError("The reporter takes part through their report page only.")
        if not case.reporter_email:
            raise ValidationError("This case records no reporter to take part.")
    elif by_kind == Party.MEMBER:
        if user is None or not isinstance(organization, Organization):
            raise ValidationError("Say which organisation you speak for.")
        if not organizations_notified(vulnerability=case).filter(pk=organization.pk).exists():
            raise ValidationError(
                "Your organisation is not invited: it has not been sent a notice about this case."
            )
        if not TeamMember.objects.filter(
            organization=organization, user=user, is_need_to_know=True
        ).exists():
            raise ValidationError(
                "Only a need-to-know person of the organisation can speak for it here."
            )
    else:
        raise ValidationError("Unknown party.")


def _times_errors(
    *, disclosure_at, reply_by, now: datetime, at_name: str, reply_name: str
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if disclosure_at is None or timezone.is_naive(disclosure_at):
        errors[at_name] = ["Give the proposed disclosure time with its zone (UTC)."]
    elif disclosure_at <= now:
        errors[at_name] = ["The proposed disclosure time is in the past."]
    if reply_by is None or timezone.is_naive(reply_by):
        errors[reply_name] = ["Give the reply-by time with its zone (UTC)."]
    elif reply_by <= now:
        errors[reply_name] = ["The reply-by time is in the past."]
    elif at_name not in errors and reply_by > disclosure_at:
        errors[reply_name] = ["The reply-by time must not be after the proposed disclosure time."]
    return errors


def _reason_clean(reason: str, *, name: str, required: str | None) -> tuple[str, dict]:
    reason = (reason or "").strip()
    if not reason and required:
        return reason, {name: [required]}
    if len(reason) > REASON_MAX_LENGTH:
        return reason, {name: [f"At most {REASON_MAX_LENGTH} characters, please."]}
    return reason, {}


def _proposal_create(
    *, case, by_kind, user, organization, disclosure_at, reason, reply_by, counter_to, now
) -> DisclosureProposal:
    proposal = DisclosureProposal.objects.create(
        vulnerability=case,
        proposed_by=by_kind,
        proposed_by_user=user,
        proposed_by_organization=organization,
        disclosure_at=disclosure_at,
        reason=reason,
        reply_by=reply_by,
        counter_to=counter_to,
        created_at=now,
    )
    audit_record(
        actor=user,
        action="vulnerability.date_proposed",
        target=case,
        organization=organization,
        data={
            "proposal": proposal.pk,
            "party": by_kind,
            "to": disclosure_at.isoformat(),
            "reply_by": reply_by.isoformat(),
            "counter_to": counter_to.pk if counter_to else None,
        },
    )
    proposal_id = proposal.pk
    task_queue_after_commit("embargo.tasks.proposal_news_task", proposal_id)
    return proposal


@transaction.atomic
def disclosure_proposal_make(
    *,
    vulnerability: Vulnerability,
    by_kind: str,
    user=None,
    organization: Organization | None = None,
    proposed_at: datetime,
    reason: str,
    reply_by: datetime,
) -> DisclosureProposal:
    """A party proposes a disclosure date and time, with its reason and the time by which
    the other parties should answer (not after the proposed time). The other invited
    parties (embargo.selectors.proposal_parties) are told there is something to answer."""
    case = _locked_open_case(vulnerability)
    _party_check(case=case, by_kind=by_kind, user=user, organization=organization)
    now = timezone.now()
    errors = _times_errors(
        disclosure_at=proposed_at,
        reply_by=reply_by,
        now=now,
        at_name="proposed_at",
        reply_name="reply_by",
    )
    reason, reason_errors = _reason_clean(
        reason, name="reason", required="Say why this date: the other parties read it."
    )
    errors.update(reason_errors)
    if errors:
        raise ValidationError(errors)
    return _proposal_create(
        case=case,
        by_kind=by_kind,
        user=user,
        organization=organization,
        disclosure_at=proposed_at,
        reason=reason,
        reply_by=reply_by,
        counter_to=None,
        now=now,
    )


def _answer_party_check(*, proposal: DisclosureProposal, by_kind: str, organization) -> None:
    if by_kind == proposal.proposed_by and (
        by_kind != Party.MEMBER or proposal.proposed_by_organization_id == organization.pk
    ):
        raise ValidationError("This is your own proposal: the other parties answer it.")
    existing = ProposalAnswer.objects.filter(proposal=proposal, party=by_kind)
    if by_kind == Party.MEMBER:
        existing = existing.filter(organization=organization)
    if existing.exists():
        raise ValidationError(
            "This proposal already has your answer. To suggest another date, make a proposal."
        )


def _answer_errors(*, answer, reason, counter_at, counter_reply_by, now) -> tuple[str, dict]:
    if answer not in ProposalAnswer.Answer.values:
        raise ValidationError({"answer": ["Accept, object or counter-propose."]})
    required = (
        "Say why you object: the team reads it." if answer == ProposalAnswer.Answer.OBJECT else None
    )
    if answer == ProposalAnswer.Answer.COUNTER:
        required = "Say why your date is better: the other parties read it."
    reason, errors = _reason_clean(reason, name="reason", required=required)
    if answer == ProposalAnswer.Answer.COUNTER:
        errors.update(
            _times_errors(
                disclosure_at=counter_at,
                reply_by=counter_reply_by,
                now=now,
                at_name="counter_at",
                reply_name="counter_reply_by",
            )
        )
    return reason, errors


@transaction.atomic
def proposal_answer(
    *,
    proposal: DisclosureProposal,
    by_kind: str,
    user=None,
    organization: Organization | None = None,
    answer: str,
    reason: str = "",
    counter_at: datetime | None = None,
    counter_reply_by: datetime | None = None,
) -> ProposalAnswer:
    """An invited party answers an open proposal before its reply-by time: accept, object
    (with a reason) or counter-propose (a new proposal, counter_to this one, with its own
    date, reason and reply-by time). One answer per party and proposal."""
    case = _locked_open_case(proposal.vulnerability)
    proposal = DisclosureProposal.objects.get(pk=proposal.pk)
    _party_check(case=case, by_kind=by_kind, user=user, organization=organization)
    now = timezone.now()
    if proposal.state != DisclosureProposal.State.OPEN:
        raise ValidationError("The team has already decided on this proposal.")
    if now > proposal.reply_by:
        raise ValidationError("The reply-by time of this proposal has passed.")
    _answer_party_check(proposal=proposal, by_kind=by_kind, organization=organization)
    reason, errors = _answer_errors(
        answer=answer,
        reason=reason,
        counter_at=counter_at,
        counter_reply_by=counter_reply_by,
        now=now,
    )
    if errors:
        raise ValidationError(errors)
    counter = None
    if answer == ProposalAnswer.Answer.COUNTER:
        counter = _proposal_create(
            case=case,
            by_kind=by_kind,
            user=user,
            organization=organization,
            disclosure_at=counter_at,
            reason=reason,
            reply_by=counter_reply_by,
            counter_to=proposal,
            now=now,
        )
    return _answer_create(
        case=case,
        proposal=proposal,
        by_kind=by_kind,
        user=user,
        organization=organization,
        answer=answer,
        reason=reason,
        counter=counter,
        now=now,
    )


def _answer_create(
    *, case, proposal, by_kind, user, organization, answer, reason, counter, now
) -> ProposalAnswer:
    try:
        # A savepoint: two people of one organisation answering at once meet the unique
        # constraint; the second is told, and the first one's answer stands.
        with transaction.atomic():
            row = ProposalAnswer.objects.create(
                proposal=proposal,
                party=by_kind,
                user=user,
                organization=organization,
                answer=answer,
                reason=reason,
                counter=counter,
                answered_at=now,
            )
    except IntegrityError as error:
        raise ValidationError("This proposal already has your answer.") from error
    audit_record(
        actor=user,
        action="vulnerability.date_answered",
        target=case,
        organization=organization,
        data={
            "proposal": proposal.pk,
            "party": by_kind,
            "answer": answer,
            "counter": counter.pk if counter else None,
        },
    )
    if answer != ProposalAnswer.Answer.COUNTER:  # a counter is news as a proposal
        answer_id = row.pk
        task_queue_after_commit("embargo.tasks.answer_news_task", answer_id)
    return row


@transaction.atomic
def disclosure_date_set(
    *,
    vulnerability: Vulnerability,
    actor,
    proposal: DisclosureProposal | None = None,
    disclosure_at: datetime | None = None,
    note: str = "",
) -> Vulnerability:
    """The team's final say: the date of one of the case's open proposals, or its own.
    The chosen proposal is marked chosen and every other open one superseded; the date is
    then set through vulnerability_disclosure_move, which tells the reporter and sends
    everyone already told a new encrypted notice."""
    case = _locked_open_case(vulnerability)
    if actor is None or not actor.is_staff:
        raise ValidationError("Only the security team sets the disclosure date.")
    if (proposal is None) == (disclosure_at is None):
        raise ValidationError("Choose a proposal or give the team's own date, not both.")
    if proposal is not None:
        proposal = DisclosureProposal.objects.filter(pk=proposal.pk, vulnerability=case).first()
        if proposal is None or proposal.state != DisclosureProposal.State.OPEN:
            raise ValidationError("Choose an open proposal of this case.")
        disclosure_at = proposal.disclosure_at
    case = vulnerability_disclosure_move(
        vulnerability=case, actor=actor, disclosure_at=disclosure_at, note=note
    )
    now = timezone.now()
    still_open = DisclosureProposal.objects.filter(
        vulnerability=case, state=DisclosureProposal.State.OPEN
    )
    if proposal is not None:
        still_open.filter(pk=proposal.pk).update(
            state=DisclosureProposal.State.CHOSEN, decided_at=now
        )
    superseded = still_open.exclude(pk=getattr(proposal, "pk", None)).update(
        state=DisclosureProposal.State.SUPERSEDED, decided_at=now
    )
    audit_record(
        actor=actor,
        action="vulnerability.disclosure_date_set",
        target=case,
        data={
            "proposal": proposal.pk if proposal else None,
            "to": disclosure_at.isoformat(),
            "superseded": superseded,
        },
    )
    return case


# ---------------------------------------------------------------- telling the parties
# Plain mail, so it says only that something waits and where: members read proposals on
# the portal (with their second factor), staff on the case's negotiation page. The
# reporter's page shows the proposals to the reporter.


def _staff_addresses() -> list[str]:
    staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    return list(staff.values_list("email", flat=True))


def _staff_page(case_id: int) -> str:
    return settings.SITE_URL + reverse("embargo:case_negotiation", kwargs={"pk": case_id})


def proposal_news_mail(*, proposal_id: int) -> int:
    """After a proposal: the need-to-know people of every invited organisation but the
    proposer's, and staff when the proposal is not the team's own. Returns mails sent."""
    proposal = (
        DisclosureProposal.objects.filter(pk=proposal_id, state=DisclosureProposal.State.OPEN)
        .select_related("vulnerability")
        .first()
    )
    if proposal is None or not proposal.vulnerability.is_open:
        return 0
    organizations = organizations_notified(vulnerability=proposal.vulnerability).exclude(
        pk=proposal.proposed_by_organization_id
    )
    people = TeamMember.objects.filter(
        organization__in=organizations, is_need_to_know=True, user__is_active=True
    ).values_list("user__email", flat=True)
    sent = plain_mail(
        recipients=people,
        template="embargo/email/proposal_waiting",
        context={"url": settings.SITE_URL + reverse("embargo:member_negotiations")},
    )
    if proposal.proposed_by != Party.TEAM:
        sent += plain_mail(
            recipients=_staff_addresses(),
            template="embargo/email/negotiation_staff",
            context={
                "public_id": proposal.vulnerability.public_id,
                "what": f"{proposal.get_proposed_by_display()} proposed a disclosure date",
                "url": _staff_page(proposal.vulnerability_id),
            },
        )
    return sent


def answer_news_mail(*, answer_id: int) -> int:
    """After an accept or an objection: staff, who decide."""
    row = ProposalAnswer.objects.filter(pk=answer_id).select_related("proposal__vulnerability")
    row = row.first()
    if row is None or row.party == Party.TEAM:
        return 0
    case = row.proposal.vulnerability
    verb = "accepted" if row.answer == ProposalAnswer.Answer.ACCEPT else "objected to"
    return plain_mail(
        recipients=_staff_addresses(),
        template="embargo/email/negotiation_staff",
        context={
            "public_id": case.public_id,
            "what": f"{row.get_party_display()} {verb} proposal #{row.proposal_id}",
            "url": _staff_page(case.pk),
        },
    )
