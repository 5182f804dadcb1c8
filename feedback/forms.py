"""The feedback forms. They check shape only; the services check the rules (which
status needs what) and their errors are shown beside these fields."""

from __future__ import annotations

from django import forms

from feedback.models import TEXT_MAX_LENGTH, OrganizationStatus, PatchTest

NO_CHOICE = [("", "—")]


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        label="Your organisation's status",
        choices=OrganizationStatus.Status.choices,
        widget=forms.RadioSelect,
    )
    justification = forms.ChoiceField(
        label="Why not affected",
        choices=NO_CHOICE + OrganizationStatus.Justification.choices,
        required=False,
        help_text="Only for “Not affected”.",
    )
    product = forms.CharField(
        label="Product or package",
        max_length=200,
        required=False,
        help_text="Your own build or package this status is about.",
    )
    fixed_version = forms.CharField(
        label="Fixed in version",
        max_length=100,
        required=False,
        help_text="Needed for “Fixed”: your version that carries the fix.",
    )
    statement = forms.CharField(
        label="Statement",
        max_length=TEXT_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For the security team; published only if you allow it below.",
    )
    publish_after_disclosure = forms.BooleanField(
        label="The status and statement may be published with the advisory after disclosure",
        required=False,
    )

    @classmethod
    def for_status(cls, status: OrganizationStatus | None, **kwargs) -> StatusForm:
        if status is None:
            return cls(**kwargs)
        initial = {
            name: getattr(status, name)
            for name in (
                "status",
                "justification",
                "product",
                "fixed_version",
                "statement",
                "publish_after_disclosure",
            )
        }
        return cls(initial=initial, **kwargs)


class PatchTestForm(forms.Form):
    tested = forms.CharField(
        label="What you tested", max_length=300, help_text="Which patch or build."
    )
    environment = forms.CharField(
        label="On what", max_length=300, help_text="Platform, versions, configuration."
    )
    result = forms.ChoiceField(
        label="Result", choices=PatchTest.Result.choices, widget=forms.RadioSelect
    )
    details = forms.CharField(
        label="Details",
        max_length=TEXT_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class MessageForm(forms.Form):
    body = forms.CharField(
        label="Message", max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 4})
    )
