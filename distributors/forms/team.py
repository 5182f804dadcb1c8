"""Forms for the team pages and PGP keys. Shape and size only; the services decide."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from distributors.services.keys import ARMOR_MAX_CHARS


class InvitationForm(forms.Form):
    email = forms.EmailField(max_length=254, label="Email address")
    is_need_to_know = forms.BooleanField(
        required=False,
        initial=True,
        label="Need-to-know",
        help_text="Receives embargoed notices once they have completed their checklist.",
    )
    is_admin = forms.BooleanField(
        required=False, label="Admin", help_text="Can invite and manage people in this team."
    )


class TeamMemberUpdateForm(forms.Form):
    # A checkbox that is not ticked is simply absent from the POST: both are always sent.
    is_need_to_know = forms.BooleanField(required=False, label="Need-to-know")
    is_admin = forms.BooleanField(required=False, label="Admin")


class KeyUploadForm(forms.Form):
    armored = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        label="Paste your ASCII-armored public key",
        help_text="The output of: gpg --armor --export YOUR-FINGERPRINT",
        max_length=ARMOR_MAX_CHARS,
    )
    key_file = forms.FileField(
        required=False,
        label="…or choose a key file",
        help_text="An .asc file with one ASCII-armored public key.",
    )

    def clean(self):
        cleaned = super().clean()
        pasted = (cleaned.get("armored") or "").strip()
        upload = cleaned.get("key_file")
        if pasted and upload:
            raise ValidationError("Paste the key or choose a file, not both.")
        if upload:
            if upload.size > ARMOR_MAX_CHARS:
                raise ValidationError("That file is too large to be a single public key.")
            raw = upload.read(ARMOR_MAX_CHARS + 1)
            try:
                pasted = raw.decode("ascii").strip()
            except UnicodeDecodeError:
                raise ValidationError(
                    "That file is not ASCII armor. Export the key with "
                    "gpg --armor --export and upload the .asc file."
                ) from None
        if not pasted:
            raise ValidationError("Paste your public key or choose a key file.")
        cleaned["key_text"] = pasted
        return cleaned


class KeyProofForm(forms.Form):
    code = forms.CharField(
        max_length=100,
        label="Code from the decrypted message",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
