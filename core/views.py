"""Helpers every staff or form page uses, in both apps."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlencode

from allauth.account.authentication import get_authentication_records
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from core.forms import form_errors_from
from core.mfa import has_second_factor, second_factor_confirm_url


def staff_required(view):
    """Anonymous people go to the login page; signed-in non-staff get a plain 404, so the
    staff pages do not even admit to existing."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    guarded = login_required(wrapper)
    # A marker the URL meta-test (tests/test_url_safety.py) looks for on every view under
    # /staff/, so a new staff page cannot forget this decorator. functools.wraps copies it
    # onto any decorator applied outside this one.
    guarded.haulout_staff_required = True
    return guarded


def signed_in_with_mfa(request) -> bool:
    """True when this session's sign-in (or a later re-authentication) used the second
    factor. Someone who set up an app or a key after signing in with a password alone has
    not used it yet; the records are allauth's own, bound to the signed-in account."""
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


def _return_url(request) -> str:
    """Where to come back to after confirming the second factor. A POST is not replayed
    (its form could hold embargoed text, which must not wait in the session): the person
    returns to the page they came from and presses the button again."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.headers.get("referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return reverse("home")


def mfa_required(view):
    """For the pages and actions of a member organisation that reach embargoed content or
    change who does (team changes, vouches, leak reports): signed in, two-factor
    authentication set up, and used for this session's sign-in. A password alone is not
    enough for any of them, as it is not for the staff pages."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not has_second_factor(request.user):
            messages.warning(
                request,
                "Set up two-factor authentication first. Your organisation's team, vouches "
                "and leak reports need it.",
            )
            return redirect("mfa_activate_totp")
        if not signed_in_with_mfa(request):
            messages.warning(
                request,
                "Confirm with your authenticator app or security key first: this session was "
                "signed in without it.",
            )
            query = urlencode({"next": _return_url(request)})
            return redirect(f"{second_factor_confirm_url(request.user)}?{query}")
        return view(request, *args, **kwargs)

    guarded = login_required(wrapper)
    # Looked for by the tests, like haulout_staff_required.
    guarded.haulout_mfa_required = True
    return guarded


def service_error_report(request, form, error: ValidationError) -> None:
    """A service's error about a field goes beside that field; an error about the object
    as a whole (already decided, already sent) goes to the messages, which every page
    shows."""
    if hasattr(error, "error_dict"):
        form_errors_from(form, error)
    else:
        messages.error(request, " ".join(error.messages))


def service_run(
    request, call: Callable[[], object], *, success: str, permission_denied: bool = False
) -> bool:
    """Run a service for a button that redirects the same way whatever happens: its
    ValidationError (and its PermissionDenied, only when asked for) becomes an error message,
    otherwise `success` is shown. True on success. Anything else is not caught, so a bug
    still surfaces as one instead of being passed off as a refusal."""
    caught = (ValidationError, PermissionDenied) if permission_denied else (ValidationError,)
    try:
        call()
    except caught as error:
        if isinstance(error, ValidationError):
            messages.error(request, " ".join(error.messages))
        else:
            messages.error(request, str(error) or "You cannot do this.")
        return False
    messages.success(request, success)
    return True
