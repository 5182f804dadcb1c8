"""The health and metrics answers. Thin: which checks, run them, say so."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseNotFound
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from core.views import staff_required
from ops.health import FAILING, OK, UNKNOWN, checks_run, healthy, load_balancer_checks, staff_checks
from ops.metrics import metrics_allowed, metrics_text

UNHEALTHY = 503


@require_safe
@never_cache
def healthz_view(request):
    """For load balancers: "ok" (200) or "failing" (503), nothing else. No sign-in, no
    session (nothing here reads it), no detail that could help anyone but us."""
    outcomes = checks_run(load_balancer_checks())
    if healthy(outcomes):
        return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")
    return HttpResponse("failing\n", content_type="text/plain; charset=utf-8", status=UNHEALTHY)


@staff_required
@require_safe
def staff_health_view(request):
    outcomes = checks_run(staff_checks())
    return render(
        request,
        "ops/staff_health.html",
        {
            "outcomes": outcomes,
            "healthy": healthy(outcomes),
            "OK": OK,
            "UNKNOWN": UNKNOWN,
            "FAILING": FAILING,
        },
        status=200 if healthy(outcomes) else UNHEALTHY,
    )


@require_safe
@never_cache
def metrics_view(request):
    """Prometheus text format for an allowed scraper; for anyone else the same empty 404
    as a page that does not exist."""
    if not metrics_allowed(request):
        return HttpResponseNotFound(b"", content_type="text/plain")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
