"""Personal bars and other organisations' suspensions, as notices see them (issue 15,
item 1): the preview lists such people as withheld with the reason, "send" withholds
them, and the send-time check cancels a copy queued before the bar."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from distributors.eligibility import Reason
from distributors.models import Organization, TeamMember
from distributors.services import organization_remove, organization_suspend
from embargo.models import Delivery
from embargo.services import delivery_send, notice_send
from embargo.tasks import delivery_send_task
from pgpmail import crypto
from tests.embargo.helpers import bulk_people, case_ready, notice_draft
from tests.factories import (
    MemberOrganizationFactory,
    NoticeFactory,
    StaffFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db

BARRED = "The person is barred: an organisation they belonged to was removed."
OTHER_SUSPENDED = "Another organisation of this person is suspended."


def _in_two_teams(first_name: str):
    """A person, eligible in Honest Linux, who is also in `first_name`'s team."""
    first = MemberOrganizationFactory(name=first_name)
    honest = MemberOrganizationFactory(name="Honest Linux")
    member = make_eligible(TeamMemberFactory(organization=honest))
    TeamMemberFactory(organization=first, user=member.user)
    return first, member


def _preview(client_for, staff_reviewer, draft) -> tuple[str, str]:
    response = client_for(staff_reviewer).get(
        reverse("embargo:notice_preview", kwargs={"pk": draft.pk})
    )
    assert response.status_code == 200
    text = response.content.decode()
    start = text.index("Withheld (")
    return text[:start], text[start:]


def test_the_preview_lists_a_barred_person_as_withheld_with_the_reason(mfa_client, staff_reviewer):
    rogue, member = _in_two_teams("Rogue OS")
    draft = NoticeFactory(vulnerability=VulnerabilityFactory())
    organization_remove(organization=rogue, actor=StaffFactory(), reason="Repeated leaks.")

    recipients, withheld = _preview(mfa_client, staff_reviewer, draft)

    assert member.user.email not in recipients
    assert member.user.email in withheld and BARRED in withheld


def test_the_preview_lists_a_person_of_another_suspended_organisation_as_withheld(
    mfa_client, staff_reviewer
):
    paused, member = _in_two_teams("Paused Linux")
    draft = NoticeFactory(vulnerability=VulnerabilityFactory())
    organization_suspend(organization=paused, actor=StaffFactory(), reason="A leak.")

    recipients, withheld = _preview(mfa_client, staff_reviewer, draft)

    assert member.user.email not in recipients
    assert member.user.email in withheld and OTHER_SUSPENDED in withheld


def test_sending_withholds_a_barred_person_with_the_reason(monkeypatch):
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    rogue, member = _in_two_teams("Rogue OS")
    make_eligible(TeamMemberFactory(organization=member.organization))  # someone to send to
    organization_remove(organization=rogue, actor=StaffFactory(), reason="Repeated leaks.")
    case = case_ready()
    notice = notice_draft(case=case)

    notice_send(notice=notice, actor=case.created_by)

    row = Delivery.objects.get(notice=notice, user=member.user)
    assert row.state == Delivery.State.WITHHELD
    assert Reason.PERSON_BARRED in row.reasons


@pytest.fixture
def world(person_keys, team_key, monkeypatch, settings):
    """Two eligible people with real keys and a notice pressed "send" (tasks held back)."""
    settings.SITE_URL = "https://haulout.example.org"
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    people = bulk_people(person_keys(2))
    case = case_ready()
    notice = notice_draft(case=case)
    notice_send(notice=notice, actor=case.created_by)
    yield {"people": people, "notice": notice}
    crypto.worker_home_close()


def test_a_copy_queued_before_the_person_was_barred_is_cancelled_unsent(world):
    person = world["people"][0]
    row = Delivery.objects.get(notice=world["notice"], user=person.user)
    assert row.state == Delivery.State.PENDING
    # The reproduction: the person is also in another organisation, removed after
    # the notice went out; their copy through this one must not be sent.
    rogue = MemberOrganizationFactory(name="Rogue OS")
    TeamMember.objects.create(organization=rogue, user=person.user)
    organization_remove(organization=rogue, actor=StaffFactory(), reason="Repeated leaks.")

    assert delivery_send(delivery_id=row.pk) == Delivery.State.CANCELLED

    row.refresh_from_db()
    assert row.reasons == [Reason.PERSON_BARRED]
    assert mail.outbox == []
    assert Organization.objects.get(pk=row.organization_id).status == "member"
