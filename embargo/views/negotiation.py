"""Negotiating a case's disclosure date, for the two audiences with an account.

The security team's page (under /staff/: staff only, with MFA) lists every proposal with
its answers and the negotiation's history, suggests a date, warns about the date being
looked at, lets the team propose, answer and set the date (its final say).

The members' page (/notices/dates/, MFA required) shows a need-to-know person of an
organisation that was sent a notice the open proposals on those cases: the case's public
id, the dates and the reasons, nothing more of the case, and not who else was told. Ids
travel in the POST body, and every one is looked up among the person's own negotiations,
so someone else's case or proposal is a plain 404. The reporter's side is the report page
(intake), which calls the same services.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from core.views import mfa_required, staff_required
from core.views import service_error_report as report
from embargo.forms import AnswerForm, DisclosureDateSetForm, ProposalForm
from embargo.models import DisclosureProposal, Vulnerability
from embargo.negotiation_advice import disclosure_date_suggest, disclosure_dates_warnings
from embargo.selectors import (
    InvitedParty,
    MemberNegotiation,
    disclosure_proposals_of,
    member_negotiation_get,
    negotiations_for_member,
    parties_answering,
    proposal_parties,
    vulnerabilities_visible_to,
)
from embargo.services.negotiation import (
    disclosure_date_set,
    disclosure_proposal_make,
    proposal_answer,
)
from embargo.views.cases import NEGOTIATION_ACTIONS, history_rows

Party = DisclosureProposal.Party


def _posted_int(request, name: str) -> int:
    value = request.POST.get(name, "")
    if not value.isdigit() or len(value) > 12:
        raise Http404("No such proposal.")
    return int(value)


def _answer_prefix(proposal_id: int) -> str:
    return f"p{proposal_id}"


# ---------------------------------------------------------------- the security team


def _case_or_404(request, pk: int) -> Vulnerability:
    return get_object_or_404(vulnerabilities_visible_to(request.user), pk=pk)


def _answered_by(proposal: DisclosureProposal, party: InvitedParty) -> bool:
    return any(
        answer.party == party.kind
        and (party.organization is None or answer.organization_id == party.organization.pk)
        for answer in proposal.answers.all()
    )


def _staff_rows(proposals, parties, warnings, forms) -> list[dict]:
    rows = []
    for proposal in proposals:
        answering = parties_answering(parties=parties, proposal=proposal)
        team_may_answer = (
            proposal.replies_open()
            and any(party.kind == Party.TEAM for party in answering)
            and not _answered_by(proposal, InvitedParty(Party.TEAM))
        )
        rows.append(
            {
                "proposal": proposal,
                "answers": list(proposal.answers.all()),
                "waiting": [party for party in answering if not _answered_by(proposal, party)],
                "warnings": warnings.get(proposal.pk, []),
                "answer_form": forms.get(("answer", proposal.pk))
                or (AnswerForm(prefix=_answer_prefix(proposal.pk)) if team_may_answer else None),
            }
        )
    return rows


def _render_staff(request, case: Vulnerability, *, status: int = 200, forms: dict | None = None):
    forms = forms or {}
    proposals = disclosure_proposals_of(vulnerability=case)
    open_proposals = [p for p in proposals if p.state == DisclosureProposal.State.OPEN]
    suggestion = disclosure_date_suggest(vulnerability=case) if case.is_open else None
    moments = [p.disclosure_at for p in open_proposals]
    moments += [m for m in (case.disclosure_at, getattr(suggestion, "disclosure_at", None)) if m]
    found = disclosure_dates_warnings(vulnerability=case, moments=moments) if case.is_open else []
    warnings = dict(zip([p.pk for p in open_proposals], found, strict=False))
    extra = found[len(open_proposals) :]
    current_warnings = extra.pop(0) if case.disclosure_at and extra else []
    context = {
        "case": case,
        "rows": _staff_rows(proposals, proposal_parties(vulnerability=case), warnings, forms),
        "suggestion": suggestion,
        "suggestion_warnings": extra[0] if extra else [],
        "current_warnings": current_warnings,
        "propose_form": forms.get("propose_form") or ProposalForm(),
        "set_form": forms.get("set_form") or DisclosureDateSetForm(proposals=open_proposals),
        "history": history_rows(vulnerability=case, actions=NEGOTIATION_ACTIONS),
    }
    return render(request, "embargo/staff/case_negotiation.html", context, status=status)


@staff_required
def case_negotiation_view(request, pk: int):
    return _render_staff(request, _case_or_404(request, pk))


@staff_required
@require_POST
def case_proposal_make_view(request, pk: int):
    case = _case_or_404(request, pk)
    form = ProposalForm(request.POST)
    if form.is_valid():
        try:
            disclosure_proposal_make(
                vulnerability=case, by_kind=Party.TEAM, user=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, "The team's proposal is made; the parties are told.")
            return redirect("embargo:case_negotiation", pk=case.pk)
    messages.error(request, "No proposal was made.")
    return _render_staff(request, case, status=400, forms={"propose_form": form})


@staff_required
@require_POST
def case_proposal_answer_view(request, pk: int):
    case = _case_or_404(request, pk)
    proposal = get_object_or_404(
        DisclosureProposal.objects.filter(vulnerability=case), pk=_posted_int(request, "proposal")
    )
    form = AnswerForm(request.POST, prefix=_answer_prefix(proposal.pk))
    if form.is_valid():
        try:
            proposal_answer(
                proposal=proposal, by_kind=Party.TEAM, user=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, "The team's answer is recorded.")
            return redirect("embargo:case_negotiation", pk=case.pk)
    messages.error(request, "The answer was not recorded.")
    return _render_staff(request, case, status=400, forms={("answer", proposal.pk): form})


@staff_required
@require_POST
def case_disclosure_date_set_view(request, pk: int):
    case = _case_or_404(request, pk)
    open_proposals = [
        p
        for p in disclosure_proposals_of(vulnerability=case)
        if p.state == DisclosureProposal.State.OPEN
    ]
    form = DisclosureDateSetForm(request.POST, proposals=open_proposals)
    if form.is_valid():
        chosen = {p.pk: p for p in open_proposals}.get(form.cleaned_data["proposal"])
        try:
            case = disclosure_date_set(
                vulnerability=case,
                actor=request.user,
                proposal=chosen,
                disclosure_at=None if chosen else form.cleaned_data["disclosure_at"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, "The disclosure date is set; everyone told is told again.")
            for warning in disclosure_dates_warnings(
                vulnerability=case, moments=[case.disclosure_at]
            )[0]:
                messages.warning(request, warning)
            return redirect("embargo:case_negotiation", pk=case.pk)
    messages.error(request, "The disclosure date was not changed.")
    return _render_staff(request, case, status=400, forms={"set_form": form})


# ---------------------------------------------------------------- members


def _member_proposer(proposal: DisclosureProposal, item: MemberNegotiation) -> str:
    if proposal.proposed_by != Party.MEMBER:
        return proposal.get_proposed_by_display()
    if proposal.proposed_by_organization_id == item.organization.pk:
        return "Your organisation"
    return "Another organisation on the list"


def _member_rows(item: MemberNegotiation, forms: dict) -> list[dict]:
    rows = []
    for proposal in item.proposals:
        own = proposal.proposed_by_organization_id == item.organization.pk
        answer = item.answers.get(proposal.pk)
        form = forms.get(("answer", item.organization.pk, proposal.pk))
        if form is None and not own and answer is None and proposal.replies_open():
            form = AnswerForm(prefix=_answer_prefix(proposal.pk))
        rows.append(
            {
                "proposal": proposal,
                "proposer": _member_proposer(proposal, item),
                "own": own,
                "answer": answer,
                "answer_form": form,
            }
        )
    return rows


def _render_member(request, *, status: int = 200, forms: dict | None = None):
    forms = forms or {}
    negotiations = [
        {
            "item": item,
            "rows": _member_rows(item, forms),
            "propose_form": forms.get(("propose", item.organization.pk, item.case.pk))
            or ProposalForm(prefix=f"c{item.case.pk}o{item.organization.pk}"),
        }
        for item in negotiations_for_member(user=request.user)
    ]
    return render(
        request, "embargo/member_negotiations.html", {"negotiations": negotiations}, status=status
    )


@mfa_required
def member_negotiations_view(request):
    return _render_member(request)


def _member_item_or_404(request, *, case_id: int) -> MemberNegotiation:
    item = member_negotiation_get(
        user=request.user,
        organization_id=_posted_int(request, "organization"),
        vulnerability_id=case_id,
    )
    if item is None:
        raise Http404("No such negotiation.")
    return item


@mfa_required
@require_POST
def member_proposal_make_view(request):
    item = _member_item_or_404(request, case_id=_posted_int(request, "case"))
    form = ProposalForm(request.POST, prefix=f"c{item.case.pk}o{item.organization.pk}")
    if form.is_valid():
        try:
            disclosure_proposal_make(
                vulnerability=item.case,
                by_kind=Party.MEMBER,
                user=request.user,
                organization=item.organization,
                **form.cleaned_data,
            )
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, f"Your proposal for {item.case.public_id} is made.")
            return redirect("embargo:member_negotiations")
    messages.error(request, "No proposal was made.")
    key = ("propose", item.organization.pk, item.case.pk)
    return _render_member(request, status=400, forms={key: form})


@mfa_required
@require_POST
def member_proposal_answer_view(request):
    proposal_id = _posted_int(request, "proposal")
    proposal = DisclosureProposal.objects.filter(pk=proposal_id).only("vulnerability_id").first()
    if proposal is None:
        raise Http404("No such proposal.")
    item = _member_item_or_404(request, case_id=proposal.vulnerability_id)
    proposal = next((p for p in item.proposals if p.pk == proposal_id), None)
    if proposal is None:  # decided meanwhile: no longer open
        messages.error(request, "The team has already decided on this proposal.")
        return redirect("embargo:member_negotiations")
    form = AnswerForm(request.POST, prefix=_answer_prefix(proposal.pk))
    if form.is_valid():
        try:
            proposal_answer(
                proposal=proposal,
                by_kind=Party.MEMBER,
                user=request.user,
                organization=item.organization,
                **form.cleaned_data,
            )
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, "Your organisation's answer is recorded.")
            return redirect("embargo:member_negotiations")
    messages.error(request, "The answer was not recorded.")
    key = ("answer", item.organization.pk, proposal.pk)
    return _render_member(request, status=400, forms={key: form})
