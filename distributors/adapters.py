from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import (
    AUTHENTICATION_METHODS_SESSION_KEY,
    get_authentication_records,
    record_authentication,
)
from allauth.core.internal.ratelimit import get_ip
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.urls import reverse

from distributors.models import Organization, TeamMember
from distributors.services.team import INVITATION_SESSION_KEY, invitation_proves_address


class AccountAdapter(DefaultAccountAdapter):
    def get_from_email(self) -> str:
        return settings.DEFAULT_FROM_EMAIL

    def get_client_ip(self, request) -> str:
        try:
            return super().get_client_ip(request)
        except ImproperlyConfigured:
            # Fewer X-Forwarded-For entries than trusted proxies: the request did not pass
            # through them all. Count it against the address it came from (at worst the
            # proxy's, which every client then shares: stricter, never an error page).
            address = request.META.get("REMOTE_ADDR")
            if not address:
                raise PermissionDenied("Unable to determine the client address.") from None
            return address

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # The "key" of the login_failed rate limit (settings.ACCOUNT_RATE_LIMITS). allauth
        # makes it the account alone, so anyone could lock a person (staff included) out
        # with five wrong passwords; with the client address in it, only the address that
        # guessed is held back, and the "ip" limit still stops one address trying many
        # accounts.
        # get_ip() is the address as the "ip" limit counts it (an IPv6 address cut to its
        # /64), so rotating addresses within one network does not buy more guesses.
        account = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{account}:{get_ip(request)}"

    def is_email_verified(self, request, email: str) -> bool:
        # Signing up with exactly the invited address, through a link that can still be
        # accepted, proves the person reads mail there: no second confirmation mail. Any
        # other address, or a barred one, is confirmed by mail as usual. allauth's own
        # "stashed" address is not used: it would verify the invited address even when
        # the person signs up with another one.
        return invitation_proves_address(
            token_sha256=request.session.get(INVITATION_SESSION_KEY, ""), email=email
        )

    def post_login(self, request, user, **kwargs):
        response = super().post_login(request, user, **kwargs)
        _count_password_as_reauthentication(request, user, signup=kwargs.get("signup"))
        return response

    def get_login_redirect_url(self, request) -> str:
        # Someone whose organisation was suspended or removed sees the decision first.
        user = request.user
        if (
            user.is_authenticated
            and TeamMember.objects.filter(
                user=user,
                organization__status__in=[
                    Organization.Status.SUSPENDED,
                    Organization.Status.REMOVED,
                ],
            ).exists()
        ):
            messages.warning(
                request,
                "Your organisation has been suspended or removed from the distributors list.",
            )
            return reverse("distributors:standing")
        return super().get_login_redirect_url(request)


def _count_password_as_reauthentication(request, user, *, signup: bool) -> None:
    """A password typed moments ago, at sign-up or sign-in, counts as a reauthentication.

    allauth (65.x) asks for the password again before turning on two-factor unless the
    session has a record marked "reauthenticated" younger than
    ACCOUNT_REAUTHENTICATION_TIMEOUT (default 300 s); a sign-in never gets that mark, so
    a new invitee typed their password twice within a minute. The mark carries the time
    the password was typed, so the window is allauth's own and later sensitive actions
    still ask again.
    """
    if signup:
        # Only when the password was typed in this very request: a sign-up finished later
        # by the confirmation link (ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION) is no fresh proof.
        if (
            request.method == "POST"
            and request.POST.get("password1")
            and user.has_usable_password()
        ):
            record_authentication(request, user, method="password", reauthenticated=True)
        return
    records = list(get_authentication_records(request, user))
    passwords = [r for r in records if r.get("method") == "password"]
    if passwords and not passwords[-1].get("reauthenticated"):
        records.append({**passwords[-1], "reauthenticated": True})
        request.session[AUTHENTICATION_METHODS_SESSION_KEY] = records


def user_display(user) -> str:
    return user.email
