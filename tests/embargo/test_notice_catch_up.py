"""After a send: copies for people who have become eligible since."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from core.models import AuditEvent
from distributors.eligibility import Reason
from distributors.models import PgpKey
from embargo.models import Delivery, Notice
from embargo.services import notice_catch_up, notice_send
from embargo.tasks import delivery_send_task
from tests.embargo.helpers import case_ready, notice_draft
from tests.factories import (
    MemberOrganizationFactory,
    PgpKeyFactory,
    TeamMemberFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    calls = []

    def fake_apply_async(args=None, kwargs=None, **options):
        calls.append(args[0])

    monkeypatch.setattr(delivery_send_task, "apply_async", fake_apply_async)
    return calls


@pytest.fixture
def sent(queued, django_capture_on_commit_callbacks):
    """A notice sent to two eligible people and one person with no verified key."""
    organization = MemberOrganizationFactory()
    people = [make_eligible(TeamMemberFactory(organization=organization)) for _ in range(2)]
    keyless = make_eligible(TeamMemberFactory(organization=organization))
    PgpKey.objects.filter(user=keyless.user).update(state=PgpKey.State.REPLACED)
    case = case_ready()
    notice = notice_draft(case=case)
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(notice=notice, actor=case.created_by)
    queued.clear()
    rows = {row.user_id: row for row in notice.deliveries.all()}
    return {"notice": notice, "people": people, "keyless": keyless, "rows": rows,
            "staff": case.created_by, "organization": organization}  # fmt: skip


def test_a_person_who_registered_a_key_since_gets_their_copy(
    sent, queued, django_capture_on_commit_callbacks
):
    keyless, notice = sent["keyless"], sent["notice"]
    row = sent["rows"][keyless.user_id]
    assert row.state == Delivery.State.WITHHELD
    key = PgpKeyFactory(user=keyless.user)
    with django_capture_on_commit_callbacks(execute=True):
        counts = notice_catch_up(notice=notice, actor=sent["staff"])
    assert counts == {"retried": 1, "added": 0, "added_withheld": 0, "still_withheld": 0}
    row.refresh_from_db()
    assert row.state == Delivery.State.PENDING
    assert row.fingerprint == key.fingerprint
    assert row.reasons == []
    # Same copy: reference code and Message-ID are kept.
    assert (row.reference_code, row.message_id) == (
        sent["rows"][keyless.user_id].reference_code,
        sent["rows"][keyless.user_id].message_id,
    )
    assert queued == [[row.pk]]
    assert AuditEvent.objects.get(action="notice.caught_up").data == counts


def test_a_failed_copy_is_tried_again_with_the_persons_current_key(
    sent, queued, django_capture_on_commit_callbacks
):
    person = sent["people"][0]
    row = sent["rows"][person.user_id]
    Delivery.objects.filter(pk=row.pk).update(
        state=Delivery.State.FAILED, failure_reason="Encryption failed: key expired"
    )
    PgpKey.objects.filter(user=person.user).update(state=PgpKey.State.REPLACED)
    new_key = PgpKeyFactory(user=person.user)
    with django_capture_on_commit_callbacks(execute=True):
        counts = notice_catch_up(notice=sent["notice"], actor=sent["staff"])
    assert counts["retried"] == 1
    row.refresh_from_db()
    assert (row.state, row.fingerprint, row.failure_reason) == (
        Delivery.State.PENDING, new_key.fingerprint, ""
    )  # fmt: skip
    assert queued == [[row.pk]]


def test_someone_who_joined_the_audience_since_gets_a_row_of_their_own(
    sent, queued, django_capture_on_commit_callbacks
):
    newcomer = make_eligible(TeamMemberFactory(organization=sent["organization"]))
    with django_capture_on_commit_callbacks(execute=True):
        counts = notice_catch_up(notice=sent["notice"], actor=sent["staff"])
    assert counts["added"] == 1
    row = Delivery.objects.get(notice=sent["notice"], user=newcomer.user)
    assert row.state == Delivery.State.PENDING
    assert queued == [[row.pk]]
    # Nobody else is queued again: the original copies are already on their way.
    assert Delivery.objects.filter(notice=sent["notice"]).count() == 4


def test_people_still_not_eligible_keep_their_state_with_current_reasons(sent, queued):
    keyless = sent["keyless"]
    keyless.is_need_to_know = False
    keyless.save(update_fields=["is_need_to_know"])
    counts = notice_catch_up(notice=sent["notice"], actor=sent["staff"])
    assert counts == {"retried": 0, "added": 0, "added_withheld": 0, "still_withheld": 1}
    row = Delivery.objects.get(pk=sent["rows"][keyless.user_id].pk)
    assert row.state == Delivery.State.WITHHELD
    assert Reason.NOT_NEED_TO_KNOW in row.reasons
    assert queued == []


def test_sent_copies_are_never_sent_again(sent, queued):
    Delivery.objects.filter(notice=sent["notice"], state=Delivery.State.PENDING).update(
        state=Delivery.State.SENT
    )
    counts = notice_catch_up(notice=sent["notice"], actor=sent["staff"])
    assert counts["retried"] == 0
    assert Delivery.objects.filter(state=Delivery.State.SENT).count() == 2
    assert queued == []


def test_it_refuses_a_draft_a_past_disclosure_and_a_non_staff_actor(sent, queued):
    case = case_ready()
    draft = notice_draft(case=case)
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError, match="not been sent"):
        notice_catch_up(notice=draft, actor=sent["staff"])
    with pytest.raises(ValidationError, match="security team"):
        notice_catch_up(notice=sent["notice"], actor=sent["people"][0].user)
    notice = sent["notice"]
    type(notice.vulnerability).objects.filter(pk=notice.vulnerability_id).update(
        disclosure_at=notice.vulnerability.created_at
    )
    with pytest.raises(ValidationError, match="disclosure time has passed"):
        notice_catch_up(notice=notice, actor=sent["staff"])
    assert AuditEvent.objects.count() == before
    assert queued == []


def test_the_catch_up_button_is_for_staff_only(client, mfa_client, sent, staff_reviewer):
    url = reverse("embargo:notice_catch_up", args=[sent["notice"].pk])
    response = client.post(url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    outsider = TeamMemberFactory(organization=MemberOrganizationFactory()).user
    owner = sent["people"][0].user
    for person in (owner, outsider):
        assert mfa_client(person).post(url).status_code == 404
    assert not AuditEvent.objects.filter(action="notice.caught_up").exists()
    response = mfa_client(staff_reviewer).post(url)
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="notice.caught_up").exists()
    assert mfa_client(staff_reviewer).get(url).status_code == 405
    assert Notice.objects.get(pk=sent["notice"].pk).state == Notice.State.SENDING
