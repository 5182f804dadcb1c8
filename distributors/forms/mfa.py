"""allauth's MFA forms, where Haulout needs them to behave differently."""

from __future__ import annotations

from allauth.mfa.totp.forms import ActivateTOTPForm as AllauthActivateTOTPForm
from allauth.mfa.totp.internal import auth
from django import forms


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
