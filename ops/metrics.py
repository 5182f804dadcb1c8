"""The Prometheus side: web request latency (observed here, per process) and the
registry a scrape reads, with the database collectors of the apps.

Request latency is labelled by the route's name (e.g. "embargo:case_detail"), never by
the path, which carries ids and tokens. Under gunicorn each worker process keeps its
own histogram; with PROMETHEUS_MULTIPROC_DIR set in the environment before the web
server starts (an empty folder, one per machine), prometheus_client writes them to files
there and a scrape adds up the machine's processes (its multiprocess mode). Without it
a scrape sees only the process that answers, which is right for a single process."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import time

from allauth.account.adapter import get_adapter
from django.conf import settings
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from embargo.metrics import DeliveryCollector
from intake.metrics import ReportSlaCollector

logger = logging.getLogger(__name__)

REQUEST_LATENCY = Histogram(
    "haulout_http_request_duration_seconds",
    "Time to answer a web request, by route name, method and status class.",
    ["route", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def route_label(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return match.view_name or "unnamed"


class RequestLatencyMiddleware:
    """Outermost but for the request id, so the histogram covers every other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        REQUEST_LATENCY.labels(
            route=route_label(request), method=method, status=f"{response.status_code // 100}xx"
        ).observe(time.perf_counter() - started)
        return response


class _ThisProcess:
    """The default registry's metrics (request latency, the process's own), when there is
    no multiprocess folder."""

    def collect(self):
        yield from REGISTRY.collect()


def in_process_registry() -> CollectorRegistry:
    """What this process (or, in multiprocess mode, every process of the machine) observed."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    return registry


def metrics_registry() -> CollectorRegistry:
    registry = in_process_registry()
    registry.register(DeliveryCollector())
    registry.register(ReportSlaCollector())
    return registry


def metrics_text() -> bytes:
    return generate_latest(metrics_registry())


def _bearer_token(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _client_address(request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's address as the sign-in rate limits see it (allauth's, with the
    trusted-proxy settings); None when it cannot be told."""
    try:
        return ipaddress.ip_address(get_adapter(request).get_client_ip(request))
    except Exception:  # a malformed X-Forwarded-For, too few proxies in it: refuse
        return None


def _allowed_networks() -> list:
    networks = []
    for entry in settings.HAULOUT_METRICS_ALLOWED_IPS:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            logger.warning("HAULOUT_METRICS_ALLOWED_IPS: %r is not an address", entry)
    return networks


def metrics_allowed(request) -> bool:
    """A scraper is let in by its bearer token (compared in constant time) or by its
    address being one of HAULOUT_METRICS_ALLOWED_IPS (addresses or networks)."""
    expected = settings.HAULOUT_METRICS_TOKEN
    presented = _bearer_token(request)
    if expected and presented:
        return hmac.compare_digest(presented.encode(), expected.encode())
    networks = _allowed_networks()
    if not networks:
        return False
    address = _client_address(request)
    return address is not None and any(address in network for network in networks)
