"""Forms for the embargo policy and vouching; the services check every rule again."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet

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
    """A member admin's opt-in to the list applicants see where they ask for a vouch.

    The contact is typed as an address, not picked from a list: a team can have thousands
    of people, and a menu of every one of them made the team page slow to build and to use.
    """

    contact = forms.EmailField(
        label="Address of the person applicants may ask to vouch",
        required=False,
        max_length=254,
        help_text=(
            "Someone in your team. Applicants for membership will see your organisation's "
            "name and this address, and can ask this person to vouch; they still decide "
            "each request. Leave empty to take your organisation off the list."
        ),
    )

    def __init__(self, *args, members: QuerySet[TeamMember], **kwargs):
        # `members` stays a lazy queryset: only the typed address is looked up.
        super().__init__(*args, **kwargs)
        self.members = members

    def clean_contact(self) -> TeamMember | None:
        address = self.cleaned_data["contact"]
        if not address:
            return None
        member = (
            self.members.filter(user__email__iexact=address, user__is_active=True)
            .select_related("user")
            .first()
        )
        if member is None:
            raise forms.ValidationError(
                f"Nobody in your team has the address {address}. Invite them first, or "
                "type the address of someone already on the team."
            )
        return member
