"""Helpers every staff or form page uses, in both apps."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from ..forms import form_errors_from


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
