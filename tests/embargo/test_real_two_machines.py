"""Two workers as on two machines: each with its own var folder, gpg homes, cache files and
copy of the team key files, sharing nothing but PostgreSQL and Redis. They split one
fan-out between them: every person gets exactly one message, nobody is left out."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest
from django.db import connection

from embargo.models import Delivery, Notice
from embargo.services import notice_send
from tests.embargo.helpers import bulk_people, case_ready, notice_draft
from tests.embargo.realservices import skip_or_fail, wait_for

pytestmark = [pytest.mark.services]

PEOPLE = 120
BATCH = 10


def _machine(tmp_path, name: str, settings, gpg_root: Path) -> dict:
    """A machine's own folders and its own copy of the team key files. The gpg homes get
    a short path of their own: gpg-agent's socket path has a length limit."""
    root = tmp_path / f"machine-{name}"
    (root / "keys").mkdir(parents=True)
    key = shutil.copy(settings.HAULOUT_TEAM_KEY_FILE, root / "keys" / "team-key.asc")
    passphrase = shutil.copy(
        settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE, root / "keys" / "team-key.passphrase"
    )
    return {
        "HAULOUT_VAR_DIR": root / "var",
        "HAULOUT_GPG_HOME_ROOT": gpg_root,
        "HAULOUT_TEAM_KEY_FILE": key,
        "HAULOUT_TEAM_KEY_PASSPHRASE_FILE": passphrase,
        "HAULOUT_DELIVERY_BATCH_SIZE": BATCH,
    }


def _sent_batches(worker) -> int:
    return len(
        re.findall(r"Task embargo\.tasks\.delivery_send_task\[[^\]]+\] succeeded", worker.output())
    )


@pytest.fixture
def gpg_roots():
    roots = [Path(tempfile.mkdtemp(prefix="hm", dir="/tmp")) for _ in range(2)]
    yield roots
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_sharing_only_postgresql_and_redis_split_a_fan_out(
    real_services, person_keys, team_key, settings, tmp_path, gpg_roots
):
    if connection.vendor != "postgresql":
        skip_or_fail("two machines share a database server: needs DATABASE_URL on PostgreSQL")
    settings.HAULOUT_DELIVERY_BATCH_SIZE = BATCH
    people = bulk_people(person_keys(PEOPLE))
    case = case_ready()
    notice = notice_draft(case=case)
    first = real_services.worker("one", **_machine(tmp_path, "one", settings, gpg_roots[0]))
    second = real_services.worker("two", **_machine(tmp_path, "two", settings, gpg_roots[1]))

    notice_send(notice=notice, actor=case.created_by)

    wait_for(lambda: real_services.sink.count() >= PEOPLE, timeout=300, interval=0.5,
             what=f"{PEOPLE} messages")  # fmt: skip
    wait_for(
        lambda: Notice.objects.get(pk=notice.pk).state == Notice.State.SENT,
        timeout=60,
        what="the notice to be sent",
    )
    received = real_services.sink.by_recipient()
    rows = {row.email: row for row in Delivery.objects.filter(notice=notice)}
    assert set(received) == set(rows) and len(rows) == len(people) == PEOPLE
    assert all(len(messages) == 1 for messages in received.values())
    assert all(row.state == Delivery.State.SENT for row in rows.values())
    # Both took part, each with its own gpg homes (the other machine's are not there).
    assert _sent_batches(first) >= 1 and _sent_batches(second) >= 1
    assert _sent_batches(first) + _sent_batches(second) >= PEOPLE // BATCH
    for root in gpg_roots:
        assert any(root.iterdir())
