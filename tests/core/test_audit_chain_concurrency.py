"""Concurrent writers and concurrent sealers leave one chain: no fork, no gap, no event
sealed twice or left out. PostgreSQL only: SQLite admits one writer at a time, so there
is no race to test there (and CI runs PostgreSQL, where this must run)."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.audit import audit_record, audit_record_many
from core.chain import audit_chain_seal, audit_chain_verify
from core.models import AuditCheckpoint, AuditEvent
from distributors.services.audit_chain import audit_checkpoint_make
from tests.factories import OrganizationFactory

WRITERS = 8
SEALERS = 3
ROUNDS = 12
BULK = 20  # events per audit_record_many, every third round


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        reason = "needs PostgreSQL (DATABASE_URL=postgres://...): SQLite has one writer at a time"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI must run the concurrency test, but it {reason}", pytrace=False)
        pytest.skip(reason)


def in_thread(target, errors: list, *args) -> threading.Thread:
    def run():
        try:
            target(*args)
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connection.close()  # each thread had its own connection

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_and_concurrent_sealers_leave_one_gapless_chain(postgresql):
    organization = OrganizationFactory()
    before = AuditEvent.objects.count()
    start = threading.Barrier(WRITERS + SEALERS)
    writers_done = threading.Event()
    errors: list[BaseException] = []

    def write(writer: int) -> None:
        start.wait(timeout=60)
        for round_ in range(ROUNDS):
            with transaction.atomic():
                if round_ % 3 == 0:
                    targets = [
                        (organization, None, {"w": writer, "r": round_, "k": k})
                        for k in range(BULK)
                    ]
                    audit_record_many(actor=None, action="test.concurrent", targets=targets)
                else:
                    audit_record(actor=None, action="test.concurrent", target=organization,
                                 data={"w": writer, "r": round_})  # fmt: skip

    def seal() -> None:
        start.wait(timeout=60)
        # Sealing as fast as they can while the writers write: small batches, so the
        # sealers contend for the head all the time.
        while not writers_done.is_set():
            audit_chain_seal(batch_size=7)

    sealers = [in_thread(seal, errors) for _ in range(SEALERS)]
    writers = [in_thread(write, errors, n) for n in range(WRITERS)]
    for thread in writers:
        thread.join(timeout=300)
    writers_done.set()
    for thread in sealers:
        thread.join(timeout=300)
    audit_chain_seal()

    assert errors == []
    assert not any(thread.is_alive() for thread in writers + sealers)
    written = WRITERS * sum(BULK if r % 3 == 0 else 1 for r in range(ROUNDS))
    total = AuditEvent.objects.count()
    assert total == before + written
    seqs = list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, total + 1))
    report = audit_chain_verify(now=timezone.now(), unsealed_after=timedelta(minutes=10))
    assert report.broken is None
    assert report.checked == total


@pytest.mark.django_db(transaction=True)
def test_two_checkpoint_runs_at_once_make_one_checkpoint(postgresql, team_key):
    organization = OrganizationFactory()
    with transaction.atomic():
        audit_record(actor=None, action="test.recorded", target=organization)
    noon = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    start = threading.Barrier(2)
    made: list = []
    errors: list[BaseException] = []

    def checkpoint() -> None:
        start.wait(timeout=60)
        made.append(audit_checkpoint_make(now=noon))

    threads = [in_thread(checkpoint, errors) for _ in range(2)]
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    assert len([m for m in made if m is not None]) == 1
    assert AuditCheckpoint.objects.count() == 1
    assert AuditEvent.objects.filter(action="audit.checkpoint_signed").count() == 1
