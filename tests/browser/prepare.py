"""Run by the browser tests' harness in the server's own environment (its var dir and
database), after `migrate` and `manage.py demo`: the reviewer sends the demo notice and
its copies are encrypted, signed and written to the mail folder in this process, as the
Celery worker would do, so the recipients' pages have a notice to read and acknowledge.

    python -m tests.browser.prepare
"""

from __future__ import annotations

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402 (needs django.setup())
from django.db import transaction  # noqa: E402

from distributors.demo import REVIEWER  # noqa: E402
from embargo.delivery.send import deliveries_send  # noqa: E402
from embargo.demo import DEMO_CASE_TITLE  # noqa: E402
from embargo.models import Delivery, Notice  # noqa: E402
from embargo.services import notice_send  # noqa: E402


def main() -> int:
    notice = Notice.objects.filter(vulnerability__title=DEMO_CASE_TITLE).order_by("pk").first()
    if notice is None:
        print("prepare: the demo has no notice to send", file=sys.stderr)
        return 1
    if notice.state == Notice.State.DRAFT:
        reviewer = get_user_model().objects.get(email=REVIEWER.email)
        with transaction.atomic():
            notice_send(notice=notice, actor=reviewer)
    pending = Delivery.objects.filter(notice=notice, state=Delivery.State.PENDING)
    outcomes = deliveries_send(delivery_ids=list(pending.values_list("pk", flat=True)))
    sent = Delivery.objects.filter(notice=notice, state=Delivery.State.SENT).count()
    print(f"prepare: notice {notice.pk} sent; outcomes {sorted(outcomes.values())}; {sent} sent")
    return 0 if sent else 1


if __name__ == "__main__":
    sys.exit(main())
