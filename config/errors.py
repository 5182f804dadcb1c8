"""The server error page. Django's own handler renders 500.html without a request; ours
does the same but passes the few settings the base layout shows (site name, security
contact), because the context processors that usually add them need a request and may
touch the database, which may be the very thing that failed. The request is not used at
all (the page has no form, so no CSRF token either)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseServerError
from django.template import loader

FALLBACK = "<!DOCTYPE html><title>Server error</title><h1>Server error</h1>"


def server_error(request, template_name: str = "500.html"):
    context = {
        "SITE_NAME": settings.SITE_NAME,
        "PROJECT_NAME": settings.PROJECT_NAME,
        "SECURITY_TEAM_EMAIL": settings.SECURITY_TEAM_EMAIL,
    }
    try:
        body = loader.get_template(template_name).render(context)
    except Exception:  # a broken template must not hide the original error behind another
        body = FALLBACK
    return HttpResponseServerError(body)
