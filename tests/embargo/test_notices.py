"""Notices: the outer subject, sending, one row per person, tasks with ids only."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.models import AuditEvent
from distributors.eligibility import Reason, eligibility_for_audience
from distributors.models import Organization
from embargo.models import Delivery, Notice, Vulnerability
from embargo.services import notice_create, notice_send, notice_update
from embargo.services.notices import audience_one_per_person
from embargo.tasks import delivery_send_task
from tests.embargo.helpers import CANARY, case_ready, notice_draft
from tests.factories import (
    MemberOrganizationFactory,
    OrganizationFactory,
    TeamMemberFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """Records what would go to the broker instead of running the task."""
    calls = []

    def fake_apply_async(args=None, kwargs=None, **options):
        calls.append({"args": args, "kwargs": kwargs})

    monkeypatch.setattr(delivery_send_task, "apply_async", fake_apply_async)
    return calls


def _people(count, organization=None):
    organization = organization or MemberOrganizationFactory()
    return [make_eligible(TeamMemberFactory(organization=organization)) for _ in range(count)]


@pytest.mark.parametrize(
    "outer",
    [
        "About the heap overflow in the tarball unpacker",
        "HEAP OVERFLOW IN THE TARBALL UNPACKER",
        "Notice for CVE-2026-12345",
        "Re: {public_id}",
    ],
)
def test_an_outer_subject_that_gives_the_issue_away_is_refused(outer):
    case = case_ready()
    with pytest.raises(ValidationError) as caught:
        notice_create(
            vulnerability=case,
            actor=case.created_by,
            outer_subject=outer.format(public_id=case.public_id),
            subject="Patch available",
            body="Text",
        )
    assert "outer_subject" in caught.value.message_dict
    assert not Notice.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="notice.").exists()


def test_a_draft_with_chosen_organisations_needs_at_least_one():
    case = case_ready()
    with pytest.raises(ValidationError) as caught:
        notice_create(
            vulnerability=case,
            actor=case.created_by,
            outer_subject="Embargoed notice",
            subject="Patch available",
            body="Text",
            audience_all=False,
        )
    assert "organizations" in caught.value.message_dict


def test_sending_writes_one_row_per_person_and_queues_only_their_ids(
    queued, django_capture_on_commit_callbacks
):
    people = _people(3)
    ineligible = TeamMemberFactory(organization=people[0].organization, is_need_to_know=False)
    suspended_org = OrganizationFactory(status=Organization.Status.SUSPENDED)
    suspended = make_eligible(TeamMemberFactory(organization=suspended_org))
    Organization.objects.filter(pk=suspended_org.pk).update(status=Organization.Status.SUSPENDED)
    case = case_ready()
    notice = notice_draft(case=case)
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(notice=notice, actor=case.created_by)
    notice.refresh_from_db()
    case.refresh_from_db()
    assert notice.state == Notice.State.SENDING
    assert case.state == Vulnerability.State.NOTIFIED
    rows = {row.user_id: row for row in Delivery.objects.filter(notice=notice)}
    assert set(rows) == {p.user_id for p in people} | {ineligible.user_id, suspended.user_id}
    for person in people:
        row = rows[person.user_id]
        assert row.state == Delivery.State.PENDING
        assert row.fingerprint == person.user.pgp_keys.get(state="active").fingerprint
        assert len(row.reference_code) == 10
        assert row.message_id.startswith("<") and row.message_id.endswith(">")
    assert rows[ineligible.user_id].state == Delivery.State.WITHHELD
    assert Reason.NOT_NEED_TO_KNOW in rows[ineligible.user_id].reasons
    assert rows[suspended.user_id].reasons == [Reason.ORG_SUSPENDED]
    assert len({row.reference_code for row in rows.values()}) == 5
    assert len({row.message_id for row in rows.values()}) == 5
    pending_ids = sorted(rows[p.user_id].pk for p in people)
    # Each task's only argument is a list of row ids (a batch); every pending row once.
    assert sorted(pk for call in queued for pk in call["args"][0]) == pending_ids
    for call in queued:
        assert len(call["args"]) == 1 and not call["kwargs"]
        assert all(type(pk) is int for pk in call["args"][0])
    event = AuditEvent.objects.get(action="notice.send_started")
    assert event.data == {"recipients": 3, "withheld": 2}


def test_tasks_are_queued_only_after_the_commit(queued, django_capture_on_commit_callbacks):
    _people(1)
    case = case_ready()
    notice = notice_draft(case=case)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notice_send(notice=notice, actor=case.created_by)
    assert queued == []
    assert len(callbacks) == 1


def test_chosen_organisations_limit_the_audience(queued):
    chosen, other = _people(2), _people(2)
    case = case_ready()
    notice = notice_draft(case=case, organizations=[chosen[0].organization])
    notice_send(notice=notice, actor=case.created_by)
    users = set(Delivery.objects.filter(notice=notice).values_list("user_id", flat=True))
    assert users == {p.user_id for p in chosen}
    assert not users & {p.user_id for p in other}


def test_a_person_in_two_organisations_gets_one_copy(queued):
    person = _people(1)[0]
    second = make_eligible(TeamMemberFactory(user=person.user))
    case = case_ready()
    notice = notice_draft(case=case)
    notice_send(notice=notice, actor=case.created_by)
    rows = Delivery.objects.filter(notice=notice, user=person.user)
    assert rows.count() == 1
    assert rows.get().organization_id in {person.organization_id, second.organization_id}


def test_one_entry_per_person_and_an_eligible_membership_wins_over_one_that_is_not():
    person = _people(1)[0]
    # Also in a second member organisation, where they are not eligible (no policy, key...).
    TeamMemberFactory(user=person.user, organization=MemberOrganizationFactory())
    case = case_ready()
    audience = eligibility_for_audience(disclosure_at=case.disclosure_at)
    assert [item.eligible for item in audience if item.member.user_id == person.user_id] in (
        [True, False],
        [False, True],
    )
    for items in (audience, audience[::-1]):
        chosen = [
            item for item in audience_one_per_person(items) if item.member.user_id == person.user_id
        ]
        assert [(item.member.pk, item.eligible) for item in chosen] == [(person.pk, True)]


def test_sending_twice_is_refused_and_changes_nothing(queued):
    _people(2)
    case = case_ready()
    notice = notice_draft(case=case)
    notice_send(notice=notice, actor=case.created_by)
    before = (Delivery.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ValidationError):
        notice_send(notice=notice, actor=case.created_by)
    assert (Delivery.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize("problem", ["no_date", "past_date", "reported", "nobody"])
def test_a_notice_that_cannot_go_out_is_refused_with_nothing_written(queued, problem):
    if problem != "nobody":
        _people(2)
    case = case_ready()
    notice = notice_draft(case=case)
    if problem == "no_date":
        Vulnerability.objects.filter(pk=case.pk).update(disclosure_at=None)
    elif problem == "past_date":
        Vulnerability.objects.filter(pk=case.pk).update(
            disclosure_at=timezone.now() - timedelta(minutes=1)
        )
    elif problem == "reported":
        Vulnerability.objects.filter(pk=case.pk).update(state=Vulnerability.State.REPORTED)
    events = AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        notice_send(notice=notice, actor=case.created_by)
    notice.refresh_from_db()
    assert notice.state == Notice.State.DRAFT
    assert not Delivery.objects.exists()
    assert AuditEvent.objects.count() == events
    assert queued == []


def test_a_broker_outage_does_not_undo_the_send_and_logs_no_content(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    attempts = []

    def broker_down(*args, **kwargs):
        attempts.append(args)
        raise ConnectionRefusedError("redis is not answering")

    monkeypatch.setattr(delivery_send_task, "apply_async", broker_down)
    _people(3)
    case = case_ready()
    notice = notice_draft(case=case)
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(notice=notice, actor=case.created_by)
    notice.refresh_from_db()
    assert notice.state == Notice.State.SENDING
    assert Delivery.objects.filter(state=Delivery.State.PENDING).count() == 3
    # The first failure stops the loop: the sweeper queues the rest.
    assert len(attempts) == 1
    assert "sweeper" in caplog.text
    for secret in (CANARY, case.title, notice.subject, case.cve_id):
        assert secret not in caplog.text


def test_a_draft_can_be_edited_but_a_sent_notice_cannot(queued):
    _people(1)
    case = case_ready()
    notice = notice_draft(case=case)
    notice_update(
        notice=notice,
        actor=case.created_by,
        outer_subject="Embargoed notice",
        subject="New subject",
        body="New body",
        audience_all=True,
    )
    notice.refresh_from_db()
    assert notice.subject == "New subject"
    notice_send(notice=notice, actor=case.created_by)
    with pytest.raises(ValidationError):
        notice_update(
            notice=notice,
            actor=case.created_by,
            outer_subject="Embargoed notice",
            subject="Changed after sending",
            body="x",
            audience_all=True,
        )
    notice.refresh_from_db()
    assert notice.subject == "New subject"


def test_an_update_to_a_sent_notice_is_a_new_notice_referring_to_it(queued):
    _people(1)
    case = case_ready()
    first = notice_draft(case=case)
    with pytest.raises(ValidationError):
        notice_draft(case=case, revises=first)  # a draft cannot be revised
    notice_send(notice=first, actor=case.created_by)
    update = notice_draft(case=case, revises=first, body="Corrected versions.")
    assert update.revises == first
    assert update.state == Notice.State.DRAFT
    assert list(first.revisions.all()) == [update]
