"""Forms for the security team's case and notice pages. They check shape and length so a
message appears beside the field; the services check every rule again."""

from __future__ import annotations

from datetime import UTC

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from distributors.eligibility import AUDIENCE_STATUSES
from distributors.models import Organization
from embargo.models import REASON_MAX_LENGTH, TEXT_MAX_LENGTH, Notice, Vulnerability
from embargo.scoring import base_metrics, cvss_score, vector_build, vector_choices
from embargo.services.cases import CWE_IDS_MAX_LENGTH, EDITABLE_AFTER_DISCLOSURE

DATETIME_INPUT_FORMATS = ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
DISPLAY_FORMAT = "%Y-%m-%d %H:%M"


class UtcDateTimeField(forms.DateTimeField):
    """A date and time typed in UTC, whatever zone the request happens to run in: the
    team agrees disclosure times with reporters and other lists in UTC.

    A plain text box, not the browser's date-and-time picker, which shows the reader's
    locale (a US browser: 05/04/2026, 02:00 PM) next to a hint that says UTC, 24-hour."""

    widget = forms.DateTimeInput(
        attrs={"placeholder": "YYYY-MM-DD HH:MM", "autocomplete": "off", "spellcheck": "false"},
        format=DISPLAY_FORMAT,
    )

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", DATETIME_INPUT_FORMATS)
        super().__init__(**kwargs)

    def to_python(self, value):
        with timezone.override(UTC):
            result = super().to_python(value)
        return result.astimezone(UTC) if result is not None else None

    def prepare_value(self, value):
        if hasattr(value, "astimezone") and timezone.is_aware(value):
            return value.astimezone(UTC).strftime(DISPLAY_FORMAT)
        return super().prepare_value(value)


DISCLOSURE_HELP = (
    "In UTC (Coordinated Universal Time), not your local time: e.g. 2026-05-04 14:00. "
    "Notices go out at least 7 days before where the case allows."
)


class CaseFilterForm(forms.Form):
    # Read by core.lists.listing_build (which trims it); here so the form renders it. Not
    # the title: a search is a GET, and embargoed text never goes into a URL.
    q = forms.CharField(label="Case id", required=False)
    state = forms.ChoiceField(
        label="State",
        required=False,
        choices=[("", "Any state"), *Vulnerability.State.choices],
    )


class CaseForm(forms.Form):
    title = forms.CharField(
        label="Title",
        max_length=200,
        help_text="Private until disclosure; becomes the advisory's title.",
    )
    summary = forms.CharField(
        label="Private summary",
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="What the issue is and who reported it. Never published. Markdown.",
    )
    cvss_vector = forms.CharField(
        label="CVSS vector",
        max_length=200,
        required=False,
        help_text="CVSS 3.1 or 4.0 base vector, e.g. CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H. "
        "The score and severity are computed from it.",
    )
    cve_id = forms.CharField(
        label="CVE id", max_length=32, required=False, help_text="e.g. CVE-2026-12345."
    )
    cwe_ids = forms.CharField(
        label="CWE ids",
        max_length=CWE_IDS_MAX_LENGTH,
        required=False,
        help_text="The weakness types, separated by commas, e.g. CWE-787, CWE-20. "
        "Published with the advisory.",
    )
    disclosure_at = UtcDateTimeField(
        label="Disclosure date and time (UTC)", required=False, help_text=DISCLOSURE_HELP
    )
    mitigation = forms.CharField(
        label="Mitigation (for the public advisory)",
        max_length=TEXT_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Published at disclosure. Markdown.",
    )
    public_description = forms.CharField(
        label="Public description (for the advisory)",
        max_length=TEXT_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="What the issue is, in words fit for everyone; published at disclosure. "
        "The private summary never is. Markdown.",
    )
    reporter_name = forms.CharField(label="Reporter's name", max_length=200, required=False)
    reporter_email = forms.EmailField(
        label="Reporter's email",
        required=False,
        help_text="Told when the case is rejected or its disclosure date moves.",
    )
    reporter_public_key = forms.CharField(
        label="Reporter's public PGP key (ASCII armor)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Optional. Without it the reporter only ever gets a mail saying that "
        "something changed, never any detail.",
    )
    reported_at = UtcDateTimeField(
        label="Report arrived (UTC)",
        required=False,
        help_text="Leave empty for now. The first response is due within 3 business days.",
    )
    credit = forms.CharField(
        label="Credit (for the public advisory)",
        max_length=200,
        required=False,
        help_text="The name the reporter wants to be credited under: the advisory says "
        "“Reported by …”. Leave empty for no credit.",
    )
    versions_note = forms.CharField(
        label="Versions note (private)",
        max_length=REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For the team only, never published. The affected packages and versions "
        "are listed on the case page.",
    )

    field_order = [
        "title",
        "summary",
        "reporter_name",
        "reporter_email",
        "reporter_public_key",
        "reported_at",
    ]

    def __init__(self, *args, vulnerability: Vulnerability | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if vulnerability is not None:
            # The disclosure date moves through its own form: moving it is audited and
            # re-notifies everyone already told.
            del self.fields["disclosure_at"]
            if vulnerability.state == Vulnerability.State.DISCLOSED:
                for name in list(self.fields):
                    if name not in EDITABLE_AFTER_DISCLOSURE:
                        del self.fields[name]

    def clean(self):
        cleaned = super().clean()
        # Empty means "now" for a new case and "unchanged" for an edit.
        if cleaned.get("reported_at") is None:
            cleaned.pop("reported_at", None)
        return cleaned

    @staticmethod
    def initial_for(vulnerability: Vulnerability) -> dict:
        return {
            name: getattr(vulnerability, name)
            for name in (
                "title",
                "summary",
                "cvss_vector",
                "cve_id",
                "cwe_ids",
                "mitigation",
                "public_description",
                "reporter_name",
                "reporter_email",
                "reporter_public_key",
                "reported_at",
                "credit",
                "versions_note",
            )
        }


class TransitionForm(forms.Form):
    state = forms.ChoiceField(
        choices=[
            (Vulnerability.State.TRIAGED, Vulnerability.State.TRIAGED.label),
            (Vulnerability.State.FIXING, Vulnerability.State.FIXING.label),
        ]
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Told to the reporter.",
    )


class DisclosureMoveForm(forms.Form):
    disclosure_at = UtcDateTimeField(
        label="New disclosure date and time (UTC)", help_text=DISCLOSURE_HELP
    )
    note = forms.CharField(
        label="Note for recipients",
        max_length=REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional. If notices were sent, everyone told gets a new encrypted notice "
        "with the new date and this note.",
    )


class DiscloseForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, publish the advisory now and end the embargo",
        help_text="Recipients of the notices are told the embargo is over.",
    )


class NoticeForm(forms.Form):
    outer_subject = forms.CharField(
        label="Outer subject (sent in clear)",
        max_length=200,
        help_text="What mail servers and inboxes show. Must say nothing about the issue.",
    )
    subject = forms.CharField(
        label="Real subject (encrypted)",
        max_length=200,
        help_text="Only ever sent inside the encrypted part.",
    )
    body = forms.CharField(
        label="Body (encrypted)",
        max_length=TEXT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 14}),
        help_text="Markdown.",
    )
    audience_all = forms.TypedChoiceField(
        label="Audience",
        choices=[("1", "Every member organisation"), ("0", "Only the organisations chosen below")],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
        initial="1",
    )
    organizations = forms.ModelMultipleChoiceField(
        label="Organisations",
        queryset=Organization.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Used only when the audience is the chosen organisations.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Suspended and removed organisations stay choosable so the preview can show why
        # their people are withheld.
        self.fields["organizations"].queryset = Organization.objects.filter(
            status__in=AUDIENCE_STATUSES
        ).order_by("name")

    @staticmethod
    def initial_for(notice: Notice) -> dict:
        return {
            "outer_subject": notice.outer_subject,
            "subject": notice.subject,
            "body": notice.body,
            "audience_all": "1" if notice.audience_all else "0",
            "organizations": list(notice.organizations.all()),
        }


class AcknowledgeForm(forms.Form):
    """Nothing to fill in: the POST itself is the acknowledgement."""


class CvssCalculatorForm(forms.Form):
    """Every base metric of one CVSS version as a choice, or a pasted vector, which wins
    and fills the choices. cleaned_data["vector"] is the base vector to score."""

    vector = forms.CharField(
        label="Or paste a vector",
        max_length=200,
        required=False,
        help_text="It fills the choices above (use “Read the vector”) or is saved as it is.",
    )

    def __init__(self, *args, version: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.version = version
        self.metric_names = []
        for metric in base_metrics(version):
            self.fields[metric.key] = forms.ChoiceField(
                label=f"{metric.label} ({metric.key})",
                choices=[(value, f"{name} ({value})") for value, name in metric.values],
                widget=forms.RadioSelect,
                required=False,
            )
            self.metric_names.append(metric.key)
        # The vector field after the metrics, as the page shows it.
        self.order_fields([*self.metric_names, "vector"])

    def metric_fields(self):
        return [self[name] for name in self.metric_names]

    def clean(self):
        cleaned = super().clean()
        pasted = (cleaned.get("vector") or "").strip()
        if pasted:
            try:
                score = cvss_score(pasted)
            except ValidationError as error:
                self.add_error("vector", error)
                return cleaned
            if score.version != self.version:
                self.add_error(
                    "vector",
                    f"This is a CVSS {score.version} vector; "
                    f"this is the {self.version} calculator.",
                )
                return cleaned
            cleaned["vector"] = score.vector
            cleaned["choices"] = vector_choices(score)
            return cleaned
        missing = [name for name in self.metric_names if not cleaned.get(name)]
        for name in missing:
            self.add_error(name, "Choose a value.")
        if not missing:
            choices = {name: cleaned[name] for name in self.metric_names}
            cleaned["vector"] = vector_build(self.version, choices)
            cleaned["choices"] = choices
        return cleaned


# --- Disclosure-date negotiation -------------------------------------------------------

PROPOSAL_REASON_HELP = (
    "Every invited party reads it: the team, the reporter and the organisations told about "
    "the case. Say nothing that is not already in the notices."
)


class ProposalForm(forms.Form):
    proposed_at = UtcDateTimeField(label="Proposed disclosure date and time (UTC)")
    reply_by = UtcDateTimeField(
        label="Answers by (UTC)",
        help_text="The other parties answer until then; not after the proposed time.",
    )
    reason = forms.CharField(
        label="Why this date",
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=PROPOSAL_REASON_HELP,
    )


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(
        label="Your answer",
        choices=[
            ("accept", "Accept this date"),
            ("object", "Object (say why)"),
            ("counter", "Propose another date instead"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label="Reason",
        max_length=REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Needed to object or counter-propose. " + PROPOSAL_REASON_HELP,
    )
    counter_at = UtcDateTimeField(
        label="Your date and time instead (UTC)",
        required=False,
        help_text="Only for a counter-proposal.",
    )
    counter_reply_by = UtcDateTimeField(
        label="Answers to your counter-proposal by (UTC)",
        required=False,
        help_text="Only for a counter-proposal; not after your date.",
    )


def _proposal_choice_label(proposal) -> str:
    at = proposal.disclosure_at.astimezone(UTC)
    by = proposal.get_proposed_by_display()
    return f"Proposal #{proposal.pk}: {at:%Y-%m-%d %H:%M} UTC ({by})"


class DisclosureDateSetForm(forms.Form):
    """The team's decision: one of the open proposals, or its own date."""

    proposal = forms.TypedChoiceField(
        label="Choose",
        coerce=int,
        required=False,
        empty_value=None,
        widget=forms.RadioSelect,
    )
    disclosure_at = UtcDateTimeField(
        label="Or the team's own date and time (UTC)", required=False, help_text=DISCLOSURE_HELP
    )
    note = forms.CharField(
        label="Note for recipients",
        max_length=REASON_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Optional. Everyone already told gets a new encrypted notice with the date "
        "and this note.",
    )

    def __init__(self, *args, proposals=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["proposal"].choices = [
            ("", "The team's own date below"),
            *[(proposal.pk, _proposal_choice_label(proposal)) for proposal in proposals],
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and (cleaned.get("proposal") is None) == (
            cleaned.get("disclosure_at") is None
        ):
            raise ValidationError("Choose a proposal or give the team's own date, not both.")
        return cleaned
