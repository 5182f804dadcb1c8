"""Staff must have MFA before any staff page opens."""

from __future__ import annotations

from allauth.mfa.utils import is_mfa_enabled
from django.contrib import messages
from django.shortcuts import redirect

# Paths that hold embargo or membership decisions; everything under them needs MFA.
# The member leak pages (/leaks/) are included because staff read every organisation's
# reports and sanctions there too; members are not affected (this is for staff only).
STAFF_PATH_PREFIXES = ("/staff/", "/admin/", "/leaks/")
# The admin login is allauth's login (see config/urls.py); it must stay reachable.
EXEMPT_PATHS = ("/admin/login/", "/admin/logout/")


class StaffMfaRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and request.path.startswith(STAFF_PATH_PREFIXES)
            and not request.path.startswith(EXEMPT_PATHS)
            and not is_mfa_enabled(user)
        ):
            messages.warning(
                request, "Set up two-factor authentication before opening staff pages."
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)
