"""Forms for reports. They check shape and length so a message appears beside the field;
the services check every rule again."""

from __future__ import annotations

from django import forms
from django.conf import settings

from intake.models import Report
from intake.services import IncomingFile, files_check


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class FilesField(forms.FileField):
    """Several files from one input; the count and sizes are checked by the service
    (services.files_check), which names the limit."""

    widget = MultipleFileInput

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        items = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(FilesField, self).clean(item, initial) for item in items]


def incoming_files(uploads) -> list[IncomingFile]:
    """Checks the count and sizes first (services.files_check raises the message), so a
    file over the limit is never read into memory."""
    files_check(uploads)
    return [IncomingFile(name=upload.name, content=upload.read()) for upload in uploads]


def _attachments_help() -> str:
    return (
        f"Proof of concept, screenshots, logs: at most {settings.HAULOUT_REPORT_ATTACHMENTS_MAX} "
        f"files, {settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES // (1024 * 1024)} MiB each. "
        "Only the security team can open them."
    )


class ReportForm(forms.Form):
    reporter_name = forms.CharField(label="Your name", max_length=200, required=False)
    reporter_affiliation = forms.CharField(
        label="Affiliation (company, project or none)", max_length=200, required=False
    )
    reporter_email = forms.EmailField(
        label="Contact address", help_text="We send the receipt and every answer here."
    )
    subject = forms.CharField(
        label="Subject",
        max_length=200,
        help_text="A short, descriptive title, e.g. “Heap overflow in the TIFF decoder”.",
    )
    reproduce = forms.CharField(
        label="Steps to reproduce", widget=forms.Textarea(attrs={"rows": 6}), required=False
    )
    effects = forms.CharField(
        label="What happens, and the configuration needed to reproduce it",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )
    impact = forms.CharField(
        label="How it affects users; the attack surface",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )
    others_involved = forms.CharField(
        label="Other projects or dependencies involved",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )
    exposure = forms.ChoiceField(
        label="Is it already public, or being exploited?",
        choices=Report.Exposure.choices,
        initial=Report.Exposure.UNKNOWN,
    )
    disclosure_plans = forms.CharField(
        label="Your own disclosure plans or deadline",
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
    )
    credit_wanted = forms.BooleanField(label="I would like to be credited", required=False)
    credit_as = forms.CharField(
        label="Credit me as", max_length=200, required=False, help_text="Name, handle or company."
    )
    encrypted_message = forms.CharField(
        label="Or: a message encrypted to the security team's key",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        required=False,
        help_text="Paste the whole armored message (-----BEGIN PGP MESSAGE-----). "
        "Give a subject and contact address above; the rest may stay empty.",
    )
    reporter_public_key = forms.CharField(
        label="Your public PGP key (optional)",
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        required=False,
        help_text="With it, every message we send you is encrypted to it.",
    )
    attachments = FilesField(label="Files")
    # A honeypot: hidden from people (CSS and aria-hidden), filled in by form robots.
    website = forms.CharField(
        label="Leave this field empty",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = _attachments_help()

    def clean_website(self):
        if self.cleaned_data.get("website"):
            raise forms.ValidationError("Leave this field empty to send the report.")
        return ""


class ReplyForm(forms.Form):
    body = forms.CharField(label="Your message", widget=forms.Textarea(attrs={"rows": 6}))
    attachments = FilesField(label="Files")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attachments"].help_text = _attachments_help()


class TeamReplyForm(forms.Form):
    body = forms.CharField(
        label="Message to the reporter",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Encrypted to their key if they gave one; otherwise they are told there "
        "is news and read it on their page.",
    )


class DecisionForm(forms.Form):
    DECISIONS = [
        ("valid", "Valid: a vulnerability, to be looked at"),
        ("invalid", "Invalid: not a vulnerability (the reason is sent to the reporter)"),
        ("accept", "Accept: open a case, or link to an existing one"),
        ("defer", "Defer"),
        ("close", "Close (or merge into an existing case)"),
    ]
    decision = forms.ChoiceField(choices=DECISIONS, widget=forms.RadioSelect)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)
    case = forms.CharField(
        label="Existing case (public id, e.g. HAUL-2026-0001)",
        required=False,
        help_text="Accept into or merge with this case instead of opening a new one.",
    )
