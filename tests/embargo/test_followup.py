"""Acknowledgements, reminders, the embargo lift and moving the disclosure date."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.models import AuditEvent
from embargo.models import Delivery, Notice, Vulnerability
from embargo.selectors import advisories_public, advisory_public_get, notice_delivery_summary
from embargo.services import (
    acknowledgement_reminders_send,
    delivery_acknowledge,
    embargo_lift_due,
    notice_send,
    vulnerability_disclosure_move,
)
from embargo.tasks import delivery_send_task
from tests.embargo.helpers import CANARY, case_ready, notice_draft
from tests.factories import MemberOrganizationFactory, TeamMemberFactory, make_eligible

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    """A notice to three people, each copy marked sent a while ago (no gpg needed)."""
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    organization = MemberOrganizationFactory()
    people = [make_eligible(TeamMemberFactory(organization=organization)) for _ in range(3)]
    case = case_ready()
    notice = notice_draft(case=case)
    notice_send(notice=notice, actor=case.created_by)
    Delivery.objects.filter(notice=notice).update(
        state=Delivery.State.SENT, sent_at=timezone.now() - timedelta(hours=25)
    )
    Notice.objects.filter(pk=notice.pk).update(state=Notice.State.SENT)
    rows = list(Delivery.objects.filter(notice=notice).select_related("user").order_by("pk"))
    return {"case": case, "notice": notice, "people": people, "rows": rows}


def test_a_person_acknowledges_their_own_copy_once(sent):
    row = sent["rows"][0]
    delivery_acknowledge(reference_code=row.reference_code.lower(), user=row.user)
    delivery_acknowledge(reference_code=row.reference_code, user=row.user)
    row.refresh_from_db()
    assert row.acknowledged_at is not None
    assert AuditEvent.objects.filter(action="delivery.acknowledged").count() == 1


def test_someone_elses_reference_code_is_refused_and_changes_nothing(sent):
    row, other = sent["rows"][0], sent["rows"][1]
    events = AuditEvent.objects.count()
    for code in (row.reference_code, "NOSUCHCODE"):
        with pytest.raises(ValidationError):
            delivery_acknowledge(reference_code=code, user=other.user)
    row.refresh_from_db()
    assert row.acknowledged_at is None
    assert AuditEvent.objects.count() == events


def test_a_copy_that_was_not_sent_cannot_be_acknowledged(sent):
    row = sent["rows"][0]
    Delivery.objects.filter(pk=row.pk).update(state=Delivery.State.FAILED)
    with pytest.raises(ValidationError):
        delivery_acknowledge(reference_code=row.reference_code, user=row.user)


def test_one_plain_reminder_after_a_day_then_staff_are_told(
    sent, django_capture_on_commit_callbacks
):
    first = sent["rows"][0]
    delivery_acknowledge(reference_code=first.reference_code, user=first.user)
    with django_capture_on_commit_callbacks(execute=True):
        assert acknowledgement_reminders_send() == (2, 0)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.email for r in sent["rows"][1:])
    for message in mail.outbox:
        for secret in (CANARY, sent["case"].title, sent["case"].public_id, "ack/"):
            assert secret not in message.subject + message.body
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert acknowledgement_reminders_send() == (0, 0)
    assert mail.outbox == []
    # A day after the reminder, staff hear about the two, once.
    later = timezone.now() + timedelta(hours=25)
    staff = sent["case"].created_by
    with django_capture_on_commit_callbacks(execute=True):
        assert acknowledgement_reminders_send(now=later) == (0, 1)
    assert [m.to for m in mail.outbox] == [[staff.email]]
    assert "2 people have not acknowledged" in mail.outbox[0].body
    with django_capture_on_commit_callbacks(execute=True):
        assert acknowledgement_reminders_send(now=later) == (0, 0)


def test_the_lift_discloses_due_cases_and_tells_recipients_plainly(
    sent, django_capture_on_commit_callbacks
):
    case = sent["case"]
    waiting = case_ready(title="Another issue")
    Vulnerability.objects.filter(pk=case.pk).update(
        disclosure_at=timezone.now() - timedelta(seconds=1)
    )
    assert list(advisories_public()) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert embargo_lift_due() == [case.pk]
    case.refresh_from_db()
    waiting.refresh_from_db()
    assert case.state == Vulnerability.State.DISCLOSED and case.disclosed_at
    assert waiting.state == Vulnerability.State.TRIAGED
    assert list(advisories_public()) == [case]
    assert advisory_public_get(public_id=waiting.public_id) is None
    assert sorted(m.to[0] for m in mail.outbox) == sorted(r.email for r in sent["rows"])
    assert case.public_id in mail.outbox[0].subject
    assert CANARY not in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="vulnerability.disclosed").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert embargo_lift_due() == []


def test_a_reported_case_is_never_lifted_by_the_clock():
    case = case_ready()
    Vulnerability.objects.filter(pk=case.pk).update(
        state=Vulnerability.State.REPORTED, disclosure_at=timezone.now() - timedelta(hours=1)
    )
    assert embargo_lift_due() == []


def test_moving_the_date_is_audited_and_re_notifies_everyone_told(sent):
    case = sent["case"]
    old = case.disclosure_at
    new = old + timedelta(days=3)
    vulnerability_disclosure_move(
        vulnerability=case, actor=case.created_by, disclosure_at=new, note="Upstream asked."
    )
    case.refresh_from_db()
    assert case.disclosure_at == new
    event = AuditEvent.objects.get(action="vulnerability.disclosure_moved")
    assert event.data == {"from": old.isoformat(), "to": new.isoformat()}
    update = Notice.objects.exclude(pk=sent["notice"].pk).get()
    assert update.revises == sent["notice"]
    assert update.state == Notice.State.SENDING
    assert case.title not in update.outer_subject
    assert new.strftime("%Y-%m-%d %H:%M UTC") in update.body
    assert set(update.deliveries.values_list("user_id", flat=True)) == {
        r.user_id for r in sent["rows"]
    }


def test_the_first_date_set_after_notices_went_out_reaches_everyone_told(sent):
    case = sent["case"]
    Vulnerability.objects.filter(pk=case.pk).update(disclosure_at=None)
    case.refresh_from_db()
    new = timezone.now() + timedelta(days=9)
    vulnerability_disclosure_move(vulnerability=case, actor=case.created_by, disclosure_at=new)
    update = Notice.objects.exclude(pk=sent["notice"].pk).get()
    assert update.revises == sent["notice"]
    assert f"is set: {new:%Y-%m-%d %H:%M} UTC" in update.body
    assert set(update.deliveries.values_list("user_id", flat=True)) == {
        r.user_id for r in sent["rows"]
    }


def test_moving_the_date_into_the_past_is_refused(sent):
    case = sent["case"]
    with pytest.raises(ValidationError):
        vulnerability_disclosure_move(
            vulnerability=case,
            actor=case.created_by,
            disclosure_at=timezone.now() - timedelta(days=1),
        )
    case.refresh_from_db()
    assert Notice.objects.count() == 1
    assert not AuditEvent.objects.filter(action="vulnerability.disclosure_moved").exists()


def test_the_delivery_summary_groups_by_organisation_in_one_query(
    sent, django_assert_num_queries, monkeypatch
):
    rows = sent["rows"]
    delivery_acknowledge(reference_code=rows[0].reference_code, user=rows[0].user)
    Delivery.objects.filter(pk=rows[1].pk).update(
        state=Delivery.State.FAILED, failure_reason="SMTP 550 5.1.1 no such user"
    )
    withheld = TeamMemberFactory(organization=MemberOrganizationFactory())
    Delivery.objects.create(
        notice=sent["notice"],
        member=withheld,
        user=withheld.user,
        organization=withheld.organization,
        email=withheld.user.email,
        reference_code="WITHHELD01",
        message_id="<w@example.org>",
        state=Delivery.State.WITHHELD,
        reasons=["no_verified_key", "no_mfa"],
        created_at=timezone.now(),
    )
    with django_assert_num_queries(1):
        summary = notice_delivery_summary(notice=sent["notice"])
        assert summary.totals["acknowledged"] == 1
        assert summary.totals["sent"] == 1
        assert summary.totals["failed"] == 1
        assert summary.totals["withheld"] == 1
        assert len(summary.organizations) == 2
        people = {p.delivery.email: p for g in summary.organizations for p in g.people}
        assert people[withheld.user.email].reasons == [
            "No verified PGP key.",
            "Two-factor authentication is not set up.",
        ]
        assert people[rows[1].email].reasons == ["SMTP 550 5.1.1 no such user"]
        assert summary.is_complete
