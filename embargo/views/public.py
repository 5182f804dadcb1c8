"""Public pages, no sign-in: advisories of disclosed cases, and the team's public key.

An advisory exists publicly only after disclosure; before, its address gives the same
404 as one that never existed. The private summary is never shown here, even after
disclosure: it names the reporter."""

from __future__ import annotations

import logging

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.markdown import markdown_render
from embargo.models import Vulnerability
from embargo.selectors import (
    advisories_public,
    advisory_public_get,
    advisory_revisions,
    affected_packages,
    fix_references,
)
from pgpmail import CryptoError, team_public_key_armored

logger = logging.getLogger(__name__)

NO_TEAM_KEY = (
    "The security team's public key is not published here yet.\n"
    "Please ask the security team for it before sending an encrypted report.\n"
)


def advisory_context(case: Vulnerability) -> dict:
    """What embargo/_advisory.html shows besides the case: the public page passes only
    disclosed cases here; the staff preview any case, for the team's eyes."""
    return {
        "case": case,
        "mitigation_html": markdown_render(case.mitigation),
        "description_html": markdown_render(case.public_description),
        "advisory_packages": list(affected_packages(vulnerability=case)),
        "advisory_fix_references": list(fix_references(vulnerability=case)),
        "advisory_revision_list": list(advisory_revisions(vulnerability=case)),
    }


@require_GET
def advisory_list_view(request):
    advisories = list(advisories_public())
    return render(request, "embargo/public/advisory_list.html", {"advisories": advisories})


@require_GET
def advisory_detail_view(request, public_id: str):
    case = advisory_public_get(public_id=public_id)
    if case is None:
        raise Http404("No such advisory.")
    return render(request, "embargo/public/advisory_detail.html", advisory_context(case))


@require_GET
def team_key_view(request):
    try:
        armored = team_public_key_armored()
    except (CryptoError, OSError) as error:
        # Not configured (or unreadable): a clear 404 for the reporter, the detail in
        # the log for the operator. The error names files, never key material.
        logger.warning("team public key unavailable: %s", error)
        return HttpResponse(NO_TEAM_KEY, status=404, content_type="text/plain; charset=utf-8")
    response = HttpResponse(armored, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="team-key.asc"'
    return response
