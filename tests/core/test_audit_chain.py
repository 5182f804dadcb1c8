"""The audit log's hash chain (core/chain.py): the sealer numbers committed events and
hashes them in the documented form; audit_verify walks the chain and names the first
event that does not fit when the table is changed directly in SQL."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from config.celery import app
from core import chain as core_chain
from core.audit import audit_record, audit_record_many
from core.chain import GENESIS_HASH, audit_chain_seal, audit_chain_verify, event_hash
from core.models import AuditEvent, ChainHead
from core.tasks import audit_chain_seal_task
from tests.core.tamper import TABLE, rehash_from, row, sql
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def events_written(count: int) -> list[AuditEvent]:
    organization = OrganizationFactory()
    actor = UserFactory()
    written = []
    for i in range(count):
        with transaction.atomic():
            written.append(
                audit_record(
                    actor=actor if i % 2 else None,
                    action="test.recorded",
                    target=organization,
                    data={"i": i, "text": "ünïcödé ✓", "nested": {"b": 1, "a": [None, 1.5]}},
                )
            )
    return written


@pytest.fixture
def chain():
    """Six sealed events (plus any the factories wrote), verified intact."""
    events_written(6)
    audit_chain_seal()
    assert audit_verified() == (0, "")
    return AuditEvent.objects.count()


def audit_verified() -> tuple[int, str]:
    try:
        call_command("audit_verify", "--skip-signatures", "--chunk-size", "2")
    except CommandError as error:
        return error.returncode, str(error)
    return 0, ""


def documented_hash(values: dict) -> str:
    """The form the module docstring promises, computed here independently."""
    record = {
        "id": values["id"],
        "seq": values["seq"],
        "prev_hash": values["prev_hash"],
        "created_at": values["created_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor_id": values["actor_id"],
        "action": values["action"],
        "target_type_id": values["target_type_id"],
        "target_id": values["target_id"],
        "target_repr": values["target_repr"],
        "organization_id": values["organization_id"],
        "data": values["data"],
    }
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def test_events_are_written_unsealed_and_the_sealer_numbers_them_in_id_order():
    written = events_written(3)
    assert [e.seq for e in written] == [None, None, None]

    sealed = audit_chain_seal()

    rows = list(AuditEvent.objects.order_by("seq").values())
    assert sealed == len(rows)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert rows[0]["prev_hash"] == GENESIS_HASH
    for previous, current in itertools.pairwise(rows):
        assert current["prev_hash"] == previous["hash"]
    assert [r["hash"] for r in rows] == [documented_hash(r) for r in rows]
    head = ChainHead.objects.get()
    assert (head.seq, head.hash) == (rows[-1]["seq"], rows[-1]["hash"])


def test_a_second_seal_continues_the_chain_and_an_idle_one_changes_nothing():
    events_written(2)
    audit_chain_seal()
    first_head = ChainHead.objects.get().seq
    assert audit_chain_seal() == 0

    events_written(2)
    assert audit_chain_seal(batch_size=1) == 2

    assert ChainHead.objects.get().seq == first_head + 2
    assert audit_verified() == (0, "")


def test_bulk_written_events_are_sealed_in_batches():
    organization = OrganizationFactory()
    with transaction.atomic():
        audit_record_many(
            actor=None,
            action="test.many",
            targets=[(organization, None, {"i": i}) for i in range(25)],
        )

    assert audit_chain_seal(batch_size=10, max_batches=1) == 10
    assert AuditEvent.objects.filter(seq__isnull=True).count() > 0
    audit_chain_seal(batch_size=10)
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()
    assert audit_verified() == (0, "")


def test_the_database_refuses_to_change_a_sealed_events_chain_columns(chain):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {TABLE} SET hash = %s WHERE seq = 2", ["0" * 64])  # noqa: S608
    assert row(2)["hash"] != "0" * 64


def test_the_database_refuses_to_change_other_fields_while_sealing():
    event = events_written(1)[0]

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE {TABLE} SET seq = 99, prev_hash = %s, hash = %s, action = %s "  # noqa: S608
            "WHERE id = %s",
            ["a" * 64, "b" * 64, "test.rewritten", event.pk],
        )
    assert AuditEvent.objects.get(pk=event.pk).seq is None


def test_an_intact_chain_verifies(chain, capsys):
    call_command("audit_verify", "--skip-signatures")

    out = capsys.readouterr().out
    assert f"intact: {chain} event(s), head at sequence {chain}" in out


def test_audit_verify_names_an_edited_event(chain):
    target = row(3)
    sql(f"UPDATE {TABLE} SET action = %s WHERE seq = 3", ["test.innocent"])  # noqa: S608

    status, message = audit_verified()

    assert status == 1
    assert f"at sequence 3, event id {target['id']}: hash does not match" in message
    assert "2 event(s) before it are intact" in message


def test_audit_verify_names_an_event_whose_data_was_edited(chain):
    target = row(4)
    sql(f"UPDATE {TABLE} SET data = %s WHERE seq = 4", ['{"i": 999}'])  # noqa: S608

    status, message = audit_verified()

    assert status == 1
    assert f"at sequence 4, event id {target['id']}: hash does not match" in message


def test_audit_verify_names_the_event_after_a_deleted_one(chain):
    after = row(4)
    sql(f"DELETE FROM {TABLE} WHERE seq = 3")  # noqa: S608

    status, message = audit_verified()

    assert status == 1
    assert f"at sequence 4, event id {after['id']}: sequence gap: event(s) 3 are missing" in message


def test_audit_verify_names_the_event_after_a_forged_one_inserted_in_the_middle(chain):
    original = row(3)
    # Make room at 3 (in two steps: the sequence numbers are unique at every row).
    sql(f"UPDATE {TABLE} SET seq = -seq - 1 WHERE seq >= 3")  # noqa: S608
    sql(f"UPDATE {TABLE} SET seq = -seq WHERE seq < 0")  # noqa: S608
    forged = {**row(2), "action": "test.forged", "seq": 3, "prev_hash": row(2)["hash"]}
    forged["id"] = AuditEvent.objects.order_by("-id").values_list("id", flat=True)[0] + 1
    sql(
        f"INSERT INTO {TABLE} (id, seq, prev_hash, hash, actor_id, action, target_type_id, "  # noqa: S608
        "target_id, target_repr, organization_id, data, created_at) "
        "SELECT %s, 3, %s, %s, actor_id, %s, target_type_id, target_id, target_repr, "
        f"organization_id, data, created_at FROM {TABLE} WHERE seq = 2",
        [forged["id"], forged["prev_hash"], event_hash(forged), "test.forged"],
    )

    status, message = audit_verified()

    # The forged row itself fits its predecessor; the original event after it does not.
    assert status == 1
    assert f"at sequence 4, event id {original['id']}: prev_hash is not" in message


def test_audit_verify_names_a_row_inserted_with_a_sequence_that_does_not_fit(chain):
    sql(
        f"INSERT INTO {TABLE} (seq, prev_hash, hash, actor_id, action, target_type_id, "  # noqa: S608
        "target_id, target_repr, organization_id, data, created_at) "
        "SELECT seq + 5, hash, hash, actor_id, action, target_type_id, target_id, "
        f"target_repr, organization_id, data, created_at FROM {TABLE} WHERE seq = %s",
        [chain],
    )
    inserted = row(chain + 5)

    status, message = audit_verified()

    assert status == 1
    assert f"at sequence {chain + 5}, event id {inserted['id']}: sequence gap" in message


def test_audit_verify_names_the_first_of_two_swapped_events(chain):
    third, fourth = row(3), row(4)
    sql(f"UPDATE {TABLE} SET seq = -1 WHERE seq = 3")  # noqa: S608
    sql(f"UPDATE {TABLE} SET seq = 3 WHERE seq = 4")  # noqa: S608
    sql(f"UPDATE {TABLE} SET seq = 4 WHERE seq = -1")  # noqa: S608

    status, message = audit_verified()

    assert status == 1
    assert f"at sequence 3, event id {fourth['id']}: prev_hash is not" in message
    assert third["id"] != fourth["id"]


def test_audit_verify_notices_events_deleted_from_the_end(chain):
    sql(f"DELETE FROM {TABLE} WHERE seq >= %s", [chain - 1])  # noqa: S608

    status, message = audit_verified()

    assert status == 1
    assert f"the chain ends at sequence {chain - 2} but the sealer's head is at {chain}" in message


def test_audit_verify_names_an_event_given_a_hash_but_no_sequence_number():
    events_written(2)
    audit_chain_seal()
    event = events_written(1)[0]
    sql(f"UPDATE {TABLE} SET hash = %s WHERE id = %s", ["c" * 64, event.pk])  # noqa: S608

    status, message = audit_verified()

    assert status == 1
    assert f"sequence none, event id {event.pk}: the event has a hash but no sequence" in message


def test_a_forger_who_rehashes_everything_after_an_edit_passes_without_checkpoints(chain):
    # What the signed checkpoints are for (tests/core/test_audit_checkpoint.py): the chain
    # alone cannot tell a careful rewrite of itself.
    sql(f"UPDATE {TABLE} SET action = %s WHERE seq = 2", ["test.innocent"])  # noqa: S608
    rehash_from(2)

    assert audit_verified() == (0, "")


def test_events_left_unsealed_too_long_are_reported_but_do_not_break_the_chain():
    events_written(2)

    report = audit_chain_verify(
        now=timezone.now() + timedelta(minutes=11), unsealed_after=timedelta(minutes=10)
    )

    assert report.broken is None
    assert report.unsealed_old == AuditEvent.objects.filter(seq__isnull=True).count() > 0
    assert "waited more than 10 minutes to be sealed" in report.warnings[0]


def test_events_sealed_in_time_give_no_warning():
    events_written(2)

    report = audit_chain_verify(now=timezone.now(), unsealed_after=timedelta(minutes=10))

    assert report.warnings == []


def test_the_periodic_task_seals_and_beat_runs_it_every_few_seconds(settings):
    events_written(2)

    audit_chain_seal_task()

    assert not AuditEvent.objects.filter(seq__isnull=True).exists()
    entry = settings.CELERY_BEAT_SCHEDULE["core-audit-chain-seal"]
    assert entry["task"] == "core.tasks.audit_chain_seal_task"
    assert entry["schedule"] <= 60
    # Not behind a fan-out's send tasks: the sweeper's queue.
    route = app.amqp.router.route({}, "core.tasks.audit_chain_seal_task")
    assert route["queue"].name == settings.HAULOUT_SWEEP_QUEUE


def test_a_sealer_that_finds_an_event_sealed_under_it_keeps_nothing(monkeypatch):
    events_written(3)
    read = core_chain._unsealed

    def read_then_sealed_elsewhere(limit):
        # Another sealer's work appearing between our read and our write: impossible
        # while the head's lock holds; this check is the last line of defence.
        events = read(limit)
        sql(
            f"UPDATE {TABLE} SET seq = 1000, prev_hash = %s, hash = %s WHERE id = %s",  # noqa: S608
            ["a" * 64, "b" * 64, events[1]["id"]],
        )
        return events

    monkeypatch.setattr(core_chain, "_unsealed", read_then_sealed_elsewhere)

    with pytest.raises(core_chain.ChainMoved):
        audit_chain_seal()

    # The whole batch rolled back (the stand-in for the other sealer's change with it).
    assert ChainHead.objects.get().seq == 0
    assert not AuditEvent.objects.filter(seq__isnull=False).exists()


def test_audit_verify_warns_about_unsealed_events_and_still_succeeds(settings, capsys):
    settings.HAULOUT_AUDIT_UNSEALED_WARN_MINUTES = 0
    events_written(2)

    call_command("audit_verify", "--skip-signatures")

    captured = capsys.readouterr()
    assert "warning: " in captured.err and "to be sealed" in captured.err
    assert "The audit chain is intact" in captured.out
