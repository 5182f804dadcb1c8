"""Celery messages carry ids, never content; plain mail never carries embargoed text.

Two nets: every task of ours declares only id parameters (a new task taking a subject or
a body fails here), and a whole case, from report to disclosure, with a leak and a
suspension on the way, queues only ints and lists of ints and sends no plain mail that
holds the case's private text."""

from __future__ import annotations

import importlib
import inspect
from datetime import timedelta
from pathlib import Path

import pytest
from celery.app.task import Task
from django.utils import timezone

from config.celery import app
from distributors.models import Organization
from embargo.models import Delivery, Vulnerability
from embargo.services import (
    notice_create,
    notice_send,
    vulnerability_create,
    vulnerability_disclose,
    vulnerability_disclosure_move,
    vulnerability_transition,
)
from embargo.services.followup import acknowledgement_reminders_send
from embargo.services.reporter import first_response_overdue_alert
from leaks.models import LeakReport
from leaks.services import leak_report_confirm, leak_report_file, organization_sanction
from tests.conftest import enable_totp
from tests.factories import (
    MemberOrganizationFactory,
    StaffFactory,
    TeamMemberFactory,
    make_eligible,
)

ID_ANNOTATIONS = {"int", "list[int] | int", "list[int]"}
# The one word a task may carry besides ids: which standing mail to send, from a fixed
# list the task checks (distributors.notifications.EVENTS).
WORD_PARAMETERS = {("distributors.tasks.organization_standing_mail_task", "event")}

CANARIES = {
    "title": "Narwhal canary overflow in the unpacker",
    "summary": "Narwhal canary reporter found it privately",
    "cve_id": "CVE-2026-31337",
    "subject": "Narwhal canary patch enclosed",
    "body": "The narwhal canary body of the notice",
    "leak": "Narwhal canary leaked paragraph",
    "evidence": "Narwhal canary pasted evidence",
    "reason": "Narwhal canary decision reason",
}


def _import_task_modules() -> None:
    # Celery imports task modules lazily; import every module of ours that defines one.
    root = Path(__file__).resolve().parent.parent
    for app_dir in ("distributors", "embargo"):
        for path in sorted((root / app_dir).rglob("*.py")):
            if "shared_task" in path.read_text():
                module = ".".join(path.relative_to(root).with_suffix("").parts)
                importlib.import_module(module)


def _our_tasks():
    _import_task_modules()
    return sorted(
        (name, task)
        for name, task in app.tasks.items()
        if name.startswith(("distributors.", "embargo."))
    )


def test_the_walk_finds_our_tasks():
    names = {name for name, _ in _our_tasks()}
    assert {"embargo.tasks.delivery_send_task", "distributors.tasks.invitation_send_task"} <= names


@pytest.mark.parametrize("name,task", _our_tasks(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_task_takes_only_ids(name, task):
    signature = inspect.signature(task.run)
    for parameter in signature.parameters.values():
        if parameter.name == "self":
            continue
        annotation = str(parameter.annotation)
        if (name, parameter.name) in WORD_PARAMETERS:
            assert annotation == "str"
            continue
        assert annotation in ID_ANNOTATIONS, f"{name}({parameter.name}: {annotation})"


def _only_ids(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, list | tuple):
        return all(_only_ids(item) for item in value)
    return False


@pytest.mark.django_db
def test_a_whole_case_queues_only_ids_and_mails_nothing_embargoed(
    monkeypatch, mailoutbox, django_capture_on_commit_callbacks
):
    queued = []
    original = Task.apply_async

    def recording(self, args=None, kwargs=None, **options):
        queued.append((self.name, tuple(args or ()), dict(kwargs or {})))
        if self.name == "embargo.tasks.delivery_send_task":
            return None  # the encrypted copies have their own tests (real gpg)
        return original(self, args=args, kwargs=kwargs, **options)

    monkeypatch.setattr(Task, "apply_async", recording)

    staff = StaffFactory()
    enable_totp(staff)
    acme = MemberOrganizationFactory(name="Acme Canary")
    owner = make_eligible(TeamMemberFactory(organization=acme, is_admin=True)).user
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        case = vulnerability_create(
            actor=staff,
            title=CANARIES["title"],
            summary=CANARIES["summary"],
            cve_id=CANARIES["cve_id"],
            disclosure_at=now + timedelta(days=10),
            reporter_email="reporter@example.net",
            reported_at=now - timedelta(days=6),
        )
        vulnerability_transition(vulnerability=case, actor=staff, state=Vulnerability.State.TRIAGED)
    with django_capture_on_commit_callbacks(execute=True):
        first_response_overdue_alert()
    with django_capture_on_commit_callbacks(execute=True):
        notice = notice_create(
            vulnerability=case,
            actor=staff,
            outer_subject="Embargoed notice from the security team",
            subject=CANARIES["subject"],
            body=CANARIES["body"],
            audience_all=True,
            organizations=[],
        )
        notice_send(notice=notice, actor=staff)
    # The copies went out a while ago and nobody acknowledged them.
    Delivery.objects.filter(notice=notice).update(
        state=Delivery.State.SENT, sent_at=now - timedelta(days=3)
    )
    with django_capture_on_commit_callbacks(execute=True):
        acknowledgement_reminders_send(now=now)
    with django_capture_on_commit_callbacks(execute=True):
        acknowledgement_reminders_send(now=now + timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        report = leak_report_file(
            actor=owner,
            organization=acme,
            notice=notice,
            what_leaked=CANARIES["leak"],
            leaked_to="A colleague",
            how="Forwarded",
            prevention="Training",
        )
    with django_capture_on_commit_callbacks(execute=True):
        leak_report_file(
            actor=staff,
            organization=acme,
            vulnerability=case,
            notice=notice,
            source=LeakReport.Source.FOUND,
            what_leaked=CANARIES["leak"],
            leaked_to="A forum",
            how="Unknown",
            evidence_text=CANARIES["evidence"],
        )
    with django_capture_on_commit_callbacks(execute=True):
        leak_report_confirm(report=report, actor=staff, reason=CANARIES["reason"])
    with django_capture_on_commit_callbacks(execute=True):
        vulnerability_disclosure_move(
            vulnerability=case, actor=staff, disclosure_at=now + timedelta(days=5)
        )
    with django_capture_on_commit_callbacks(execute=True):
        organization_sanction(
            organization=acme, actor=staff, kind="suspension", reason=CANARIES["reason"]
        )
    acme.refresh_from_db()
    assert acme.status == Organization.Status.SUSPENDED
    with django_capture_on_commit_callbacks(execute=True):
        vulnerability_disclose(vulnerability=case, actor=staff)

    names = {name for name, _, _ in queued}
    # The flow reached the tasks it is meant to check.
    assert {
        "embargo.tasks.delivery_send_task",
        "embargo.tasks.acknowledgement_reminder_mail_task",
        "embargo.tasks.staff_unacknowledged_alert_task",
        "leaks.tasks.leak_staff_alert_task",
        "leaks.tasks.leak_decided_mail_task",
        "leaks.tasks.sanction_warning_mail_task",
        "embargo.tasks.reporter_update_task",
        "distributors.tasks.organization_standing_mail_task",
        "embargo.tasks.embargo_lifted_mail_task",
    } <= names, names
    for name, args, kwargs in queued:
        assert not kwargs, (name, kwargs)
        for position, value in enumerate(args):
            if (name, "event") in WORD_PARAMETERS and position == 1:
                continue
            assert _only_ids(value), (name, args)

    assert len(mailoutbox) >= 8
    for message in mailoutbox:
        text = "\n".join(
            [message.subject, message.body, *(str(v) for v in message.extra_headers.values())]
        )
        for field, phrase in CANARIES.items():
            if field == "reason":
                continue  # the organisation may read the reason, after signing in
            assert phrase not in text, f"{field} in mail {message.subject!r} to {message.to}"
        assert CANARIES["reason"] not in text, f"reason in mail {message.subject!r}"
