from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal.ratelimit import get_ip
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.urls import reverse

from distributors.models import Organization, TeamMember


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


def user_display(user) -> str:
    return user.email
