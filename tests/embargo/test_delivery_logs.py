"""The delivery path's log lines as JSON: the copy's and notice's ids as fields, and never
the embargoed text, at any level (real gpg, Django's test outbox)."""

from __future__ import annotations

import logging
import smtplib

import pytest

from embargo.delivery.pipeline import Wiring
from embargo.models import Delivery
from embargo.services import DeliveryDeferred, delivery_send, notice_send
from embargo.tasks import delivery_send_task
from pgpmail import crypto
from tests.embargo.helpers import CANARY, bulk_people, case_ready, notice_draft
from tests.jsonlogs import json_log_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def notice(person_keys, team_key, monkeypatch, settings):
    settings.HAULOUT_SITE_URL = settings.SITE_URL = "https://haulout.example.org"
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    bulk_people(person_keys(3))
    case = case_ready()
    notice = notice_draft(case=case)
    notice_send(notice=notice, actor=case.created_by)
    yield notice
    crypto.worker_home_close()


def test_delivery_log_lines_carry_the_ids_and_never_the_notice_text(notice):
    first, second, third = Delivery.objects.filter(notice=notice).order_by("pk")

    def down(*args, **kwargs):
        raise smtplib.SMTPServerDisconnected("gone")

    def refuse(*args, **kwargs):
        raise smtplib.SMTPRecipientsRefused({"x@example.org": (550, b"5.1.1 no such user")})

    with json_log_lines(level=logging.DEBUG) as captured:
        with pytest.raises(DeliveryDeferred):
            delivery_send(delivery_id=first.pk, wiring=Wiring(hand_off=down))
        assert delivery_send(delivery_id=first.pk) == Delivery.State.SENT
        assert delivery_send(delivery_id=second.pk, wiring=Wiring(hand_off=refuse)) == "failed"
        assert delivery_send(delivery_id=third.pk) == Delivery.State.SENT
    assert CANARY not in captured.text
    assert notice.subject not in captured.text
    lines = captured.lines  # each line is one JSON object
    deferred = [line for line in lines if "deferred" in line["message"]]
    assert [(line["delivery_id"], line["notice_id"]) for line in deferred] == [
        (first.pk, notice.pk)
    ]
    failed = [line for line in lines if line["message"].startswith(f"Delivery {second.pk} failed")]
    assert [(line["delivery_id"], line["notice_id"]) for line in failed] == [(second.pk, notice.pk)]
