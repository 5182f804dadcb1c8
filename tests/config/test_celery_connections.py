"""config.celery: a worker keeps its database connection from task to task, as long as
CONN_MAX_AGE allows, instead of opening a new one for every task."""

from __future__ import annotations

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from config.celery import app, db_connections_tidy
from embargo.tasks import delivery_send_task

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def max_age():
    """Sets the connection's CONN_MAX_AGE and opens it afresh (the age is read on
    connect); puts everything back afterwards."""
    original = connection.settings_dict.get("CONN_MAX_AGE", 0)

    def set_age(seconds):
        connection.settings_dict["CONN_MAX_AGE"] = seconds
        connection.close()
        connection.ensure_connection()
        return connection.connection

    yield set_age
    connection.settings_dict["CONN_MAX_AGE"] = original
    connection.close()


def _run_tasks(count: int) -> None:
    """What a prefork worker does around each task: Celery's Django fix-up, then ours."""
    fixup = DjangoWorkerFixup(app)
    task = delivery_send_task
    for _ in range(count):
        fixup.on_task_prerun(sender=task)
        db_connections_tidy(sender=task)
        connection.ensure_connection()  # the task's own queries
        fixup.on_task_postrun(sender=task)
        db_connections_tidy(sender=task)


def test_a_worker_keeps_its_connection_across_tasks_while_conn_max_age_allows(max_age):
    opened = max_age(60)
    _run_tasks(5)
    assert connection.connection is opened


def test_with_conn_max_age_zero_each_task_gets_a_new_connection(max_age):
    opened = max_age(0)
    _run_tasks(1)
    assert connection.connection is None or connection.connection is not opened


def test_a_task_run_eagerly_never_closes_its_callers_connection(max_age):
    opened = max_age(0)
    task = delivery_send_task
    task.push_request(is_eager=True)
    try:
        db_connections_tidy(sender=task)
    finally:
        task.pop_request()
    assert connection.connection is opened
