"""Forms for leak reports, sanctions and tracing. Shape and length only; the services
check every rule again."""

from __future__ import annotations

from django import forms

from distributors.models import Organization
from embargo.forms import UtcDateTimeField
from embargo.models import Notice
from leaks.models import LEAK_EVIDENCE_MAX_LENGTH, LEAK_TEXT_MAX_LENGTH, LeakReport, Sanction


def _text(label: str, *, required: bool = True, help_text: str = "", rows: int = 4):
    return forms.CharField(
        label=label,
        required=required,
        max_length=LEAK_TEXT_MAX_LENGTH,
        help_text=help_text,
        widget=forms.Textarea(attrs={"rows": rows}),
    )


class NoticeChoiceField(forms.ModelChoiceField):
    # No subject: the page is readable by anyone in the organisation, the subject is
    # embargoed text. The case id and the date are enough to find it in the mailbox.
    def label_from_instance(self, notice: Notice) -> str:
        sent = notice.send_started_at.strftime("%Y-%m-%d") if notice.send_started_at else "?"
        return f"Notice #{notice.pk}, case {notice.vulnerability.public_id}, sent {sent}"


class _LeakFields(forms.Form):
    what_leaked = _text(
        "What leaked", help_text="Which notice, and which part of it: all, the patch, a date…"
    )
    leaked_to = _text("Who received it", help_text="People, a list, a public site…")
    leaked_at = UtcDateTimeField(
        label="When (UTC)", required=False, help_text="As close as you know, in UTC."
    )
    how = _text("How it happened")
    prevention = _text(
        "What you changed so it does not happen again",
        help_text="The security team reads this with the report.",
    )


class MemberLeakReportForm(_LeakFields):
    organization = forms.ModelChoiceField(label="Your organisation", queryset=None)
    notice = NoticeChoiceField(label="The notice", queryset=None)
    evidence_text = forms.CharField(
        label="The leaked text, if you have it",
        required=False,
        max_length=LEAK_EVIDENCE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=(
            "Paste it as it was shared. Only the security team sees it: it shows them "
            "which copy leaked."
        ),
    )
    evidence_url = forms.URLField(
        label="A link to the leaked copy, if there is one",
        required=False,
        max_length=500,
        assume_scheme="https",
    )

    field_order = ["organization", "notice"]

    def __init__(self, *args, organizations, notices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        self.fields["notice"].queryset = notices
        if organizations.count() == 1:
            self.fields["organization"].initial = organizations.first()


class StaffLeakReportForm(_LeakFields):
    organization = forms.ModelChoiceField(label="Organisation", queryset=None)
    source = forms.ChoiceField(
        label="How the security team learnt of it",
        choices=[
            (LeakReport.Source.ON_BEHALF, LeakReport.Source.ON_BEHALF.label),
            (LeakReport.Source.FOUND, LeakReport.Source.FOUND.label),
        ],
    )
    notice = NoticeChoiceField(label="The notice", queryset=None, required=False)
    evidence_text = forms.CharField(
        label="The leaked text, pasted",
        required=False,
        max_length=LEAK_EVIDENCE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Kept for the security team only; you can trace it from the report.",
    )
    evidence_url = forms.URLField(
        label="A link to it", required=False, max_length=500, assume_scheme="https"
    )

    field_order = ["organization", "source", "notice"]

    def __init__(self, *args, notices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = Organization.objects.filter(
            status__in=[Organization.Status.MEMBER, Organization.Status.SUSPENDED]
        ).order_by("name")
        self.fields["notice"].queryset = notices
        self.fields["prevention"].required = False
        self.fields["prevention"].label = "What the organisation changed (if known)"


class DecisionForm(forms.Form):
    reason = _text("Reason", help_text="The organisation sees it.", rows=3)
    reference_code = forms.CharField(
        label="Copy it was traced to (reference code, optional)", required=False, max_length=16
    )


class DismissForm(forms.Form):
    reason = _text("Reason", help_text="The organisation sees it.", rows=3)


class SanctionForm(forms.Form):
    kind = forms.ChoiceField(label="Decision", choices=Sanction.Kind.choices)
    reason = _text("Reason", help_text="The organisation's people are shown it.", rows=3)
    until = UtcDateTimeField(
        label="Suspended until (UTC)",
        required=False,
        help_text="For a suspension; leave empty for 'until lifted'.",
    )


class LiftForm(forms.Form):
    reason = _text("Reason", rows=2)


class RetrospectiveForm(forms.Form):
    retrospective = _text(
        "Your retrospective",
        help_text="What happened, why, and what you changed so it does not happen again.",
        rows=10,
    )


class TraceForm(forms.Form):
    text = forms.CharField(
        label="The leaked text",
        max_length=LEAK_EVIDENCE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="All or part of a notice, as found; wrapping, case and quoting do not matter.",
    )
    # The leak report the trace was started from, so its result can confirm that report.
    leak = forms.IntegerField(required=False, widget=forms.HiddenInput)


class LeakDisclosureForm(forms.Form):
    disclosure_at = UtcDateTimeField(label="New disclosure time (UTC)")
    note = _text("Note to recipients (encrypted)", required=False, rows=3)
