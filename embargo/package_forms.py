"""Forms for a case's packages, version ranges, fix references and fix state, on the
case page. They check shape and length; embargo/services/packages.py checks every rule
again (purl type, git commits, release day)."""

from __future__ import annotations

from django import forms

from embargo.models import AffectedPackage, FixReference, FixState
from embargo.services.packages import (
    FIX_URL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    PURL_MAX_LENGTH,
    REPOSITORY_URL_MAX_LENGTH,
    VERSION_MAX_LENGTH,
)


class PackageForm(forms.Form):
    prefix = "package"

    ecosystem = forms.ChoiceField(label="Ecosystem", choices=AffectedPackage.Ecosystem.choices)
    name = forms.CharField(
        label="Package name",
        max_length=NAME_MAX_LENGTH,
        required=False,
        help_text="As the ecosystem writes it (Maven: group:artifact). "
        "Read from the package URL if left empty.",
    )
    purl = forms.CharField(
        label="Package URL (purl)",
        max_length=PURL_MAX_LENGTH,
        required=False,
        help_text="Optional, without a version, e.g. pkg:pypi/django.",
    )
    repository_url = forms.CharField(
        label="Repository address",
        max_length=REPOSITORY_URL_MAX_LENGTH,
        required=False,
        help_text="Needed for the upstream source (git), whose ranges are commits.",
    )


class RangeForm(forms.Form):
    prefix = "range"

    package = forms.TypedChoiceField(label="Package", coerce=int)
    introduced = forms.CharField(
        label="Introduced in",
        max_length=VERSION_MAX_LENGTH,
        required=False,
        help_text="The first affected version (or commit); empty or 0: every earlier one.",
    )
    fixed = forms.CharField(
        label="Fixed in",
        max_length=VERSION_MAX_LENGTH,
        required=False,
        help_text="The first version with the fix.",
    )
    last_affected = forms.CharField(
        label="Or last affected",
        max_length=VERSION_MAX_LENGTH,
        required=False,
        help_text="Only when there is no fixed version yet.",
    )

    def __init__(self, *args, packages=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["package"].choices = [
            (package.pk, f"{package.ecosystem} {package.name}") for package in packages
        ]


class FixReferenceForm(forms.Form):
    prefix = "reference"

    kind = forms.ChoiceField(label="Kind", choices=FixReference.Kind.choices)
    url = forms.CharField(label="Address", max_length=FIX_URL_MAX_LENGTH, required=False)
    commit = forms.CharField(
        label="Commit id",
        max_length=64,
        required=False,
        help_text="For a commit with no public address yet.",
    )
    note = forms.CharField(label="Note", max_length=NOTE_MAX_LENGTH, required=False)


class FixStateForm(forms.Form):
    prefix = "fix"

    state = forms.ChoiceField(label="Fix state", choices=FixState.choices, required=False)
    version = forms.CharField(
        label="Fixed version",
        max_length=VERSION_MAX_LENGTH,
        required=False,
        help_text="Needed once released; may be given earlier as the planned version.",
    )
    released_on = forms.DateField(
        label="Released on",
        required=False,
        # Text, not type=date, which a browser shows in its reader's locale (a US one:
        # 05/04/2026): every date on the site reads YYYY-MM-DD.
        widget=forms.DateInput(attrs={"placeholder": "YYYY-MM-DD"}, format="%Y-%m-%d"),
        help_text="YYYY-MM-DD. Needed once released; not in the future.",
    )

    @staticmethod
    def initial_for(case) -> dict:
        return {
            "state": case.fix_state,
            "version": case.fix_version,
            "released_on": case.fix_released_on,
        }
