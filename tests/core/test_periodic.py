"""The distributors' periodic jobs are safe to run twice at once (issue 15, item 14): two
beats firing the daily reminders together mail each person once."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from core.models import AuditEvent, PeriodicClaim
from core.periodic import periodic_claim
from distributors.models import PgpKey
from distributors.services import reminders
from distributors.services.reminders import (
    POLICY_REMINDER_ACTION,
    key_expiry_warnings_send,
    policy_reminders_send,
)
from tests.concurrency import Gate, run_at_once
from tests.factories import (
    MemberOrganizationFactory,
    PgpKeyFactory,
    PolicyAcceptanceFactory,
    TeamMemberFactory,
    policy_current_or_new,
)

WEEK = timedelta(days=7)


def _received() -> Counter:
    return Counter(address for message in mail.outbox for address in message.to)


# ---------------------------------------------------------------- the claim


@pytest.mark.django_db
def test_a_key_is_claimed_once_per_period_and_again_when_the_period_ends():
    now = timezone.now()
    assert periodic_claim(job="reminder", key=7, now=now, every=WEEK) is True
    assert periodic_claim(job="reminder", key=7, now=now, every=WEEK) is False
    assert (
        periodic_claim(job="reminder", key=7, now=now + WEEK - timedelta(seconds=1), every=WEEK)
        is False
    )
    assert periodic_claim(job="reminder", key=8, now=now, every=WEEK) is True
    assert periodic_claim(job="other", key=7, now=now, every=WEEK) is True
    assert periodic_claim(job="reminder", key=7, now=now + WEEK, every=WEEK) is True
    assert PeriodicClaim.objects.get(job="reminder", key="7").claimed_at == now + WEEK
    assert PeriodicClaim.objects.count() == 3


@pytest.mark.django_db
def test_a_claim_without_a_period_is_won_only_once():
    now = timezone.now()
    assert periodic_claim(job="once", key="a", now=now, every=None) is True
    assert periodic_claim(job="once", key="a", now=now + timedelta(days=999), every=None) is False


@pytest.mark.django_db
def test_a_claim_whose_transaction_rolls_back_is_given_back():
    now = timezone.now()
    with pytest.raises(RuntimeError), transaction.atomic():
        assert periodic_claim(job="reminder", key=1, now=now, every=WEEK) is True
        raise RuntimeError("the work failed")
    assert not PeriodicClaim.objects.exists()
    assert periodic_claim(job="reminder", key=1, now=now, every=WEEK) is True


# ---------------------------------------------------------------- policy reminders


def _people_needing_the_policy(count: int) -> list:
    policy_current_or_new()
    organization = MemberOrganizationFactory()
    people = [TeamMemberFactory(organization=organization).user for _ in range(count)]
    PolicyAcceptanceFactory(user=TeamMemberFactory(organization=organization).user)
    return people


@pytest.mark.django_db(transaction=True)
def test_two_policy_reminder_runs_at_once_remind_each_person_once(monkeypatch, caplog):
    people = _people_needing_the_policy(20)
    gate = Gate()
    # Both runs have read the recipients before either claims or mails anyone.
    monkeypatch.setattr(reminders, "transaction", gate.transaction())
    caplog.set_level(logging.WARNING)

    claimed = run_at_once(policy_reminders_send)

    assert gate.opened
    assert sum(claimed) == 20
    assert _received() == Counter({person.email: 1 for person in people})
    assert AuditEvent.objects.filter(action=POLICY_REMINDER_ACTION).count() == 20
    assert PeriodicClaim.objects.filter(job=reminders.POLICY_REMINDER_JOB).count() == 20
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.django_db
def test_the_policy_reminder_is_queued_after_the_commit(django_capture_on_commit_callbacks):
    (person,) = _people_needing_the_policy(1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert policy_reminders_send() == 1
    assert mail.outbox == []
    assert len(callbacks) == 1
    # A second run before the first one's mail went: nothing more to claim or send.
    with django_capture_on_commit_callbacks(execute=True):
        assert policy_reminders_send() == 0
    callbacks[0]()
    assert _received() == Counter({person.email: 1})


@pytest.mark.django_db
def test_a_person_who_accepts_before_the_reminder_goes_out_gets_none(
    django_capture_on_commit_callbacks,
):
    (person,) = _people_needing_the_policy(1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert policy_reminders_send() == 1
    PolicyAcceptanceFactory(user=person)
    for callback in callbacks:
        callback()
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_broker_that_is_down_leaves_the_claim_and_logs_only_ids(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from distributors.tasks import policy_reminder_mail_task

    (person,) = _people_needing_the_policy(1)

    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(policy_reminder_mail_task, "apply_async", down)
    with django_capture_on_commit_callbacks(execute=True):
        assert policy_reminders_send() == 1
    assert mail.outbox == []
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert f"({person.pk},)" in record.getMessage()
    assert person.email not in record.getMessage()
    # The claim stands for the week: the next run does not mail instead.
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        assert policy_reminders_send() == 0
    assert mail.outbox == []


# ---------------------------------------------------------------- key expiry warnings


@pytest.mark.django_db(transaction=True)
def test_two_key_expiry_runs_at_once_warn_each_holder_once(monkeypatch, caplog):
    now = timezone.now()
    keys = [PgpKeyFactory(expires_at=now + timedelta(days=20 + i % 5)) for i in range(10)]
    keys += [PgpKeyFactory(expires_at=now + timedelta(days=3)) for _ in range(5)]
    gate = Gate()
    monkeypatch.setattr(reminders, "transaction", gate.transaction())
    caplog.set_level(logging.WARNING)

    claimed = run_at_once(lambda: key_expiry_warnings_send(now=now))

    assert gate.opened
    assert sum(claimed) == 15
    assert _received() == Counter({key.user.email: 1 for key in keys})
    assert AuditEvent.objects.filter(action="pgp_key.expiry_warned").count() == 15
    assert (
        sorted(PgpKey.objects.values_list("expiry_warned_days", flat=True)) == [7] * 5 + [30] * 10
    )
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
