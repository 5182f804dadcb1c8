"""Leak pages: every view for anonymous, owner, other organisation and staff."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import Organization, PolicyAcceptance, TeamMember
from embargo.delivery.mail import notice_plaintext
from embargo.models import Delivery
from embargo.services import notice_send
from embargo.tasks import delivery_send_task
from leaks.models import LeakReport, Sanction
from leaks.services import leak_report_confirm, leak_report_file
from tests.conftest import enable_totp
from tests.embargo.helpers import case_ready, notice_draft
from tests.factories import (
    MemberOrganizationFactory,
    StaffFactory,
    TeamMemberFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db
EVIDENCE = "Pasted copy: the walrus canary sings"


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    acme = MemberOrganizationFactory(name="Acme Views", slug="acme-views")
    owner = make_eligible(TeamMemberFactory(organization=acme, is_admin=True)).user
    other_org = MemberOrganizationFactory(name="Other Views", slug="other-views")
    other = make_eligible(TeamMemberFactory(organization=other_org, is_admin=True)).user
    staff = StaffFactory()
    enable_totp(staff)
    case = case_ready(actor=staff)
    notice = notice_draft(case=case, actor=staff)
    notice_send(notice=notice, actor=staff)
    report = leak_report_file(
        actor=staff,
        organization=acme,
        vulnerability=case,
        notice=notice,
        source=LeakReport.Source.FOUND,
        what_leaked="The patch.",
        leaked_to="A forum.",
        how="Unknown.",
        evidence_text=EVIDENCE,
    )
    return SimpleNamespace(
        acme=acme,
        owner=owner,
        other_org=other_org,
        other=other,
        staff=staff,
        case=case,
        notice=notice,
        report=report,
    )


def _as(who, world, client, mfa_client):
    if who == "anonymous":
        return client
    return mfa_client(getattr(world, who))


STAFF_GET = [
    ("leaks:staff_leak_dashboard", lambda w: {}),
    ("leaks:staff_leak_detail", lambda w: {"pk": w.report.pk}),
    ("leaks:staff_leak_create", lambda w: {"pk": w.case.pk}),
    ("leaks:staff_trace", lambda w: {"pk": w.case.pk}),
    ("leaks:staff_notice_tracing", lambda w: {"pk": w.notice.pk}),
    ("leaks:staff_organization_leaks", lambda w: {"slug": w.acme.slug}),
]
STAFF_POST = [
    ("leaks:staff_leak_confirm", lambda w: {"pk": w.report.pk}, {"reason": "Seen."}),
    ("leaks:staff_leak_dismiss", lambda w: {"pk": w.report.pk}, {"reason": "No."}),
    (
        "leaks:staff_organization_sanction",
        lambda w: {"slug": w.acme.slug},
        {"kind": "suspension", "reason": "Pause."},
    ),
]


@pytest.mark.parametrize("name,kwargs", STAFF_GET)
@pytest.mark.parametrize("who,expected", [("owner", 404), ("other", 404), ("staff", 200)])
def test_staff_pages_open_for_staff_only(world, client, mfa_client, name, kwargs, who, expected):
    response = _as(who, world, client, mfa_client).get(reverse(name, kwargs=kwargs(world)))
    assert response.status_code == expected
    if expected == 404:
        assert EVIDENCE.encode() not in response.content


@pytest.mark.parametrize("name,kwargs", STAFF_GET)
def test_staff_pages_send_anonymous_people_to_sign_in(world, client, name, kwargs):
    response = client.get(reverse(name, kwargs=kwargs(world)))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("name,kwargs,data", STAFF_POST)
@pytest.mark.parametrize("who", ["anonymous", "owner", "other"])
def test_only_staff_confirm_dismiss_or_sanction(world, client, mfa_client, name, kwargs, data, who):
    response = _as(who, world, client, mfa_client).post(reverse(name, kwargs=kwargs(world)), data)
    assert response.status_code in (302, 404)
    if who != "anonymous":
        assert response.status_code == 404
    world.report.refresh_from_db()
    world.acme.refresh_from_db()
    assert world.report.is_open and world.acme.status == Organization.Status.MEMBER
    assert not Sanction.objects.exists()


def test_staff_confirm_applies_the_ladder(world, mfa_client):
    response = mfa_client(world.staff).post(
        reverse("leaks:staff_leak_confirm", kwargs={"pk": world.report.pk}),
        {"reason": "Traced.", "reference_code": ""},
    )
    assert response.status_code == 302
    world.report.refresh_from_db()
    assert world.report.state == LeakReport.State.CONFIRMED
    assert Sanction.objects.get().kind == Sanction.Kind.WARNING


def test_staff_confirm_with_an_unknown_reference_code_changes_nothing(world, mfa_client):
    mfa_client(world.staff).post(
        reverse("leaks:staff_leak_confirm", kwargs={"pk": world.report.pk}),
        {"reason": "Traced.", "reference_code": "NOTACODE"},
    )
    world.report.refresh_from_db()
    assert world.report.is_open and not Sanction.objects.exists()


def test_staff_remove_directly_and_the_lift_is_staff_only(world, client, mfa_client):
    staff = mfa_client(world.staff)
    staff.post(
        reverse("leaks:staff_organization_sanction", kwargs={"slug": world.acme.slug}),
        {"kind": "suspension", "reason": "Pause."},
    )
    sanction = Sanction.objects.get()
    url = reverse("leaks:staff_sanction_lift", kwargs={"pk": sanction.pk})
    client.logout()
    for who in ("owner", "other"):
        assert mfa_client(getattr(world, who)).post(url, {"reason": "x"}).status_code == 404
    assert Sanction.objects.get().lifted_at is None
    mfa_client(world.staff).post(url, {"reason": "Resolved."})
    assert Sanction.objects.get().lifted_at is not None


def test_staff_disclosure_move_is_staff_only(world, client, mfa_client):
    url = reverse("leaks:staff_leak_disclosure", kwargs={"pk": world.report.pk})
    data = {"disclosure_at": "2099-01-01T10:00"}
    assert client.post(url, data).status_code == 302
    for who in ("owner", "other"):
        assert mfa_client(getattr(world, who)).post(url, data).status_code == 404
    before = world.case.disclosure_at
    world.case.refresh_from_db()
    assert world.case.disclosure_at == before


# ---------------------------------------------------------------- member pages


@pytest.mark.parametrize(
    "who,expected", [("anonymous", 302), ("owner", 200), ("other", 404), ("staff", 200)]
)
def test_a_leak_report_is_visible_to_its_organisation_and_staff(
    world, client, mfa_client, who, expected
):
    response = _as(who, world, client, mfa_client).get(world.report.get_absolute_url())
    assert response.status_code == expected
    # The pasted copy is for the security team's pages only.
    assert EVIDENCE.encode() not in response.content


@pytest.mark.parametrize("who", ["owner", "other"])
def test_the_list_shows_only_the_own_organisations_reports(world, mfa_client, who):
    response = mfa_client(getattr(world, who)).get(reverse("leaks:leak_list"))
    assert response.status_code == 200
    link = world.report.get_absolute_url().encode()
    assert (link in response.content) == (who == "owner")


def test_the_list_sends_anonymous_to_sign_in_and_staff_to_the_dashboard(world, client, mfa_client):
    assert client.get(reverse("leaks:leak_list")).status_code == 302
    response = mfa_client(world.staff).get(reverse("leaks:leak_list"))
    assert response["Location"] == reverse("leaks:staff_leak_dashboard")


def _report_form(world, organization):
    return {
        "organization": organization.pk,
        "notice": world.notice.pk,
        "what_leaked": "The subject line.",
        "leaked_to": "A colleague without need-to-know.",
        "how": "Read over the shoulder.",
        "prevention": "Screens lock; notices only in the encrypted mailbox.",
    }


def test_an_owner_files_a_report_and_sees_its_status(
    world, mfa_client, mailoutbox, django_capture_on_commit_callbacks
):
    owner = mfa_client(world.owner)
    assert owner.get(reverse("leaks:leak_create")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(reverse("leaks:leak_create"), _report_form(world, world.acme))
    created = LeakReport.objects.exclude(pk=world.report.pk).get()
    assert response["Location"] == created.get_absolute_url()
    assert created.source == LeakReport.Source.SELF_REPORT
    assert b"Waiting for the security team" in owner.get(created.get_absolute_url()).content
    assert any(m.to == [world.staff.email] for m in mailoutbox)


def test_another_organisation_cannot_file_for_acme(world, mfa_client):
    response = mfa_client(world.other).post(
        reverse("leaks:leak_create"), _report_form(world, world.acme)
    )
    assert response.status_code == 200
    assert LeakReport.objects.count() == 1


def test_the_report_form_is_closed_to_anonymous_and_to_people_without_an_organisation(
    world, client, mfa_client
):
    assert client.get(reverse("leaks:leak_create")).status_code == 302
    assert mfa_client(world.staff).get(reverse("leaks:leak_create")).status_code == 404


@pytest.mark.parametrize(
    "who,expected", [("anonymous", 302), ("owner", 200), ("other", 404), ("staff", 200)]
)
def test_the_retrospective_page_is_scoped(world, client, mfa_client, who, expected):
    leak_report_confirm(report=world.report, actor=world.staff, reason="Traced.")
    sanction = Sanction.objects.get()
    url = reverse("leaks:retrospective", kwargs={"pk": sanction.pk})
    assert _as(who, world, client, mfa_client).get(url).status_code == expected


def test_only_the_owner_admin_answers_the_retrospective(world, mfa_client):
    leak_report_confirm(report=world.report, actor=world.staff, reason="Traced.")
    sanction = Sanction.objects.get()
    url = reverse("leaks:retrospective", kwargs={"pk": sanction.pk})
    assert mfa_client(world.other).post(url, {"retrospective": "x"}).status_code == 404
    mfa_client(world.staff).post(url, {"retrospective": "x"})
    assert Sanction.objects.get().retrospective_at is None
    mfa_client(world.owner).post(url, {"retrospective": "We changed the process."})
    assert Sanction.objects.get().retrospective == "We changed the process."


# ---------------------------------------------------------------- who may open them

MEMBER_PAGES = ["list", "create", "detail", "retrospective"]


def _member_url(world, page) -> str:
    if page == "list":
        return reverse("leaks:leak_list")
    if page == "create":
        return reverse("leaks:leak_create")
    if page == "detail":
        return world.report.get_absolute_url()
    leak_report_confirm(report=world.report, actor=world.staff, reason="Traced.")
    return reverse("leaks:retrospective", kwargs={"pk": Sanction.objects.get().pk})


def _acme_person(world, *, need_to_know=True, mfa=True, policy=True, admin=True):
    """A person of Acme with every notice rule met except those switched off."""
    member = make_eligible(TeamMemberFactory(organization=world.acme, is_admin=admin))
    if not need_to_know:
        TeamMember.objects.filter(pk=member.pk).update(is_need_to_know=False)
    if not mfa:
        Authenticator.objects.filter(user=member.user).delete()
    if not policy:
        PolicyAcceptance.objects.filter(user=member.user).delete()
    return member.user


@pytest.mark.parametrize("page", MEMBER_PAGES)
@pytest.mark.parametrize(
    "lacking,label",
    [
        ("need_to_know", "Not marked as need-to-know."),
        ("policy", "The current embargo policy is not accepted."),
    ],
)
def test_a_person_who_may_not_receive_notices_is_told_what_is_missing_and_sees_no_report(
    world, mfa_client, page, lacking, label
):
    url = _member_url(world, page)
    person = _acme_person(world, **{lacking: False})
    before = (LeakReport.objects.count(), AuditEvent.objects.count())
    client = mfa_client(person)
    for response in (client.get(url), client.post(url, _report_form(world, world.acme))):
        assert response.status_code == 403
        body = response.content.decode()
        assert label in body
        assert world.acme.name in body
        assert "The patch." not in body and world.case.public_id not in body
        assert world.notice.vulnerability.title not in body
    assert (LeakReport.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize("page", MEMBER_PAGES)
def test_a_person_without_two_factor_is_sent_to_set_it_up(world, client, page):
    url = _member_url(world, page)
    person = _acme_person(world, mfa=False)
    client.force_login(person)
    before = LeakReport.objects.count()
    for response in (client.get(url), client.post(url, _report_form(world, world.acme))):
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")
    assert LeakReport.objects.count() == before


def test_a_password_alone_is_not_enough_to_read_a_report(world, client):
    client.force_login(world.owner)  # TOTP set up, but not used for this session
    response = client.get(world.report.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))


def test_a_person_whose_key_lapsed_still_reads_and_files_reports(
    world, mfa_client, django_capture_on_commit_callbacks
):
    # A key matters for an encrypted copy; it must never stop an urgent leak report.
    world.owner.pgp_keys.all().delete()
    owner = mfa_client(world.owner)
    assert owner.get(world.report.get_absolute_url()).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(reverse("leaks:leak_create"), _report_form(world, world.acme))
    assert response.status_code == 302
    assert LeakReport.objects.count() == 2


def test_a_suspended_organisation_still_reads_and_files_its_reports(world, mfa_client):
    Organization.objects.filter(pk=world.acme.pk).update(status=Organization.Status.SUSPENDED)
    owner = mfa_client(world.owner)
    assert owner.get(world.report.get_absolute_url()).status_code == 200
    assert owner.get(reverse("leaks:leak_create")).status_code == 200


def test_a_removed_organisations_people_no_longer_see_its_reports(world, mfa_client):
    Organization.objects.filter(pk=world.acme.pk).update(status=Organization.Status.REMOVED)
    owner = mfa_client(world.owner)
    assert owner.get(world.report.get_absolute_url()).status_code == 404
    listing = owner.get(reverse("leaks:leak_list"))
    assert world.report.get_absolute_url().encode() not in listing.content
    assert owner.get(reverse("leaks:leak_create")).status_code == 404


def test_another_organisations_report_stays_a_404_for_an_eligible_person(world, mfa_client):
    report = leak_report_file(
        actor=world.staff,
        organization=world.other_org,
        vulnerability=world.case,
        what_leaked="Other's patch.",
        leaked_to="x",
        how="y",
    )
    response = mfa_client(world.owner).get(report.get_absolute_url())
    assert response.status_code == 404
    assert b"Other's patch." not in response.content


def test_a_person_let_in_by_one_organisation_is_refused_the_other_ones_report(world, mfa_client):
    """Someone in two organisations, eligible in Other only: Acme's report is refused with
    the reason (it is their own organisation's), not shown."""
    person = make_eligible(TeamMemberFactory(organization=world.other_org)).user
    TeamMemberFactory(organization=world.acme, user=person, is_need_to_know=False)
    response = mfa_client(person).get(world.report.get_absolute_url())
    assert response.status_code == 403
    assert b"Not marked as need-to-know." in response.content
    assert b"The patch." not in response.content


# ---------------------------------------------------------------- tracing page


def test_the_trace_page_identifies_a_pasted_copy(world, mfa_client):
    row = Delivery.objects.filter(notice=world.notice, user=world.owner).get()
    text = notice_plaintext(delivery=row).replace(row.reference_code, "")
    for other in Delivery.objects.filter(notice=world.notice).exclude(pk=row.pk):
        notice_plaintext(delivery=other)
    response = mfa_client(world.staff).post(
        reverse("leaks:staff_trace", kwargs={"pk": world.case.pk}), {"text": text}
    )
    assert response.status_code == 200
    assert response.context["result"].identified.delivery.pk == row.pk
    assert b"identified" in response.content


def test_the_staff_dashboard_lists_open_reports_in_few_queries(
    world, mfa_client, django_assert_max_num_queries
):
    for _ in range(5):
        leak_report_file(
            actor=world.staff,
            organization=world.other_org,
            vulnerability=world.case,
            what_leaked="x",
            leaked_to="y",
            how="z",
        )
    staff = mfa_client(world.staff)
    with django_assert_max_num_queries(12):
        response = staff.get(reverse("leaks:staff_leak_dashboard"))
    assert response.content.count(b"Urgent") == 6


def _copy_of(world, user) -> tuple[Delivery, str]:
    """A recipient's copy as a leaker pastes it (the reference code taken out), with
    every other copy of the notice rendered too, so each has its recorded wording."""
    row = Delivery.objects.filter(notice=world.notice, user=user).get()
    for other in Delivery.objects.filter(notice=world.notice).exclude(pk=row.pk):
        notice_plaintext(delivery=other)
    return row, notice_plaintext(delivery=row).replace(row.reference_code, "")


def test_a_members_pasted_copy_is_kept_for_the_security_team_only(world, mfa_client):
    owner = mfa_client(world.owner)
    owner.post(
        reverse("leaks:leak_create"),
        {**_report_form(world, world.acme), "evidence_text": "Our walrus copy, pasted"},
    )
    created = LeakReport.objects.exclude(pk=world.report.pk).get()
    assert created.evidence_text == "Our walrus copy, pasted"
    assert b"Our walrus copy, pasted" not in owner.get(created.get_absolute_url()).content
    staff_page = mfa_client(world.staff).get(created.get_staff_url()).content.decode()
    # Shown once as the pasted copy and once more, ready to trace.
    assert staff_page.count("Our walrus copy, pasted") == 2


def test_a_trace_from_a_report_offers_to_confirm_it_with_the_identified_copy(world, mfa_client):
    row, text = _copy_of(world, world.owner)
    staff = mfa_client(world.staff)
    response = staff.post(
        reverse("leaks:staff_trace", kwargs={"pk": world.case.pk}),
        {"text": text, "leak": world.report.pk},
    )
    assert response.context["result"].identified.delivery.pk == row.pk
    body = response.content.decode()
    assert f'name="reference_code" value="{row.reference_code}"' in body
    assert reverse("leaks:staff_leak_confirm", kwargs={"pk": world.report.pk}) in body
    staff.post(
        reverse("leaks:staff_leak_confirm", kwargs={"pk": world.report.pk}),
        {"reason": "Traced.", "reference_code": row.reference_code},
    )
    world.report.refresh_from_db()
    assert world.report.state == LeakReport.State.CONFIRMED
    assert world.report.delivery_id == row.pk


def test_a_trace_of_another_organisations_copy_does_not_offer_to_confirm_the_report(
    world, mfa_client
):
    row, text = _copy_of(world, world.other)
    response = mfa_client(world.staff).post(
        reverse("leaks:staff_trace", kwargs={"pk": world.case.pk}),
        {"text": text, "leak": world.report.pk},
    )
    assert response.context["result"].identified.delivery.pk == row.pk
    assert response.context["confirm_form"] is None
    assert "cannot confirm report" in response.content.decode()
    world.report.refresh_from_db()
    assert world.report.is_open


def test_a_trace_ignores_a_report_of_another_case(world, mfa_client):
    _row, text = _copy_of(world, world.owner)
    other_case = case_ready(actor=world.staff)
    response = mfa_client(world.staff).post(
        reverse("leaks:staff_trace", kwargs={"pk": other_case.pk}),
        {"text": text, "leak": world.report.pk},
    )
    assert response.status_code == 200
    assert response.context["leak"] is None and response.context["confirm_form"] is None
