from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.contrib import messages
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def get_from_email(self) -> str:
        return settings.DEFAULT_FROM_EMAIL

    def get_login_redirect_url(self, request) -> str:
        # Someone whose organisation was suspended or removed sees the decision first.
        from .models import Organization, TeamMember

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
