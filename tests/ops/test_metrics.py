"""The Prometheus endpoint: who may scrape it, and what it reports."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from embargo.models import Delivery
from tests.factories import DeliveryFactory, ReportFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent
METRICS = "/metrics"
TOKEN = "a-long-random-scrape-token-0123456789"


@pytest.fixture
def scrape_config(settings):
    settings.HAULOUT_METRICS_ALLOWED_IPS = ["10.1.2.3", "192.0.2.0/24"]
    settings.HAULOUT_METRICS_TOKEN = TOKEN


def _samples(response) -> dict:
    """{(name, frozenset(labels)): value} of one scrape."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_an_unknown_client_gets_an_empty_404(client, scrape_config):
    response = client.get(METRICS, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 404
    assert response.content == b""


def test_a_wrong_token_gets_an_empty_404_even_from_an_allowed_address(client, scrape_config):
    response = client.get(
        METRICS, REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer not-the-token"
    )
    assert response.status_code == 404
    assert response.content == b""


def test_nobody_may_scrape_by_default(client):
    assert client.get(METRICS, REMOTE_ADDR="127.0.0.1").status_code == 404
    assert client.get(METRICS, HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_the_right_token_is_let_in_from_anywhere(client, scrape_config):
    response = client.get(METRICS, REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_an_allowed_address_or_network_is_let_in(client, scrape_config):
    assert client.get(METRICS, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get(METRICS, REMOTE_ADDR="192.0.2.77").status_code == 200


def test_a_forwarded_address_counts_only_behind_a_trusted_proxy(client, scrape_config, settings):
    forwarded = {"REMOTE_ADDR": "172.16.0.1", "HTTP_X_FORWARDED_FOR": "10.1.2.3"}
    # No trusted proxy: the header is the client's own invention.
    assert client.get(METRICS, **forwarded).status_code == 404
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    assert client.get(METRICS, **forwarded).status_code == 200
    # One proxy of ours: only the entry it added counts, not what the client put first.
    spoofed = {"REMOTE_ADDR": "172.16.0.1", "HTTP_X_FORWARDED_FOR": "10.1.2.3, 203.0.113.9"}
    assert client.get(METRICS, **spoofed).status_code == 404


def test_the_scrape_counts_copies_by_state_and_reports_by_deadline(
    client, scrape_config, django_assert_max_num_queries
):
    now = timezone.now()
    DeliveryFactory.create_batch(2, state=Delivery.State.PENDING, sent_at=None)
    DeliveryFactory(state=Delivery.State.FAILED, sent_at=None, temporary_failures=3)
    DeliveryFactory(created_at=now - timedelta(seconds=10), sent_at=now, temporary_failures=2)
    ReportFactory(
        first_response_warn_at=now - timedelta(days=2),
        first_response_due_at=now - timedelta(days=1),
    )
    ReportFactory()
    with django_assert_max_num_queries(3):
        response = client.get(METRICS, REMOTE_ADDR="10.1.2.3")
    samples = _samples(response)
    assert samples[("haulout_deliveries", frozenset({("state", "pending")}))] == 2
    assert samples[("haulout_deliveries", frozenset({("state", "failed")}))] == 1
    assert samples[("haulout_deliveries", frozenset({("state", "sent")}))] == 1
    assert samples[("haulout_deliveries", frozenset({("state", "withheld")}))] == 0
    bucket = "haulout_delivery_send_latency_seconds_bucket"
    assert samples[(bucket, frozenset({("le", "5.0")}))] == 0
    assert samples[(bucket, frozenset({("le", "15.0")}))] == 1
    assert samples[("haulout_delivery_send_latency_seconds_count", frozenset())] == 1
    assert samples[("haulout_delivery_send_latency_seconds_sum", frozenset())] == pytest.approx(
        10, abs=0.01
    )
    assert samples[("haulout_delivery_retries_total", frozenset())] == 5
    assert samples[("haulout_reports", frozenset({("sla", "overdue")}))] == 1
    assert samples[("haulout_reports", frozenset({("sla", "waiting")}))] == 1


def test_request_latency_is_labelled_by_route_name_never_by_path(client, scrape_config):
    client.get("/healthz/")
    client.get("/report/NOSUCHREF123/sometoken/")
    client.get("/no/such/page/zqx-person-7/")
    text = client.get(METRICS, REMOTE_ADDR="10.1.2.3").content.decode()
    assert 'haulout_http_request_duration_seconds_count{method="GET",route="ops:healthz"' in text
    assert 'route="intake:report_track"' in text
    assert 'route="unmatched"' in text
    for fragment in ("NOSUCHREF123", "sometoken", "zqx-person-7", "/healthz/"):
        assert fragment not in text


def test_in_multiprocess_mode_a_scrape_adds_up_the_machines_processes(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR must be set before prometheus_client loads, so these are
    processes of their own: two web processes and a third that also scrapes, each
    recording one request's latency. (The database collectors are left out: these
    processes have no test database.)"""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder), "DJANGO_SECURE": "0"}
    code = (
        "import django; django.setup(); "
        "import sys; from ops.metrics import REQUEST_LATENCY, in_process_registry; "
        "from prometheus_client import generate_latest; "
        "REQUEST_LATENCY.labels(route='ops:healthz', method='GET', status='2xx').observe(0.01); "
        "sys.stdout.write(generate_latest(in_process_registry()).decode()) "
        "if sys.argv[1] == 'scrape' else None"
    )
    for role in ("web-1", "web-2", "scrape"):
        done = subprocess.run(
            [sys.executable, "-c", code, role],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
    line = (
        'haulout_http_request_duration_seconds_count{method="GET",route="ops:healthz",status="2xx"}'
    )
    [count] = [row for row in done.stdout.splitlines() if row.startswith(line)]
    assert float(count.split()[-1]) == 3
