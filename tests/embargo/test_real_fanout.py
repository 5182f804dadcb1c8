"""Fan-out with the real parts: a Celery worker process, Redis, gpg and an SMTP server.

200 people each get exactly one message, encrypted only to their own key (one session
key packet, for their key; it does not decrypt with anyone else's), signed by the team
key, carrying their own reference code; and the canary sentence from the body is nowhere
in clear: not in SMTP traffic, Redis, task arguments, or the worker's or this process's
logs.
"""

from __future__ import annotations

import logging

import pytest

from devsupport.keyring import gpg_run
from embargo.delivery import queue as delivery_queue
from embargo.models import Delivery, Notice
from embargo.services import notice_send
from pgpmail import crypto
from tests.embargo.gpgcheck import (
    decrypt,
    encrypted_part,
    encryption_subkey_id,
    inner_text,
    pubkey_packets,
    signed_by,
)
from tests.embargo.helpers import CANARY, bulk_people, case_ready, notice_draft
from tests.embargo.realservices import redis_dump, wait_for

pytestmark = [pytest.mark.services]

FANOUT = 200


def _import_team_key(homes):
    public = crypto.team_public_key_armored().encode()
    for home in homes:
        gpg_run(home, "--import", stdin=public)


def test_fan_out_to_200_people_one_private_signed_copy_each(
    real_services, person_keys, team_key, caplog
):
    caplog.set_level(logging.DEBUG)
    keys = person_keys(FANOUT)
    people = bulk_people(keys)
    case = case_ready()
    notice = notice_draft(case=case)

    # "Send" with no worker running: every task message waits in Redis, where we read it.
    notice_send(notice=notice, actor=case.created_by)
    rows = {row.email: row for row in Delivery.objects.filter(notice=notice)}
    assert len(rows) == FANOUT
    assert all(row.state == Delivery.State.PENDING for row in rows.values())
    queued = redis_dump(real_services.broker_url)
    published = [item for item in real_services.published if "delivery_send" in item[0]]
    # Batches: far fewer task messages than rows, and every one of them in Redis.
    assert FANOUT // delivery_queue.batch_size() <= len(published) < FANOUT // 4
    assert queued.count(b'"task": "embargo.tasks.delivery_send_task"') >= len(published)
    assert CANARY.encode() not in queued
    assert case.title.encode() not in queued and notice.subject.encode() not in queued
    # Task arguments: one list of integers, the rows' ids (a batch); nothing else.
    for _, body, _ in published:
        args, kwargs, _ = body
        assert kwargs == {} and len(args) == 1 and isinstance(args[0], list)
        assert args[0] and all(type(pk) is int for pk in args[0])
    ids = [pk for _, body, _ in published for pk in body[0][0]]
    assert sorted(ids) == sorted(r.pk for r in rows.values())  # each row in one batch

    real_services.worker("fanout")
    wait_for(lambda: real_services.sink.count() >= FANOUT, timeout=300, interval=0.5,
             what="200 messages")  # fmt: skip
    notice.refresh_from_db()
    wait_for(
        lambda: Notice.objects.get(pk=notice.pk).state == Notice.State.SENT,
        timeout=30,
        what="the notice to be sent",
    )
    assert real_services.sink.count() == FANOUT
    received = real_services.sink.by_recipient()
    assert set(received) == set(rows)
    assert all(len(messages) == 1 for messages in received.values())

    homes = sorted({key.home for key in keys})
    assert len(homes) == 2
    _import_team_key(homes)
    for key in keys:
        row = rows[key.email]
        raw = received[key.email][0].data
        assert CANARY.encode() not in raw
        message, ciphertext = encrypted_part(raw)
        assert message["Message-ID"] == row.message_id
        assert message["Subject"] == notice.outer_subject
        # Exactly one public-key encrypted session key packet, for this person's key.
        assert pubkey_packets(key.home, ciphertext) == [
            encryption_subkey_id(key.home, key.fingerprint)
        ]
        # The other home holds the other 100 people's secret keys: none of them opens it.
        other_home = next(home for home in homes if home != key.home)
        ok, _, status = decrypt(other_home, ciphertext)
        assert not ok and "NO_SECKEY" in status
        ok, plaintext, status = decrypt(key.home, ciphertext)
        assert ok, status
        assert f"[GNUPG:] DECRYPTION_KEY {subkey_fingerprint(key)} {key.fingerprint}" in status
        assert signed_by(status) == team_key
        subject, text = inner_text(plaintext)
        assert subject == notice.subject
        assert f"Your reference: {row.reference_code}" in text
        assert CANARY in text

    # Nothing in clear anywhere else.
    assert CANARY.encode() not in redis_dump(real_services.broker_url)
    worker_logs = real_services.worker_logs()
    assert "delivery_send_task" in worker_logs  # the DEBUG/INFO log really was captured
    for secret in (CANARY, case.title, notice.subject, case.cve_id):
        assert secret not in worker_logs
        assert secret not in caplog.text
    assert all(row.state == Delivery.State.SENT for row in Delivery.objects.filter(notice=notice))
    assert len(people) == FANOUT


def subkey_fingerprint(key) -> str:
    listing = gpg_run(key.home, "--with-colons", "--list-keys", key.fingerprint).stdout.decode()
    lines = listing.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("sub:") and "e" in line.split(":")[11]:
            return lines[index + 1].split(":")[9]
    return ""
