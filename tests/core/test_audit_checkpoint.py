"""The daily checkpoint (distributors.services.audit_chain): the chain's head signed with
the real team key and mailed to staff; audit_verify checks each checkpoint's signature
and that the chain still passes through it, so even a careful rewrite of the chain (every
hash recomputed) before a checkpoint is caught."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.chain import audit_chain_seal
from core.models import AuditCheckpoint, AuditEvent
from distributors.services.audit_chain import audit_checkpoint_make, audit_checkpoint_signature_ok
from distributors.tasks import audit_checkpoint_task
from tests.core.tamper import TABLE, rehash_from, sql
from tests.factories import OrganizationFactory, StaffFactory

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def events_written(count: int) -> None:
    organization = OrganizationFactory()
    for i in range(count):
        with transaction.atomic():
            audit_record(actor=None, action="test.recorded", target=organization, data={"i": i})


def audit_verified(*args: str) -> tuple[int, str]:
    try:
        call_command("audit_verify", *args)
    except CommandError as error:
        return error.returncode, str(error)
    return 0, ""


def test_a_checkpoint_signs_the_head_and_staff_get_its_sequence_and_hash(
    team_key, django_capture_on_commit_callbacks
):
    staff = StaffFactory()
    events_written(4)

    with django_capture_on_commit_callbacks(execute=True):
        checkpoint = audit_checkpoint_make(now=NOON)

    head = AuditEvent.objects.exclude(seq=None).order_by("-seq").values("seq", "hash").first()
    assert (checkpoint.day.isoformat(), checkpoint.seq, checkpoint.hash) == (
        "2026-12-04", head["seq"], head["hash"]
    )  # fmt: skip
    assert checkpoint.signer_fingerprint == team_key
    assert audit_checkpoint_signature_ok(checkpoint)
    assert AuditEvent.objects.filter(action="audit.checkpoint_signed").count() == 1
    [message] = [m for m in mail.outbox if staff.email in m.to]
    assert "2026-12-04" in message.subject
    assert str(checkpoint.seq) in message.body and checkpoint.hash in message.body
    audit_chain_seal()
    assert audit_verified() == (0, "")


def test_a_second_run_the_same_day_makes_no_second_checkpoint(team_key):
    events_written(2)
    assert audit_checkpoint_make(now=NOON) is not None

    events_written(2)
    assert audit_checkpoint_make(now=NOON + timedelta(hours=3)) is None
    assert audit_checkpoint_make(now=NOON + timedelta(days=1)) is not None

    assert list(AuditCheckpoint.objects.values_list("day", flat=True)) == [
        NOON.date(), NOON.date() + timedelta(days=1)
    ]  # fmt: skip


def test_no_checkpoint_is_made_for_an_empty_chain(team_key):
    assert not AuditEvent.objects.exists()
    assert audit_checkpoint_make(now=NOON) is None


def test_rewriting_the_chain_before_a_checkpoint_is_detected_at_the_checkpoint(team_key):
    events_written(5)
    checkpoint = audit_checkpoint_make(now=NOON)
    events_written(3)
    audit_chain_seal()
    assert audit_verified() == (0, "")

    # A careful forger: edits event 2 and recomputes every hash after it, head included.
    sql(f"UPDATE {TABLE} SET action = %s WHERE seq = 2", ["test.innocent"])  # noqa: S608
    rehash_from(2)

    status, message = audit_verified()
    event_id = AuditEvent.objects.get(seq=checkpoint.seq).pk
    assert status == 1
    assert f"at sequence {checkpoint.seq}, event id {event_id}" in message
    assert "no longer passes through the signed checkpoint of 2026-12-04" in message


def test_a_checkpoint_moved_to_the_rewritten_chain_fails_its_signature(team_key):
    events_written(5)
    checkpoint = audit_checkpoint_make(now=NOON)
    sql(f"UPDATE {TABLE} SET action = %s WHERE seq = 2", ["test.innocent"])  # noqa: S608
    rehash_from(2)
    new_hash = AuditEvent.objects.get(seq=checkpoint.seq).hash
    AuditCheckpoint.objects.filter(pk=checkpoint.pk).update(hash=new_hash)

    status, message = audit_verified()

    assert status == 1
    assert "the checkpoint of 2026-12-04" in message and "is not signed by the team key" in message


def test_deleting_events_up_to_before_a_checkpoint_is_detected(team_key):
    events_written(4)
    checkpoint = audit_checkpoint_make(now=NOON)
    sql(f"DELETE FROM {TABLE} WHERE seq >= %s", [checkpoint.seq - 1])  # noqa: S608
    sql("UPDATE core_chainhead SET seq = seq - 2")

    status, message = audit_verified("--skip-signatures")

    assert status == 1
    assert f"before the signed checkpoint of 2026-12-04 at sequence {checkpoint.seq}" in message


def test_audit_verify_says_when_it_cannot_check_signatures(team_key, settings, tmp_path):
    events_written(2)
    audit_checkpoint_make(now=NOON)
    settings.HAULOUT_TEAM_KEY_FILE = tmp_path / "missing.asc"

    status, message = audit_verified()

    assert status == 2
    assert "could not be checked here" in message
    assert audit_verified("--skip-signatures") == (0, "")


def test_the_checkpoint_job_uses_todays_date(team_key):
    events_written(1)
    audit_checkpoint_task()

    assert AuditCheckpoint.objects.get().day == timezone.now().astimezone(UTC).date()
