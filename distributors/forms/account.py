"""allauth's account forms, where Haulout needs them to behave differently."""

from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from django.contrib.auth.hashers import make_password


class SignupForm(AllauthSignupForm):
    """Sign-up that takes as long for an address with an account as for a new one.

    A new account costs a password hash (deliberately slow, about a second); an existing
    address only gets allauth's "you already have an account" mail. Without this the
    answer time alone told anyone which addresses, staff included, have accounts here.
    """

    def try_save(self, request):
        user, response = super().try_save(request)
        if user is None:
            # No account was made: hash the typed password anyway, the same work a new
            # account does, and throw the hash away.
            make_password(self.cleaned_data.get("password1") or "")
        return user, response
