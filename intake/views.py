"""Report pages: the public form and the reporter's tracking page (no account: the link's
token is the key), and the security team's queue under /staff/ (MFA middleware applies).

Attachments are only ever served to staff, as downloads (never rendered inline), from
storage outside the web root."""

from __future__ import annotations

from functools import partial

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.views import service_error_report, staff_required
from embargo.forms import AnswerForm, ProposalForm
from embargo.models import DisclosureProposal, Vulnerability
from embargo.selectors import disclosure_proposals_of
from embargo.services import disclosure_proposal_make, proposal_answer
from intake.forms import DecisionForm, ReplyForm, ReportForm, TeamReplyForm, incoming_files
from intake.models import Report, ReportAttachment
from intake.selectors import report_by_link, report_queue, reports_for_staff
from intake.services import (
    Sla,
    report_accept,
    report_close,
    report_defer,
    report_mark_invalid,
    report_mark_valid,
    report_next_states,
    report_reporter_reply,
    report_sla,
    report_submit,
    report_team_reply,
)
from intake.tokens import report_token
from pgpmail import team_public_key_armored

QUEUE_PAGE_SIZE = 50
REPORTER = DisclosureProposal.Party.REPORTER
# Anything bigger than every file at its largest plus the text is refused unread.
_TEXT_ALLOWANCE = 2 * 1024 * 1024


def _request_too_large(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    most = settings.HAULOUT_REPORT_ATTACHMENTS_MAX * settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES
    return length > most + _TEXT_ALLOWANCE


TOO_LARGE = (
    "That was too much to send at once: at most {count} files of {size} MiB each. Nothing "
    "was stored; send fewer or smaller files."
)


def _too_large_message() -> str:
    return TOO_LARGE.format(
        count=settings.HAULOUT_REPORT_ATTACHMENTS_MAX,
        size=settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES // (1024 * 1024),
    )


def _tracking_redirect(report: Report):
    return redirect("intake:report_track", reference=report.reference, token=report_token(report))


def report_new_view(request):
    """The public report form. No account is needed."""
    if request.method == "POST" and _request_too_large(request):
        messages.error(request, _too_large_message())
        return render(request, "intake/report_form.html", _form_context(ReportForm()), status=413)
    form = ReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                report = _submit(request, form.cleaned_data)
            except ValidationError as error:
                service_error_report(request, form, error)
            else:
                messages.success(
                    request,
                    f"Thank you: report {report.reference} is with the security team. We sent "
                    "a receipt to your address. This page's address is your link to the report; "
                    "keep it to yourself.",
                )
                return _tracking_redirect(report)
        return render(request, "intake/report_form.html", _form_context(form), status=400)
    return render(request, "intake/report_form.html", _form_context(form))


def _submit(request, data: dict) -> Report:
    files = incoming_files(data.pop("attachments"))
    data.pop("website")
    return report_submit(
        channel=Report.Channel.WEB,
        files=files,
        client_address=get_adapter(request).get_client_ip(request),
        **data,
    )


def _form_context(form) -> dict:
    return {"form": form, "team_key_available": bool(_team_key())}


def _team_key() -> str:
    try:
        return team_public_key_armored()
    except Exception:  # no team key yet: the form still works, unencrypted
        return ""


def report_track_view(request, reference: str, token: str):
    """The reporter's page: state, deadline, the conversation; a reply with files."""
    report = report_by_link(reference=reference, token=token)
    form = None
    status = 200
    if request.method == "POST":
        if _request_too_large(request):
            messages.error(request, _too_large_message())
            status = 413
        else:
            form = ReplyForm(request.POST, request.FILES)
            if form.is_valid():
                try:
                    report_reporter_reply(
                        report=report,
                        body=form.cleaned_data["body"],
                        files=incoming_files(form.cleaned_data["attachments"]),
                    )
                except ValidationError as error:
                    service_error_report(request, form, error)
                else:
                    messages.success(request, "Your message is with the security team.")
                    return _tracking_redirect(report)
            status = 400
    return _track_render(request, report, form=form, status=status)


def _track_render(request, report, *, form=None, dates_forms=None, status=200):
    case = _negotiable_case(report)
    proposals = disclosure_proposals_of(vulnerability=case) if case else []
    dates_forms = dates_forms or {}
    rows = [
        {
            "proposal": proposal,
            "mine": proposal.proposed_by == REPORTER,
            "answered": any(
                a.party == DisclosureProposal.Party.REPORTER for a in proposal.answers.all()
            ),
            "form": dates_forms.get(proposal.pk) or AnswerForm(prefix=_answer_prefix(proposal.pk)),
        }
        for proposal in proposals
    ]
    context = {
        "report": report,
        "form": form or ReplyForm(),
        "conversation": report.messages.prefetch_related("attachments"),
        "files": report.attachments.filter(message=None),
        "sla": report_sla(report),
        "Sla": Sla,
        "case": case,
        "proposals": rows,
        "proposal_form": dates_forms.get("new") or ProposalForm(prefix="new"),
        "dates_url": reverse(
            "intake:report_dates",
            kwargs={"reference": report.reference, "token": report_token(report)},
        ),
    }
    return render(request, "intake/report_track.html", context, status=status)


# ---------------------------------------------------------------- the disclosure date


def _negotiable_case(report: Report) -> Vulnerability | None:
    """The case the reporter negotiates on: their report's, while it is open and still
    has them as its reporter."""
    case = report.vulnerability
    if case is None or not case.is_open or report.state != Report.State.ACCEPTED:
        return None
    return case if case.reporter_email == report.reporter_email else None


def _answer_prefix(proposal_id: int) -> str:
    return f"p{proposal_id}"


@require_POST
def report_dates_view(request, reference: str, token: str):
    """The reporter proposes a disclosure date or answers a proposal, on their page."""
    report = report_by_link(reference=reference, token=token)
    case = _negotiable_case(report)
    if case is None:
        raise Http404("This report has no date to agree.")
    if request.POST.get("action") == "propose":
        form, key = ProposalForm(request.POST, prefix="new"), "new"
        service = partial(disclosure_proposal_make, vulnerability=case)
    else:
        proposal = _proposal_or_404(case, request.POST.get("proposal", ""))
        form, key = AnswerForm(request.POST, prefix=_answer_prefix(proposal.pk)), proposal.pk
        service = partial(proposal_answer, proposal=proposal)
    if form.is_valid():
        try:
            service(by_kind=REPORTER, **form.cleaned_data)
        except ValidationError as error:
            service_error_report(request, form, error)
        else:
            messages.success(request, "Recorded; the security team and the others are told.")
            return _tracking_redirect(report)
    messages.error(request, "Nothing was recorded; see the message beside the field.")
    return _track_render(request, report, dates_forms={key: form}, status=400)


def _proposal_or_404(case: Vulnerability, value: str) -> DisclosureProposal:
    if not value.isdigit() or len(value) > 12:
        raise Http404("No such proposal.")
    return get_object_or_404(DisclosureProposal.objects.filter(vulnerability=case), pk=int(value))


@staff_required
def staff_queue_view(request):
    state = request.GET.get("state", "open")
    if state != "open" and state not in Report.State.values:
        state = "open"
    page = Paginator(report_queue(user=request.user, state=state), QUEUE_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for report in page:
        report.sla = report_sla(report)
    return render(
        request,
        "intake/staff/queue.html",
        {"page": page, "state": state, "states": Report.State.choices, "Sla": Sla},
    )


@staff_required
def staff_report_view(request, pk: int):
    report = get_object_or_404(
        reports_for_staff(request.user).select_related("vulnerability"), pk=pk
    )
    return _staff_report_render(request, report)


def _staff_report_render(request, report, *, decision=None, reply=None, status=200):
    context = {
        "report": report,
        "sla": report_sla(report),
        "Sla": Sla,
        "next_states": report_next_states(report.state),
        "decision_form": decision or DecisionForm(),
        "reply_form": reply or TeamReplyForm(),
        "conversation": report.messages.select_related("user").prefetch_related("attachments"),
        "files": report.attachments.filter(message=None),
    }
    return render(request, "intake/staff/report_detail.html", context, status=status)


@staff_required
@require_POST
def staff_report_decide_view(request, pk: int):
    report = get_object_or_404(reports_for_staff(request.user), pk=pk)
    form = DecisionForm(request.POST)
    if form.is_valid():
        try:
            _decide(report, request.user, form.cleaned_data)
        except ValidationError as error:
            service_error_report(request, form, error)
        else:
            messages.success(request, f"Report {report.reference}: decision recorded.")
            return redirect("intake:staff_report", pk=report.pk)
    report.refresh_from_db()
    return _staff_report_render(request, report, decision=form, status=400)


def _case_named(public_id: str) -> Vulnerability | None:
    public_id = (public_id or "").strip().upper()
    if not public_id:
        return None
    case = Vulnerability.objects.filter(public_id=public_id).first()
    if case is None:
        raise ValidationError({"case": [f"There is no case {public_id}."]})
    return case


def _decide(report: Report, actor, data: dict) -> None:
    decision, reason = data["decision"], data["reason"]
    case = _case_named(data["case"])
    if decision == "valid":
        report_mark_valid(report=report, actor=actor, note=reason)
    elif decision == "invalid":
        report_mark_invalid(report=report, actor=actor, reason=reason)
    elif decision == "accept":
        report_accept(report=report, actor=actor, vulnerability=case)
    elif decision == "defer":
        report_defer(report=report, actor=actor, reason=reason)
    else:
        report_close(report=report, actor=actor, reason=reason, merged_into=case)


@staff_required
@require_POST
def staff_report_reply_view(request, pk: int):
    report = get_object_or_404(reports_for_staff(request.user), pk=pk)
    form = TeamReplyForm(request.POST)
    if form.is_valid():
        try:
            report_team_reply(report=report, actor=request.user, body=form.cleaned_data["body"])
        except ValidationError as error:
            service_error_report(request, form, error)
        else:
            messages.success(request, "Message sent to the reporter.")
            return redirect("intake:staff_report", pk=report.pk)
    return _staff_report_render(request, report, reply=form, status=400)


@staff_required
def staff_attachment_view(request, pk: int, attachment_pk: int):
    """A download, never shown inline: the browser must not run or render what a
    reporter sent."""
    attachment = get_object_or_404(
        ReportAttachment.objects.filter(report__in=reports_for_staff(request.user)),
        pk=attachment_pk,
        report_id=pk,
    )
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.name,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
