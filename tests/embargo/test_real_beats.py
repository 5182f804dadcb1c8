"""Two `celery beat` processes started together, as an operator might by mistake (issue 15,
item 14): with the real worker, Redis and the SMTP sink, each person gets one policy
reminder and one key expiry warning, and staff one first-response alert, however many
times both beats fire the jobs. Needs REDIS_URL (marker `services`)."""

from __future__ import annotations

import email
import email.policy
import json
from collections import Counter
from datetime import timedelta

import pytest
import redis
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import AuditEvent
from tests.embargo.realservices import wait_for
from tests.factories import (
    MemberOrganizationFactory,
    PgpKeyFactory,
    StaffFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    policy_current_or_new,
)

pytestmark = [pytest.mark.services]

PEOPLE = 24
JOBS = {
    "distributors-policy-reminders": "HAULOUT_BEAT_POLICY_REMINDERS_SECONDS",
    "distributors-key-expiry-warnings": "HAULOUT_BEAT_KEY_EXPIRY_WARNINGS_SECONDS",
    "embargo-first-response-overdue": "HAULOUT_BEAT_FIRST_RESPONSE_SECONDS",
}
SUBJECTS = {
    "policy": "Please accept the current embargo policy",
    "key": "expires in",
    "first_response": "Reporter waiting for a first response",
}


def _received(sink) -> dict[str, Counter]:
    """Messages received by the sink: per kind of mail, how many each address got."""
    counts = {kind: Counter() for kind in SUBJECTS}
    for message in sink.messages:
        subject = email.message_from_bytes(message.data, policy=email.policy.default)["Subject"]
        for kind, phrase in SUBJECTS.items():
            if phrase in str(subject):
                for address in message.rcpt_tos:
                    counts[kind][address] += 1
    return counts


def _idle(client: redis.Redis, queue: str) -> bool:
    """Nothing of the test's queue waits in Redis or is held by a worker: with acks_late
    a task stays in kombu's `unacked` hash until it has finished, and a task queues the
    mail tasks it makes before it finishes."""
    if client.llen(queue):
        return False
    for raw in client.hvals("unacked"):
        try:
            _message, _exchange, routing_key = json.loads(raw)
        except (TypeError, ValueError):
            continue
        if routing_key == queue:
            return False
    return True


def test_two_beats_started_together_send_each_reminder_once(real_services):
    policy_current_or_new()
    organization = MemberOrganizationFactory()
    people = [TeamMemberFactory(organization=organization).user for _ in range(PEOPLE)]
    now = timezone.now()
    soon = now + timedelta(days=20)
    holders = [PgpKeyFactory(user=person, expires_at=soon) for person in people[:6]]
    staff = StaffFactory()
    case = VulnerabilityFactory(created_by=staff, reported_at=now - timedelta(days=7))

    # Two workers, so that the two beats' runs of a job can really overlap.
    real_services.worker("a")
    real_services.worker("b")
    intervals = {variable: 2 for variable in JOBS.values()}
    beats = [real_services.beat("one", **intervals), real_services.beat("two", **intervals)]
    wait_for(
        lambda: all(beat.sent(entry) >= 2 for beat in beats for entry in JOBS),
        timeout=180,
        interval=0.5,
        what="both beats to fire every job twice",
    )
    for beat in beats:
        beat.stop()
    client = redis.Redis.from_url(real_services.broker_url)
    wait_for(
        lambda: _idle(client, real_services.queue),
        timeout=180,
        interval=0.5,
        what="the worker to finish every task the beats and the jobs queued",
    )

    received = _received(real_services.sink)
    assert received["policy"] == Counter({person.email: 1 for person in people})
    assert received["key"] == Counter({key.user.email: 1 for key in holders})
    # Every active staff member hears once (the policy's author may be staff too, when
    # the test database had no policy and the factory made one).
    everyone_on_staff = get_user_model().objects.filter(is_staff=True, is_active=True)
    assert staff.email in received["first_response"]
    assert received["first_response"] == Counter(
        {email: 1 for email in everyone_on_staff.values_list("email", flat=True)}
    )
    assert AuditEvent.objects.filter(action="policy.reminder_sent").count() == PEOPLE
    assert AuditEvent.objects.filter(action="pgp_key.expiry_warned").count() == len(holders)
    assert (
        AuditEvent.objects.filter(
            action="vulnerability.first_response_overdue", target_id=str(case.pk)
        ).count()
        == 1
    )
    logs = real_services.worker_logs()
    # Each job really ran at least four times (twice from each beat), and quietly.
    for task in (
        "distributors.tasks.policy_reminders_task",
        "distributors.tasks.key_expiry_warnings_task",
        "embargo.tasks.first_response_overdue_task",
    ):
        assert logs.count(f"Task {task}[") >= 2 * 4, task
    for alarming in ("Traceback", "IntegrityError", "raised unexpected", "Could not queue"):
        assert alarming not in logs
