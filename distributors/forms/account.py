"""allauth's account forms, where Haulout needs them to behave differently."""

from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from django.contrib.auth.hashers import make_password

from distributors.services.team import INVITATION_SESSION_KEY, invitation_usable_for_hash


class SignupForm(AllauthSignupForm):
    """Sign-up that takes as long for an address with an account as for a new one.

    A new account costs a password hash (deliberately slow, about a second); an existing
    address only gets allauth's "you already have an account" mail. Without this the
    answer time alone told anyone which addresses, staff included, have accounts here.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Arriving from an invitation link: the invited address is filled in (from the
        # session, never the URL, so it is not in any access log).
        # The page also says which team the account is for (account/signup.html).
        self.invitation = None
        request = context.request
        if request is not None and not self.is_bound:
            self.invitation = invitation_usable_for_hash(
                request.session.get(INVITATION_SESSION_KEY)
            )
            if self.invitation is not None:
                self.fields["email"].initial = self.invitation.email

    def try_save(self, request):
        user, response = super().try_save(request)
        if user is None:
            # No account was made: hash the typed password anyway, the same work a new
            # account does, and throw the hash away.
            make_password(self.cleaned_data.get("password1") or "")
        return user, response
