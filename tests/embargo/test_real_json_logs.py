"""A real worker logging JSON (HAULOUT_LOG_FORMAT=json): the delivery task's lines carry
the task id and the copy's and notice's ids, and nothing it logs holds the notice's text,
at DEBUG."""

from __future__ import annotations

import json

import pytest

from embargo.models import Delivery, Notice
from embargo.services import deliveries_sweep, notice_send
from tests.embargo.helpers import CANARY, bulk_people, case_ready, notice_draft
from tests.embargo.realservices import wait_for

pytestmark = [pytest.mark.services]


def test_a_real_workers_json_lines_carry_the_task_and_copy_ids_and_no_notice_text(
    real_services, person_keys
):
    bulk_people(person_keys(2))
    case = case_ready()
    notice = notice_draft(case=case)
    real_services.smtp_stop()
    worker = real_services.worker("json", HAULOUT_LOG_FORMAT="json")
    notice_send(notice=notice, actor=case.created_by)
    wait_for(
        lambda: Delivery.objects.filter(notice=notice, temporary_failures__gte=1).exists(),
        timeout=60,
        what="a copy deferred while the mail server is down",
    )
    real_services.smtp_start()

    def sent() -> bool:
        deliveries_sweep()  # beat's job: queue the deferred copies again once due
        return Notice.objects.get(pk=notice.pk).state == Notice.State.SENT

    wait_for(sent, timeout=120, interval=0.5, what="the notice sent")
    worker.stop()
    output = worker.output()
    assert CANARY not in output
    assert notice.subject not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    deferred = [line for line in lines if " deferred (failure " in line["message"]]
    assert deferred, output[-3000:]
    copies = set(Delivery.objects.filter(notice=notice).values_list("pk", flat=True))
    for line in deferred:
        assert line["notice_id"] == notice.pk
        assert line["delivery_id"] in copies
        assert line["task_id"]
        assert line["request_id"] is None and line["user_id"] is None
