"""Staff must have MFA before any staff page opens; signed-in pages are never cached."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.cache import patch_cache_control

from core.mfa import has_second_factor

# Paths that hold embargo or membership decisions; everything under them needs MFA.
# The member leak pages (/leaks/) are included because staff read every organisation's
# reports and sanctions there too; members are not affected (this is for staff only).
STAFF_PATH_PREFIXES = ("/staff/", "/admin/", "/leaks/")
# The admin login is allauth's login (see config/urls.py); it must stay reachable.
EXEMPT_PATHS = ("/admin/login/", "/admin/logout/")
# Pages that can carry embargoed text or membership decisions, whoever asks: never kept
# by a browser or a shared cache even if someone reaches them signed out.
# A reporter's page (/report/<reference>/<token>/) holds their report and the
# conversation, with no sign-in to make it private: never cached either.
NO_STORE_PATH_PREFIXES = (*STAFF_PATH_PREFIXES, "/notices/", "/me/", "/accounts/", "/report/")


class StaffMfaRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        # path_info, not path: served under a prefix (SCRIPT_NAME=/haulout), request.path
        # is /haulout/staff/..., which no prefix above matches.
        path = request.path_info
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and path.startswith(STAFF_PATH_PREFIXES)
            and not path.startswith(EXEMPT_PATHS)
            and not has_second_factor(user)
        ):
            messages.warning(
                request, "Set up two-factor authentication before opening staff pages."
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)


class NoStoreMiddleware:
    """Cache-Control: no-store, private on every response to a signed-in person and on
    every response under the paths above: a page with embargoed text, a team or a TOTP
    secret must not stay in a browser's cache or history for the next user of the machine,
    nor in any cache between us and them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if signed_in or request.path_info.startswith(NO_STORE_PATH_PREFIXES):
            patch_cache_control(response, no_store=True, private=True)
        return response
