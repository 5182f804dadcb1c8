"""allauth's MFA forms, where Haulout needs them to behave differently."""

from __future__ import annotations

from allauth.mfa.totp.forms import ActivateTOTPForm as AllauthActivateTOTPForm
from allauth.mfa.totp.internal import auth
from allauth.mfa.webauthn.forms import AddWebAuthnForm as AllauthAddWebAuthnForm
from allauth.mfa.webauthn.forms import (
    AuthenticateWebAuthnForm as AllauthAuthenticateWebAuthnForm,
)
from allauth.mfa.webauthn.forms import EditWebAuthnForm as AllauthEditWebAuthnForm
from allauth.mfa.webauthn.forms import (
    ReauthenticateWebAuthnForm as AllauthReauthenticateWebAuthnForm,
)
from django import forms
from django.core.exceptions import ValidationError
from fido2.webauthn import AuthenticationResponse, RegistrationResponse


class ActivateTOTPForm(AllauthActivateTOTPForm):
    """TOTP set-up whose secret stays the same until it is confirmed.

    allauth makes a new secret on every unbound (GET) form, so reloading the page, or
    coming back after scanning the code, showed a different QR code and the code from the
    app never matched. The pending secret lives in the session (allauth's own key) and is
    cleared by allauth once TOTP is activated.
    """

    def __init__(self, *args, **kwargs) -> None:
        self.user = kwargs.pop("user")
        # Skips allauth's __init__, which would regenerate the secret on a GET.
        forms.Form.__init__(self, *args, **kwargs)
        self.secret = auth.get_totp_secret(regenerate=False)


# The key's answer arrives in a hidden field, so allauth's own messages for it said
# nothing a person could act on: "This field is required." (Enter pressed in the name
# field before the key answered) and "Incorrect code." (an answer that does not verify).
KEY_NO_ANSWER = "Press “Add the key”, then touch or insert your security key when asked."
KEY_NAME_MAX_LENGTH = 64
KEY_SIGN_IN_FAILED = (
    "Your security key's answer could not be checked. Try again, or sign in with a code."
)
KEY_NOT_VERIFIED = (
    "Your security key's answer could not be checked, so the key was not added. "
    "Press “Add the key” and try again."
)


class AddWebAuthnForm(AllauthAddWebAuthnForm):
    """allauth's form for adding a security key, with a bounded name and messages that say
    what to do."""

    name = forms.CharField(
        label="Name of the key",
        required=False,
        max_length=KEY_NAME_MAX_LENGTH,
        help_text="So you can tell your keys apart, e.g. “Desk key” or “Spare on the keyring”.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["credential"].error_messages.update(
            {"required": KEY_NO_ANSWER, "invalid": KEY_NOT_VERIFIED}
        )

    def clean_credential(self):
        # allauth parses the answer catching TypeError only: a malformed one (a missing
        # key, a bad encoding) was a server error. Anything that is not a registration
        # answer is refused here, before allauth reads it.
        credential = self.cleaned_data["credential"]
        try:
            RegistrationResponse.from_dict(credential)
        except (KeyError, TypeError, ValueError) as error:
            raise ValidationError(KEY_NOT_VERIFIED, code="key_not_verified") from error
        return credential

    def clean(self) -> dict:
        try:
            return super().clean()
        except ValidationError as error:
            raise ValidationError(KEY_NOT_VERIFIED, code="key_not_verified") from error


class EditWebAuthnForm(AllauthEditWebAuthnForm):
    """Renaming a key: the same bound on the name as when it was added."""

    name = forms.CharField(label="Name of the key", max_length=KEY_NAME_MAX_LENGTH)


class _KeyAnswerChecked:
    """For the forms that check a key's answer at sign-in and re-authentication. allauth
    parses the answer catching TypeError and ValueError only, so one missing a field was a
    server error; and a failed check read "Incorrect code.", about a code nobody typed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["credential"].error_messages.update(
            {"required": KEY_SIGN_IN_FAILED, "invalid": KEY_SIGN_IN_FAILED}
        )

    def clean_credential(self):
        try:
            AuthenticationResponse.from_dict(self.cleaned_data["credential"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValidationError(KEY_SIGN_IN_FAILED, code="key_not_verified") from error
        try:
            return super().clean_credential()
        except ValidationError as error:
            # Other refusals (too many failed attempts) keep allauth's own words.
            if error.code != "incorrect_code":
                raise
            raise ValidationError(KEY_SIGN_IN_FAILED, code="key_not_verified") from error


class AuthenticateWebAuthnForm(_KeyAnswerChecked, AllauthAuthenticateWebAuthnForm):
    pass


class ReauthenticateWebAuthnForm(_KeyAnswerChecked, AllauthReauthenticateWebAuthnForm):
    pass
