"""Forms for the embargo policy and vouching; the services check every rule again."""

from __future__ import annotations

from django import forms

from distributors.models import NOTE_MAX_LENGTH, TeamMember
from distributors.services.policy import POLICY_MAX_LENGTH


class PolicyAcceptForm(forms.Form):
    # The version the person read: accepting must never silently mean a newer text.
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    next = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)


class PolicyPublishForm(forms.Form):
    text = forms.CharField(
        label="New policy text",
        max_length=POLICY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 24}),
        help_text=(
            "Markdown. Publishing makes this the current version: everyone must accept it "
            "again before they receive embargoed notices."
        ),
    )


class VouchRequestForm(forms.Form):
    voucher_email = forms.EmailField(
        label="Voucher's email address",
        max_length=254,
        help_text=(
            "A person in a member organisation of the list who knows your work, "
            "not someone from your own organisation."
        ),
    )


class VouchAnswerForm(forms.Form):
    ACTIONS = (("confirm", "Confirm"), ("decline", "Decline"))

    statement = forms.CharField(
        label="Your statement",
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=(
            "How you know the applicant and why they can be trusted with embargoed "
            "information. Required to confirm; only the security team reads it."
        ),
    )
    action = forms.ChoiceField(choices=ACTIONS)


class VouchGraphFilterForm(forms.Form):
    flagged = forms.BooleanField(label="Only flagged or lapsed", required=False)


class VouchListingForm(forms.Form):
    """A member admin's opt-in to the list applicants see where they ask for a vouch."""

    contact = forms.TypedChoiceField(
        label="Person applicants may ask to vouch",
        coerce=int,
        required=False,
        empty_value=None,
        help_text=(
            "Applicants for membership will see your organisation's name and this person's "
            "email address, and can ask them to vouch. The person still decides each request."
        ),
    )

    def __init__(self, *args, members: list[TeamMember], **kwargs):
        # The team's people, already loaded by the page: no query of its own.
        super().__init__(*args, **kwargs)
        self.members = {member.pk: member for member in members if member.user.is_active}
        self.fields["contact"].choices = [("", "Do not list us")] + [
            (pk, member.user.email) for pk, member in self.members.items()
        ]

    def clean_contact(self) -> TeamMember | None:
        pk = self.cleaned_data["contact"]
        return None if pk is None else self.members[pk]
