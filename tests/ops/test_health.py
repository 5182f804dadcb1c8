"""/healthz/ for load balancers and the staff health page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from config.celery import app
from core.periodic import beat_heartbeat_last, beat_heartbeat_record
from core.tasks import beat_heartbeat_task
from embargo.delivery.health import gpg_fault_report
from embargo.models import Delivery
from ops.health import FAILING, OK, UNKNOWN, checks_run, staff_checks
from tests.embargo.realservices import wait_for
from tests.factories import DeliveryFactory, ReportFactory, TeamMemberFactory
from tests.ops.conftest import team_key_files
from tests.prefix import SCRIPT_NAME, PrefixedClient, served_under

pytestmark = pytest.mark.django_db

HEALTHZ = "/healthz/"
STAFF_HEALTH = "/staff/health/"


def _outcomes() -> dict:
    return {outcome.title: outcome for outcome in checks_run(staff_checks())}


@pytest.fixture
def all_well(team_key):
    """A published team key valid for years and beat's heartbeat just now."""
    beat_heartbeat_record(now=timezone.now())


# ---------------------------------------------------------------- /healthz/


def test_healthz_says_ok_and_nothing_more(client):
    response = client.get(HEALTHZ)
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"]


def test_healthz_sets_no_cookie_and_needs_no_sign_in(client, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):  # SELECT 1
        response = client.get(HEALTHZ)
    assert response.status_code == 200
    assert not response.cookies


def test_healthz_answers_503_failing_when_the_cache_is_unreachable(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Port 1: nothing listens there, the connection is refused at once.
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    response = client.get(HEALTHZ)
    assert response.status_code == 503
    assert response.content == b"failing\n"


def test_healthz_is_answered_over_plain_http_with_the_https_redirect_on(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(HEALTHZ).status_code == 200
    # Everything else is still redirected to HTTPS.
    assert client.get("/report/").status_code == 301


def test_healthz_is_answered_over_plain_http_under_a_path_prefix_too(settings):
    settings.SECURE_SSL_REDIRECT = True
    with served_under(SCRIPT_NAME):
        client = PrefixedClient(SCRIPT_NAME)
        assert client.get(HEALTHZ).status_code == 200
        assert client.get("/report/").status_code == 301


def test_healthz_refuses_a_post(client):
    assert client.post(HEALTHZ).status_code == 405


def _point_cache_and_broker_at(settings, url: str) -> dict:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    previous = {"broker_url": app.conf.broker_url, "opts": app.conf.broker_transport_options}
    app.close()
    app.conf.broker_url = url
    app.conf.broker_transport_options = {}
    return previous


@pytest.mark.services
def test_healthz_turns_503_when_redis_stops_and_200_when_it_is_back(
    client, settings, private_redis
):
    previous = _point_cache_and_broker_at(settings, private_redis.url)
    try:
        assert client.get(HEALTHZ).status_code == 200
        private_redis.stop()
        wait_for(lambda: client.get(HEALTHZ).status_code == 503, timeout=20, what="503")
        assert client.get(HEALTHZ).content == b"failing\n"
        private_redis.start()
        wait_for(lambda: client.get(HEALTHZ).status_code == 200, timeout=20, what="200")
    finally:
        app.close()
        app.conf.broker_url = previous["broker_url"]
        app.conf.broker_transport_options = previous["opts"]


# ---------------------------------------------------------------- the staff page


def test_the_staff_health_page_sends_anonymous_people_to_sign_in(client):
    response = client.get(STAFF_HEALTH)
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_the_staff_health_page_does_not_exist_for_a_member(client, mfa_client):
    member = TeamMemberFactory(is_admin=True).user
    mfa_client(member)
    assert client.get(STAFF_HEALTH).status_code == 404


def test_the_staff_health_page_sends_staff_without_mfa_to_set_it_up(client, staff_without_mfa):
    client.force_login(staff_without_mfa)
    response = client.get(STAFF_HEALTH)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_the_staff_health_page_lists_every_check_and_answers_200_when_all_is_well(
    client, mfa_client, staff_reviewer, all_well, django_assert_max_num_queries
):
    mfa_client(staff_reviewer)
    with django_assert_max_num_queries(12):
        response = client.get(STAFF_HEALTH)
    assert response.status_code == 200, response.content.decode()
    page = response.content.decode()
    for title in (
        "Database",
        "Shared cache",
        "Task queue (Celery broker)",
        "Celery workers",
        "Celery beat",
        "gpg",
        "Team key",
        "Workers can encrypt",
        "Copies waiting to be sent",
        "First response to reporters",
    ):
        assert f"<td>{title}</td>" in page
    # The embedded broker cannot be asked for workers: unknown, not a failure.
    assert "Workers cannot be asked over the filesystem broker." in page
    assert "no-store" in response["Cache-Control"]


def test_the_staff_health_page_answers_503_and_names_what_fails(
    client, mfa_client, staff_reviewer, all_well
):
    ReportFactory(
        received_at=timezone.now() - timedelta(days=10),
        first_response_warn_at=timezone.now() - timedelta(days=8),
        first_response_due_at=timezone.now() - timedelta(days=7),
    )
    mfa_client(staff_reviewer)
    response = client.get(STAFF_HEALTH)
    assert response.status_code == 503
    assert "1 report(s) are past the first-response deadline unanswered." in (
        response.content.decode()
    )


def test_all_is_well_when_beat_ran_and_the_team_key_is_good(all_well):
    outcomes = _outcomes()
    failing = {title: o.message for title, o in outcomes.items() if o.status == FAILING}
    assert failing == {}
    assert outcomes["Celery workers"].status == UNKNOWN
    assert outcomes["Team key"].status == OK
    assert "valid until" in outcomes["Team key"].message


def test_beat_is_failing_when_its_heartbeat_never_ran(team_key):
    assert _outcomes()["Celery beat"].message == "Beat's heartbeat job has never run."


def test_beat_is_failing_when_its_heartbeat_is_stale(team_key, settings):
    settings.HAULOUT_HEALTH_BEAT_MAX_AGE_SECONDS = 300
    beat_heartbeat_record(now=timezone.now() - timedelta(minutes=10))
    beat = _outcomes()["Celery beat"]
    assert beat.status == FAILING
    assert beat.message == "Beat's heartbeat job last ran 10 min ago."


def test_the_heartbeat_task_records_when_it_ran_and_never_goes_back():
    beat_heartbeat_task()
    first = beat_heartbeat_last()
    assert first is not None and timezone.now() - first < timedelta(minutes=1)
    beat_heartbeat_record(now=first - timedelta(hours=1))
    assert beat_heartbeat_last() == first


def test_beat_runs_the_heartbeat_task_and_workers_know_it(settings):
    [entry] = [
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "core.tasks.beat_heartbeat_task"
    ]
    assert entry["schedule"] == settings.HAULOUT_BEAT_HEARTBEAT_SECONDS
    assert "core.tasks.beat_heartbeat_task" in app.tasks


def test_a_copy_waiting_too_long_fails_the_waiting_copies_check(all_well, settings):
    settings.HAULOUT_HEALTH_COPY_WAIT_MAX_SECONDS = 900
    DeliveryFactory(state=Delivery.State.PENDING, created_at=timezone.now() - timedelta(hours=2))
    DeliveryFactory(state=Delivery.State.SENT, created_at=timezone.now() - timedelta(days=2))
    waiting = _outcomes()["Copies waiting to be sent"]
    assert waiting.status == FAILING
    assert waiting.message == "The oldest copy waiting has waited 2 h."


def test_a_recent_copy_waiting_is_fine(all_well):
    DeliveryFactory(state=Delivery.State.SENDING, created_at=timezone.now() - timedelta(seconds=30))
    assert _outcomes()["Copies waiting to be sent"].status == OK


def test_a_team_key_expiring_within_30_days_fails(settings, tmp_path):
    settings.HAULOUT_TEAM_PUBLIC_KEY_FILE = team_key_files(tmp_path, expire="10d")["public_path"]
    team = _outcomes()["Team key"]
    assert team.status == FAILING
    assert "extend or rotate it" in team.message


def test_a_missing_team_key_fails_with_the_reason(settings, tmp_path):
    settings.HAULOUT_TEAM_KEY_FILE = tmp_path / "absent.asc"
    settings.HAULOUT_TEAM_PUBLIC_KEY_FILE = tmp_path / "absent.pub.asc"
    team = _outcomes()["Team key"]
    assert team.status == FAILING
    assert "cannot be read" in team.message


def test_a_missing_gpg_binary_fails(all_well, settings):
    settings.GPG_BINARY = "gpg-that-is-not-installed"
    gpg = _outcomes()["gpg"]
    assert gpg.status == FAILING
    assert gpg.message == "No gpg-that-is-not-installed binary on this machine's PATH."


def test_a_worker_that_cannot_encrypt_fails_its_check(all_well):
    cache.clear()
    gpg_fault_report(reason="the team key file cannot be read")
    try:
        workers = _outcomes()["Workers can encrypt"]
    finally:
        cache.clear()
    assert workers.status == FAILING
    assert "cannot encrypt: the team key file cannot be read" in workers.message


@pytest.mark.services
def test_no_worker_answering_over_redis_fails_the_worker_check(all_well, settings, private_redis):
    previous = _point_cache_and_broker_at(settings, private_redis.url)
    try:
        workers = _outcomes()["Celery workers"]
    finally:
        app.close()
        app.conf.broker_url = previous["broker_url"]
        app.conf.broker_transport_options = previous["opts"]
    assert workers.status == FAILING
    assert workers.message == "No worker answered within 1 s."


@pytest.mark.services
def test_a_worker_answering_over_redis_passes_the_worker_check(real_services):
    real_services.worker().wait_ready()
    workers = _outcomes()["Celery workers"]
    assert workers.status == OK, workers.message
    assert workers.message == "1 worker(s) answered."
