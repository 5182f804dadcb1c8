"""Leak reports, the sanction ladder, and what suspension and removal do to deliveries."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from core.models import AuditEvent
from distributors.eligibility import Reason
from distributors.models import Organization, Vouch
from distributors.services import organization_apply
from distributors.services.sanctions import REMOVED_REFUSAL, organization_suspend
from embargo.models import Delivery, Notice
from embargo.services import deliveries_sweep, delivery_send, notice_send
from embargo.tasks import delivery_send_task
from leaks.models import LeakReport, Sanction
from leaks.services import (
    leak_disclosure_move,
    leak_report_confirm,
    leak_report_dismiss,
    leak_report_file,
    organization_sanction,
    retrospective_answer,
    sanction_lift,
    suspensions_lift_due,
)
from tests.conftest import enable_totp
from tests.embargo.helpers import CANARY, case_ready, notice_draft
from tests.factories import (
    ApplicationFactory,
    MemberOrganizationFactory,
    StaffFactory,
    TeamMemberFactory,
    UserFactory,
    VouchFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(monkeypatch):
    # Copies stay pending: these tests are about what happens to queued rows.
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    acme = MemberOrganizationFactory(
        name="Acme Linux", slug="acme-linux", website="https://www.acme-linux.test"
    )
    admin = make_eligible(
        TeamMemberFactory(
            organization=acme,
            is_admin=True,
            user__username="ada",
            user__email="ada@acme-linux.test",
        )
    )
    engineer = make_eligible(
        TeamMemberFactory(
            organization=acme, user__username="eng", user__email="eng@mail.acme-linux.test"
        )
    )
    other = MemberOrganizationFactory(name="Other Distro", slug="other-distro")
    other_member = make_eligible(TeamMemberFactory(organization=other, is_admin=True))
    staff = StaffFactory(username="sec", email="sec@security.example.org")
    enable_totp(staff)
    case = case_ready(actor=staff)
    notice = notice_draft(case=case, actor=staff)
    notice_send(notice=notice, actor=staff)
    return SimpleNamespace(
        acme=acme,
        admin=admin,
        engineer=engineer,
        other=other,
        other_member=other_member,
        staff=staff,
        case=case,
        notice=notice,
    )


def _self_report(world, **overrides) -> LeakReport:
    fields = {
        "actor": world.admin.user,
        "organization": world.acme,
        "notice": world.notice,
        "what_leaked": "The whole notice, including the patch.",
        "leaked_to": "A contractor outside the need-to-know team.",
        "how": "Forwarded by mistake to a team alias.",
        "prevention": "The alias is gone; notices are read only in the encrypted mailbox.",
        "leaked_at": timezone.now() - timedelta(hours=2),
    }
    fields.update(overrides)
    return leak_report_file(**fields)


def _found_report(world) -> LeakReport:
    return leak_report_file(
        actor=world.staff,
        organization=world.acme,
        vulnerability=world.case,
        source=LeakReport.Source.FOUND,
        what_leaked="The patch, posted on a forum.",
        leaked_to="The public.",
        how="Unknown; the copy was traced to Acme.",
        evidence_text="pasted copy",
    )


def _snapshot():
    return LeakReport.objects.count(), AuditEvent.objects.count(), Sanction.objects.count()


# ---------------------------------------------------------------- filing


def test_a_self_report_alerts_staff_at_once_without_embargoed_content(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = _self_report(world)
    assert report.state == LeakReport.State.OPEN
    assert report.source == LeakReport.Source.SELF_REPORT
    alerts = [m for m in mailoutbox if m.to == [world.staff.email]]
    assert len(alerts) == 1
    assert "URGENT" in alerts[0].subject
    for secret in (CANARY, world.case.title, world.notice.subject, "contractor"):
        assert secret not in alerts[0].subject and secret not in alerts[0].body
    assert AuditEvent.objects.filter(action="leak.reported", organization=world.acme).exists()


def test_a_member_cannot_report_for_another_organisation(world):
    before = _snapshot()
    with pytest.raises(PermissionDenied):
        _self_report(world, organization=world.other)
    assert _snapshot() == before


def test_a_member_must_name_a_notice_their_organisation_received(world):
    stranger_case = case_ready(title="Unrelated case")
    unrelated = notice_draft(case=stranger_case, organizations=[world.other])
    notice_send(notice=unrelated, actor=world.staff)
    before = _snapshot()
    with pytest.raises(ValidationError) as error:
        _self_report(world, notice=unrelated)
    assert "notice" in error.value.message_dict
    assert _snapshot() == before


def test_an_incomplete_report_is_refused_and_changes_nothing(world):
    before = _snapshot()
    with pytest.raises(ValidationError) as error:
        _self_report(world, what_leaked="  ", how="", prevention="")
    assert {"what_leaked"} <= set(error.value.message_dict)
    with pytest.raises(ValidationError):
        _self_report(world, leaked_at=timezone.now() + timedelta(days=1))
    assert _snapshot() == before


# ---------------------------------------------------------------- triage and the ladder


def test_only_staff_confirm_or_dismiss(world):
    report = _self_report(world)
    for actor in (world.admin.user, world.other_member.user):
        with pytest.raises(PermissionDenied):
            leak_report_confirm(report=report, actor=actor, reason="x")
        with pytest.raises(PermissionDenied):
            leak_report_dismiss(report=report, actor=actor, reason="x")
    report.refresh_from_db()
    assert report.is_open


def test_a_dismissed_report_does_not_count_against_the_organisation(world):
    leak_report_dismiss(report=_self_report(world), actor=world.staff, reason="Not a leak.")
    leak_report_confirm(report=_self_report(world), actor=world.staff, reason="Real.")
    assert list(Sanction.objects.values_list("kind", flat=True)) == [Sanction.Kind.WARNING]
    world.acme.refresh_from_db()
    assert world.acme.status == Organization.Status.MEMBER


def test_a_decided_report_cannot_be_decided_again(world):
    report = _self_report(world)
    leak_report_dismiss(report=report, actor=world.staff, reason="Not a leak.")
    with pytest.raises(ValidationError):
        leak_report_confirm(report=report, actor=world.staff, reason="Changed my mind.")
    assert not Sanction.objects.exists()


def test_end_to_end_warning_then_removal_withholds_cancels_and_refuses_reapplication(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    # 1. The organisation reports its own leak; staff confirm: a warning and a retrospective.
    with django_capture_on_commit_callbacks(execute=True):
        first = _self_report(world)
        leak_report_confirm(report=first, actor=world.staff, reason="The admin confirmed it.")
    warning = Sanction.objects.get(organization=world.acme)
    assert warning.kind == Sanction.Kind.WARNING and warning.retrospective_due
    assert any("retrospective" in m.body for m in mailoutbox if m.to == [world.admin.user.email])
    world.acme.refresh_from_db()
    assert world.acme.status == Organization.Status.MEMBER
    retrospective_answer(sanction=warning, actor=world.admin.user, text="We removed the alias.")
    assert not Sanction.objects.get(pk=warning.pk).retrospective_due

    # 2. A fan-out is in progress when the second leak is confirmed.
    in_progress = notice_draft(case=world.case, actor=world.staff)
    notice_send(notice=in_progress, actor=world.staff)
    acme_rows = Delivery.objects.filter(notice=in_progress, organization=world.acme)
    assert set(acme_rows.values_list("state", flat=True)) == {Delivery.State.PENDING}
    # Both notices' copies to Acme are still queued (the workers are held back here).
    queued = Delivery.objects.filter(organization=world.acme, state="pending").count()
    assert queued == 4
    with django_capture_on_commit_callbacks(execute=True):
        second = _found_report(world)
        leak_report_confirm(report=second, actor=world.staff, reason="Traced to Acme.")
    world.acme.refresh_from_db()
    assert world.acme.status == Organization.Status.REMOVED
    removal = Sanction.objects.get(organization=world.acme, kind=Sanction.Kind.REMOVAL)
    assert removal.cancelled_deliveries == queued
    for row in acme_rows:
        assert row.state == Delivery.State.CANCELLED
        assert row.reasons == [Reason.ORG_REMOVED]
        assert delivery_send(delivery_id=row.pk) == "skipped"
    # Nobody else lost their copy.
    other_row = Delivery.objects.get(notice=in_progress, organization=world.other)
    assert other_row.state == Delivery.State.PENDING

    # 3. A notice sent afterwards withholds every person of the removed organisation.
    after = notice_draft(case=world.case, actor=world.staff)
    notice_send(notice=after, actor=world.staff)
    withheld = Delivery.objects.filter(notice=after, organization=world.acme)
    assert withheld.count() == 2
    for row in withheld:
        assert row.state == Delivery.State.WITHHELD
        assert Reason.ORG_REMOVED in row.reasons
        assert delivery_send(delivery_id=row.pk) == "skipped"

    # 4. Neither the organisation, its people nor its domains can apply again.
    attempts = [
        (world.admin.user, "Acme Linux Reborn", "https://reborn.test"),
        (UserFactory(email="new@acme-linux.test"), "Fresh Start", "https://fresh.test"),
        (UserFactory(email="x@build.acme-linux.test"), "Fresh Two", "https://fresh2.test"),
        (UserFactory(email="y@unrelated.test"), "Acme Linux", "https://elsewhere.test"),
        (UserFactory(email="z@unrelated2.test"), "New Name", "https://acme-linux.test/x"),
    ]
    for actor, name, website in attempts:
        before = Organization.objects.count()
        with pytest.raises(ValidationError) as error:
            organization_apply(actor=actor, name=name, website=website)
        assert REMOVED_REFUSAL in error.value.messages
        assert Organization.objects.count() == before
    # An unconnected newcomer still can.
    organization_apply(
        actor=UserFactory(email="ok@newdistro.test"), name="New Distro", website="https://nd.test"
    )


def test_the_ladder_is_configurable(world, settings):
    settings.HAULOUT_SANCTION_LADDER = ["warning", "suspension", "removal"]
    leak_report_confirm(report=_self_report(world), actor=world.staff, reason="One.")
    leak_report_confirm(report=_self_report(world), actor=world.staff, reason="Two.")
    world.acme.refresh_from_db()
    assert world.acme.status == Organization.Status.SUSPENDED
    suspension = Sanction.objects.get(kind=Sanction.Kind.SUSPENSION)
    assert suspension.ends_at > timezone.now() + timedelta(days=29)
    assert world.acme.suspended_until == suspension.ends_at


# ---------------------------------------------------------------- sanctions directly


def test_a_suspension_cancels_pending_copies_and_a_claimed_copy_is_rechecked_at_send(world):
    rows = Delivery.objects.filter(notice=world.notice, organization=world.acme).order_by("pk")
    claimed = rows[0]
    # A worker claimed this copy (and then died) before the decision landed.
    Delivery.objects.filter(pk=claimed.pk).update(
        state=Delivery.State.SENDING,
        attempts=1,
        claimed_at=timezone.now() - timedelta(hours=1),
        lease_until=timezone.now() - timedelta(minutes=59),
    )
    sanction = organization_sanction(
        organization=world.acme, actor=world.staff, kind="suspension", reason="Under review."
    )
    assert sanction.cancelled_deliveries == 1
    assert rows[1].state == Delivery.State.CANCELLED
    assert Delivery.objects.get(pk=claimed.pk).state == Delivery.State.SENDING
    # The sweeper hands the stuck copy out again; the send re-reads the organisation.
    deliveries_sweep(now=timezone.now())
    assert delivery_send(delivery_id=claimed.pk) == Delivery.State.CANCELLED
    assert Reason.ORG_SUSPENDED in Delivery.objects.get(pk=claimed.pk).reasons


def test_the_send_path_reads_the_organisation_status_fresh(world):
    row = Delivery.objects.filter(notice=world.notice, organization=world.acme).first()
    # Suspended through distributors alone: nothing cancelled the row.
    organization_suspend(organization=world.acme, actor=world.staff, reason="Checking.")
    assert Delivery.objects.get(pk=row.pk).state == Delivery.State.PENDING
    assert delivery_send(delivery_id=row.pk) == Delivery.State.CANCELLED
    assert Delivery.objects.get(pk=row.pk).reasons == [Reason.ORG_SUSPENDED]


def test_a_suspension_is_lifted_by_staff_or_on_its_end_date(world):
    until = timezone.now() + timedelta(days=3)
    sanction = organization_sanction(
        organization=world.acme, actor=world.staff, kind="suspension", reason="Pause.", until=until
    )
    assert suspensions_lift_due(now=timezone.now()) == []
    assert suspensions_lift_due(now=until + timedelta(minutes=1)) == [world.acme.pk]
    world.acme.refresh_from_db()
    assert world.acme.status == Organization.Status.MEMBER
    assert Sanction.objects.get(pk=sanction.pk).lifted_at is not None
    second = organization_sanction(
        organization=world.acme, actor=world.staff, kind="suspension", reason="Again."
    )
    sanction_lift(sanction=second, actor=world.staff, reason="Resolved.")
    world.acme.refresh_from_db()
    assert world.acme.status == Organization.Status.MEMBER


def test_a_removal_cannot_be_lifted_or_repeated(world):
    removal = organization_sanction(
        organization=world.acme, actor=world.staff, kind="removal", reason="Repeated leaks."
    )
    with pytest.raises(ValidationError):
        sanction_lift(sanction=removal, actor=world.staff, reason="Oops.")
    with pytest.raises(ValidationError):
        organization_sanction(
            organization=world.acme, actor=world.staff, kind="removal", reason="Again."
        )
    world.acme.refresh_from_db()
    assert world.acme.status == Organization.Status.REMOVED


def test_a_sanction_needs_staff_and_a_reason(world):
    before = _snapshot()
    with pytest.raises(PermissionDenied):
        organization_sanction(
            organization=world.acme, actor=world.admin.user, kind="removal", reason="x"
        )
    with pytest.raises(ValidationError):
        organization_sanction(organization=world.acme, actor=world.staff, kind="removal", reason="")
    assert _snapshot() == before
    world.acme.refresh_from_db()
    assert world.acme.status == Organization.Status.MEMBER


def test_vouchers_of_a_removed_organisation_are_told_and_flagged(
    world, mailoutbox, django_capture_on_commit_callbacks
):
    application = ApplicationFactory(organization=world.acme, state="approved")
    vouch = VouchFactory(application=application, voucher_organization=world.other)
    with django_capture_on_commit_callbacks(execute=True):
        organization_sanction(
            organization=world.acme, actor=world.staff, kind="removal", reason="Repeated leaks."
        )
    vouch = Vouch.objects.get(pk=vouch.pk)
    assert vouch.flagged_at is not None
    told = [m for m in mailoutbox if m.to == [vouch.voucher.email]]
    assert len(told) == 1 and "Repeated leaks" not in told[0].body
    removed_mail = [m for m in mailoutbox if m.to == [world.engineer.user.email]]
    assert removed_mail and "Repeated leaks" not in removed_mail[0].body


def test_only_an_admin_answers_the_retrospective_once(world):
    leak_report_confirm(report=_self_report(world), actor=world.staff, reason="One.")
    warning = Sanction.objects.get()
    for actor in (world.engineer.user, world.other_member.user, world.staff):
        with pytest.raises(PermissionDenied):
            retrospective_answer(sanction=warning, actor=actor, text="x")
    with pytest.raises(ValidationError):
        retrospective_answer(sanction=warning, actor=world.admin.user, text=" ")
    retrospective_answer(sanction=warning, actor=world.admin.user, text="Done.")
    with pytest.raises(ValidationError):
        retrospective_answer(sanction=warning, actor=world.admin.user, text="Again.")


# ---------------------------------------------------------------- breaking the embargo


def test_a_confirmed_leak_can_move_the_disclosure_earlier_and_recipients_are_told(world):
    report = _self_report(world)
    earlier = world.case.disclosure_at - timedelta(days=5)
    with pytest.raises(ValidationError):
        leak_disclosure_move(report=report, actor=world.staff, disclosure_at=earlier)
    leak_report_confirm(report=report, actor=world.staff, reason="Confirmed.")
    with pytest.raises(ValidationError):
        leak_disclosure_move(
            report=report,
            actor=world.staff,
            disclosure_at=world.case.disclosure_at + timedelta(days=1),
        )
    case = leak_disclosure_move(report=report, actor=world.staff, disclosure_at=earlier)
    assert case.disclosure_at == earlier
    update = Notice.objects.filter(vulnerability=world.case, revises__isnull=False).get()
    assert update.state == Notice.State.SENDING
    assert Delivery.objects.filter(notice=update, state=Delivery.State.PENDING).count() == 3
    assert AuditEvent.objects.filter(action="leak.embargo_broken").exists()
