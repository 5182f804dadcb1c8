"""The machine-readable advisories: OSV records, CSAF documents and the Atom feed. Public,
no sign-in, GET only. A case that is not disclosed gives the same 404 as one that never
existed, at every address."""

from __future__ import annotations

from django.http import Http404, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from advisories.common import absolute_url
from advisories.csaf import csaf_document
from advisories.feeds import AdvisoriesFeed
from advisories.osv import osv_index_entry, osv_record
from advisories.selectors import advisory_export_get, osv_index_page, osv_records_page

# Public documents may sit in shared caches a little while; signed-in people still get
# no-store from core.middleware.NoStoreMiddleware, which wins.
PUBLIC_CACHE_SECONDS = 300
JSON_OPTIONS = {"indent": 2, "sort_keys": True, "ensure_ascii": False}


def _json(data) -> JsonResponse:
    return JsonResponse(data, safe=False, json_dumps_params=JSON_OPTIONS)


def _case_or_404(public_id: str):
    case = advisory_export_get(public_id=public_id)
    if case is None:
        raise Http404("No such advisory.")
    return case


def _page_link(name: str, page) -> str | None:
    if not page.has_next():
        return None
    return absolute_url(reverse(f"advisories:{name}")) + f"?page={page.next_page_number()}"


@require_GET
@cache_control(public=True, max_age=PUBLIC_CACHE_SECONDS)
def osv_record_view(request, public_id: str):
    return _json(osv_record(_case_or_404(public_id)))


@require_GET
@cache_control(public=True, max_age=PUBLIC_CACHE_SECONDS)
def csaf_document_view(request, public_id: str):
    return _json(csaf_document(_case_or_404(public_id)))


@require_GET
@cache_control(public=True, max_age=PUBLIC_CACHE_SECONDS)
def osv_index_view(request):
    """Every published id with its modified time, what OSV mirrors compare to fetch only
    what changed; each record is at the "record" address (id replaces {id})."""
    page = osv_index_page(page=request.GET.get("page"))
    template = absolute_url(reverse("advisories:osv", kwargs={"public_id": "ID"}))
    return _json(
        {
            "advisories": [
                osv_index_entry(public_id=row["public_id"], modified=row["last_published_at"])
                for row in page
            ],
            "record": template.replace("/ID/", "/{id}/"),
            "all": absolute_url(reverse("advisories:osv_all")),
            "next": _page_link("osv_index", page),
        }
    )


@require_GET
@cache_control(public=True, max_age=PUBLIC_CACHE_SECONDS)
def osv_all_view(request):
    page = osv_records_page(page=request.GET.get("page"))
    return _json(
        {"records": [osv_record(case) for case in page], "next": _page_link("osv_all", page)}
    )


advisories_feed_view = require_GET(
    cache_control(public=True, max_age=PUBLIC_CACHE_SECONDS)(AdvisoriesFeed())
)
