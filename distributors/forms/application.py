"""Forms check shape and length so a person gets a message beside the field; the services
check the rules again, because a form is not the only way in."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from distributors.models import (
    EVIDENCE_MAX_LENGTH,
    LINKS_MAX,
    NOTE_MAX_LENGTH,
    Application,
    BlockedIdentity,
    CriterionReview,
)
from distributors.text import name_normalise

LINK_MAX_LENGTH = 500


class OrganizationApplyForm(forms.Form):
    name = forms.CharField(
        label="Organisation name", max_length=200, help_text="As your users know it."
    )

    def clean_name(self) -> str:
        # The service normalises again; here the message shows beside the field.
        try:
            return name_normalise(self.cleaned_data["name"])
        except ValidationError as error:
            raise ValidationError(error.messages) from None

    website = forms.URLField(
        label="Website",
        max_length=300,
        assume_scheme="https",
        help_text="The page where your distribution is published.",
    )


class CriterionAnswerForm(forms.Form):
    evidence = forms.CharField(
        label="Your evidence",
        max_length=EVIDENCE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 10}),
        help_text=f"Plain text, at most {EVIDENCE_MAX_LENGTH:,} characters.",
    )
    links = forms.CharField(
        label="Links",
        required=False,
        # Room for the maximum number of maximum-length links, one per line.
        max_length=LINKS_MAX * (LINK_MAX_LENGTH + 2),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"One http(s) address per line, at most {LINKS_MAX}.",
    )

    def clean_links(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["links"].splitlines()]
        links = [line for line in lines if line]
        if len(links) > LINKS_MAX:
            raise ValidationError(f"Give at most {LINKS_MAX} links; you gave {len(links)}.")
        validate = URLValidator(schemes=["http", "https"])
        for number, link in enumerate(links, start=1):
            if len(link) > LINK_MAX_LENGTH:
                raise ValidationError(f"Link {number} is longer than {LINK_MAX_LENGTH} characters.")
            try:
                validate(link)
            except ValidationError:
                raise ValidationError(
                    f"Link {number} (“{link[:80]}”) is not a valid http(s) address."
                ) from None
        return links


class QuestionReplyForm(forms.Form):
    reply = forms.CharField(
        label="Your reply",
        max_length=EVIDENCE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6}),
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The security team will see this.",
    )


class CriterionReviewForm(forms.Form):
    verdict = forms.ChoiceField(
        label="Verdict", choices=CriterionReview.Verdict.choices, widget=forms.RadioSelect
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required unless met. A “needs information” note is sent to the applicant "
        "as a question.",
    )


class CriterionVerdictForm(CriterionReviewForm):
    """One criterion's part of the one-page review: left blank, nothing is recorded for it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["verdict"].required = False


class AskForm(forms.Form):
    text = forms.CharField(
        label="Question for the applicant",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class DecideForm(forms.Form):
    APPROVE, REJECT = "approve", "reject"

    decision = forms.ChoiceField(
        label="Decision",
        choices=[(APPROVE, "Approve: the organisation becomes a member"), (REJECT, "Reject")],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label="Reason",
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The applicant sees this reason.",
    )


class ReviewQueueFilterForm(forms.Form):
    # Read by core.lists.listing_build (which trims it); here so the form renders it.
    q = forms.CharField(label="Organisation", required=False)
    state = forms.ChoiceField(
        label="State",
        required=False,
        choices=[("", "Any open state")]
        + [(state.value, state.label) for state in Application.REVIEW_STATES],
    )
    older_than_days = forms.IntegerField(
        label="Waiting more than (days)", required=False, min_value=1, max_value=3650
    )


class PersonBarLiftForm(forms.Form):
    reason = forms.CharField(
        label="Why the bar is lifted",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Recorded in the audit log with your name. At most 2,000 characters.",
    )


class BarFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind",
        required=False,
        choices=[("", "Any kind"), *BlockedIdentity.Kind.choices],
    )
    state = forms.ChoiceField(
        label="State",
        required=False,
        choices=[("", "In force or lifted"), ("live", "In force"), ("lifted", "Lifted")],
    )
    q = forms.CharField(label="Address, domain or organisation", required=False, max_length=200)
