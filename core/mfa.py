"""What counts as two-factor authentication, in one place for every check that asks.

An authenticator app (TOTP) or a security key (WebAuthn) is a second factor; either is
enough. Recovery codes are not: allauth makes them beside the first app or key, and they
are a way back in when that is lost, not a factor someone has set up."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.urls import reverse

SECOND_FACTOR_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def has_second_factor(user) -> bool:
    """True when the person has an authenticator app or at least one security key."""
    if not user.is_authenticated:
        return False
    return Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTOR_TYPES).exists()


def second_factor_confirm_url(user) -> str:
    """Where to confirm the second factor in a session signed in without it. allauth's
    code page (mfa_reauthenticate) takes an app's code or a recovery code and links the
    key page as an alternative; for someone with keys and no app, the key page itself,
    since that is what they will use."""
    types = set(
        Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTOR_TYPES).values_list(
            "type", flat=True
        )
    )
    if Authenticator.Type.WEBAUTHN in types and Authenticator.Type.TOTP not in types:
        return reverse("mfa_reauthenticate_webauthn")
    return reverse("mfa_reauthenticate")
