"""Structured logs: one JSON object per line with the request, user and task ids."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import shared_task

from tests.factories import TeamMemberFactory
from tests.jsonlogs import json_log_lines

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent
logger = logging.getLogger("tests.ops")


@shared_task
def log_one_line_task(case_id: int) -> None:
    logger.info("Working on case %s", case_id, extra={"case_id": case_id})


def test_a_line_carries_the_request_id_and_the_signed_in_users_id(client, mfa_client):
    member = TeamMemberFactory(is_admin=True).user
    mfa_client(member)
    with json_log_lines() as captured:
        response = client.get("/staff/health/")  # not for members: 404, which Django logs
    assert response.status_code == 404
    [line] = [line for line in captured.lines if line["logger"] == "django.request"]
    assert line["message"] == "Not Found: /staff/health/"
    assert line["level"] == "WARNING"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["user_id"] == member.pk
    assert line["task_id"] is None
    assert "time" in line


def test_an_anonymous_request_logs_no_user_id(client):
    with json_log_lines() as captured:
        response = client.get("/no/such/page/")
    [line] = [line for line in captured.lines if line["logger"] == "django.request"]
    assert line["user_id"] is None
    assert line["request_id"] == response["X-Request-ID"]


def test_every_response_has_a_request_id_and_two_requests_differ(client):
    first = client.get("/healthz/")["X-Request-ID"]
    second = client.get("/healthz/")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_a_sane_x_request_id_from_the_proxy_is_kept(client):
    response = client.get("/healthz/", HTTP_X_REQUEST_ID="3f2b9c1e-proxy-id_0042")
    assert response["X-Request-ID"] == "3f2b9c1e-proxy-id_0042"


@pytest.mark.parametrize(
    "offered", ["short", "x" * 65, "has spaces in it", 'quote"and\\slash', "line\nbreak-00000"]
)
def test_an_odd_x_request_id_is_replaced_by_our_own(client, offered):
    response = client.get("/healthz/", HTTP_X_REQUEST_ID=offered)
    assert response["X-Request-ID"] != offered
    assert len(response["X-Request-ID"]) == 32


def test_a_celery_task_line_carries_the_task_id_and_the_ids_passed_in_extra():
    with json_log_lines() as captured:
        log_one_line_task.apply(args=[42], task_id="c0ffee00-task-id")
    [line] = [line for line in captured.lines if line["logger"] == "tests.ops"]
    assert line["task_id"] == "c0ffee00-task-id"
    assert line["case_id"] == 42
    assert line["request_id"] is None


def _log_one_line(log_format: str | None) -> str:
    env = {key: value for key, value in os.environ.items() if key != "HAULOUT_LOG_FORMAT"}
    if log_format is not None:
        env["HAULOUT_LOG_FORMAT"] = log_format
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('haulout.check').warning('Case %s checked', 7, extra={'case_id': 7})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stderr.strip().splitlines()[-1]


def test_haulout_log_format_json_writes_one_json_object_per_line():
    line = json.loads(_log_one_line("json"))
    assert line["message"] == "Case 7 checked"
    assert line["case_id"] == 7
    assert line["logger"] == "haulout.check"
    assert {"time", "level", "request_id", "user_id", "task_id"} <= set(line)


def test_plain_text_stays_the_default():
    line = _log_one_line(None)
    assert line.endswith("WARNING haulout.check Case 7 checked")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
