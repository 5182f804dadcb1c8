"""The security team's notice pages: compose, preview (who gets it, who does not and why),
send, and the status of every copy."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from embargo.models import Delivery, Notice, Vulnerability
from tests.embargo.views_world import CANARY_BODY, CANARY_SUBJECT, world_build
from tests.factories import (
    DeliveryFactory,
    MemberOrganizationFactory,
    NoticeFactory,
    OrganizationFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db


def notice_pages(notice) -> list[tuple[str, str]]:
    pk = {"pk": notice.pk}
    return [
        ("get", reverse("embargo:notice_create", kwargs={"pk": notice.vulnerability_id})),
        ("get", reverse("embargo:notice_detail", kwargs=pk)),
        ("get", reverse("embargo:notice_edit", kwargs=pk)),
        ("get", reverse("embargo:notice_preview", kwargs=pk)),
        ("post", reverse("embargo:notice_send", kwargs=pk)),
        ("post", reverse("embargo:notice_edit", kwargs=pk)),
    ]


def state_of(notice) -> tuple:
    notice.refresh_from_db()
    return (
        notice.state,
        notice.subject,
        notice.body,
        Notice.objects.count(),
        Delivery.objects.count(),
        AuditEvent.objects.count(),
    )


def notice_post(**overrides) -> dict:
    data = {
        "outer_subject": "Embargoed notice from the security team",
        "subject": "Patch for the tar unpacker",
        "body": "Apply **this** patch.",
        "audience_all": "1",
    }
    data.update(overrides)
    return data


# --- Who may open what ----------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    world = world_build()
    draft = NoticeFactory(vulnerability=world.case)
    before = state_of(draft)
    for method, url in notice_pages(draft):
        response = getattr(client, method)(url, notice_post())
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url
    assert state_of(draft) == before


@pytest.mark.parametrize("who", ["owner", "other"])
def test_recipients_get_404_and_never_see_the_notice(who, mfa_client):
    world = world_build()
    draft = NoticeFactory(vulnerability=world.case, body=CANARY_BODY)
    before = state_of(draft)
    http = mfa_client(world.owner if who == "owner" else world.other)
    for notice in (draft, world.notice):
        for method, url in notice_pages(notice):
            response = getattr(http, method)(url, notice_post())
            assert response.status_code == 404, url
            text = response.content.decode()
            assert CANARY_BODY not in text
            assert CANARY_SUBJECT not in text
    assert state_of(draft) == before


def test_staff_open_every_notice_page(mfa_client, staff_reviewer):
    world = world_build()
    draft = NoticeFactory(vulnerability=world.case)
    http = mfa_client(staff_reviewer)
    for method, url in notice_pages(draft):
        if method == "get":
            assert http.get(url).status_code == 200, url
    detail = http.get(reverse("embargo:notice_detail", kwargs={"pk": world.notice.pk}))
    assert CANARY_BODY in detail.content.decode()


# --- Composing ------------------------------------------------------------------------


def test_writing_a_notice_saves_a_draft_and_opens_the_preview(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:notice_create", kwargs={"pk": case.pk}), notice_post()
    )
    notice = Notice.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("embargo:notice_preview", kwargs={"pk": notice.pk})
    assert notice.state == Notice.State.DRAFT
    assert notice.audience_all is True
    assert notice.author == staff_reviewer
    assert Delivery.objects.count() == 0


def test_an_outer_subject_that_names_the_issue_is_refused(mfa_client, staff_reviewer):
    case = VulnerabilityFactory(title="Tarball heap overflow")
    events = AuditEvent.objects.count()
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:notice_create", kwargs={"pk": case.pk}),
        notice_post(outer_subject="About the Tarball heap overflow"),
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "sent in clear" in content
    assert "a copy of the field (the case title)" in content
    assert Notice.objects.count() == 0
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"audience_all": "0"}, "Choose at least one organisation"),
        ({"audience_all": "maybe"}, "Select a valid choice"),
        ({"organizations": ["999999"], "audience_all": "0"}, "Select a valid choice"),
        ({"body": ""}, "This field is required"),
        ({"subject": "x" * 201}, "at most 200 characters"),
    ],
)
def test_bad_notice_input_is_shown_and_saves_nothing(
    overrides, message, mfa_client, staff_reviewer
):
    case = VulnerabilityFactory()
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:notice_create", kwargs={"pk": case.pk}), notice_post(**overrides)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Notice.objects.count() == 0


def test_a_notice_to_chosen_organisations_keeps_the_choice(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    chosen = MemberOrganizationFactory()
    MemberOrganizationFactory()
    mfa_client(staff_reviewer).post(
        reverse("embargo:notice_create", kwargs={"pk": case.pk}),
        notice_post(audience_all="0", organizations=[str(chosen.pk)]),
    )
    notice = Notice.objects.get()
    assert notice.audience_all is False
    assert list(notice.organizations.all()) == [chosen]


def test_a_closed_case_gets_no_new_notice(mfa_client, staff_reviewer):
    case = VulnerabilityFactory(state=Vulnerability.State.DISCLOSED)
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:notice_create", kwargs={"pk": case.pk}), notice_post(), follow=True
    )
    assert "only be written for an open case" in response.content.decode()
    assert Notice.objects.count() == 0


def test_a_draft_can_be_edited(mfa_client, staff_reviewer):
    draft = NoticeFactory()
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:notice_edit", kwargs={"pk": draft.pk}),
        notice_post(subject="Corrected subject"),
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.subject == "Corrected subject"


def test_a_sent_notice_cannot_be_edited(mfa_client, staff_reviewer):
    world = world_build()
    before = state_of(world.notice)
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:notice_edit", kwargs={"pk": world.notice.pk}),
        notice_post(subject="Sneaky change"),
        follow=True,
    )
    assert "write an update to it instead" in response.content.decode()
    assert state_of(world.notice) == before


def test_an_update_to_a_sent_notice_is_a_new_notice_referring_to_it(mfa_client, staff_reviewer):
    world = world_build()
    http = mfa_client(staff_reviewer)
    url = reverse("embargo:notice_create", kwargs={"pk": world.case.pk})
    page = http.get(url, {"revises": world.notice.pk}).content.decode()
    assert f"Update: {world.notice.subject}" in page
    assert f'name="revises" value="{world.notice.pk}"' in page
    response = http.post(url, notice_post(revises=str(world.notice.pk)))
    assert response.status_code == 302
    update = Notice.objects.exclude(pk=world.notice.pk).get()
    assert update.revises == world.notice
    world.notice.refresh_from_db()
    assert world.notice.body == CANARY_BODY  # what people received never changes


@pytest.mark.parametrize("revises", ["draft", "other_case", "junk"])
def test_an_update_must_refer_to_a_sent_notice_of_the_same_case(
    revises, mfa_client, staff_reviewer
):
    world = world_build()
    target = {
        "draft": lambda: str(NoticeFactory(vulnerability=world.case).pk),
        "other_case": lambda: str(NoticeFactory(state=Notice.State.SENT).pk),
        "junk": lambda: "1;drop",
    }[revises]()
    count = Notice.objects.count()
    url = reverse("embargo:notice_create", kwargs={"pk": world.case.pk})
    response = mfa_client(staff_reviewer).post(url, notice_post(revises=target))
    assert response.status_code == 404
    assert Notice.objects.count() == count


# --- The preview ----------------------------------------------------------------------


def test_the_preview_renders_the_body_and_lists_withheld_people_with_reasons(
    mfa_client, staff_reviewer
):
    case = VulnerabilityFactory()
    draft = NoticeFactory(vulnerability=case, body="Apply **the** patch.\n\n<script>x()</script>")
    organization = MemberOrganizationFactory(name="Acme Linux")
    ready = make_eligible(TeamMemberFactory(organization=organization))
    not_need_to_know = TeamMemberFactory(organization=organization, is_need_to_know=False)
    bare = TeamMemberFactory(organization=organization, is_need_to_know=True)
    suspended = make_eligible(
        TeamMemberFactory(organization=MemberOrganizationFactory(name="Paused Distro"))
    )
    suspended.organization.status = "suspended"
    suspended.organization.save(update_fields=["status"])
    expiring = make_eligible(TeamMemberFactory(organization=organization))
    expiring.user.pgp_keys.update(expires_at=case.disclosure_at - timedelta(days=1))
    OrganizationFactory()  # an applicant: never in the audience

    response = mfa_client(staff_reviewer).get(
        reverse("embargo:notice_preview", kwargs={"pk": draft.pk})
    )
    assert response.status_code == 200
    text = response.content.decode()
    # The copy as recipients read it: the Markdown source, escaped, never run.
    assert "Apply **the** patch." in text
    assert "<script>x()" not in text and "&lt;script&gt;x()&lt;/script&gt;" in text
    assert "Recipients (1)" in text
    assert "Withheld (4)" in text
    withheld_part = text[text.index("Withheld (4)") :]
    recipients_part = text[text.index("Recipients (1)") : text.index("Withheld (4)")]
    assert ready.user.email in recipients_part
    for member in (not_need_to_know, bare, suspended, expiring):
        assert member.user.email in withheld_part
    for words in (
        "Not marked as need-to-know.",
        "Two-factor authentication is not set up.",
        "The current embargo policy is not accepted.",
        "No verified PGP key.",
        "The organisation is suspended.",
        "The PGP key expires before the disclosure date.",
    ):
        assert words in withheld_part, words
    assert "Send to 1 recipient" in text


def test_the_preview_of_chosen_organisations_lists_only_their_people(mfa_client, staff_reviewer):
    chosen = MemberOrganizationFactory()
    left_out = make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory()))
    inside = make_eligible(TeamMemberFactory(organization=chosen))
    draft = NoticeFactory(audience_all=False)
    draft.organizations.set([chosen])
    text = (
        mfa_client(staff_reviewer)
        .get(reverse("embargo:notice_preview", kwargs={"pk": draft.pk}))
        .content.decode()
    )
    assert inside.user.email in text
    assert left_out.user.email not in text


def test_the_preview_without_a_disclosure_date_asks_for_one_and_offers_no_send(
    mfa_client, staff_reviewer
):
    draft = NoticeFactory(vulnerability=VulnerabilityFactory(disclosure_at=None))
    make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory()))
    text = (
        mfa_client(staff_reviewer)
        .get(reverse("embargo:notice_preview", kwargs={"pk": draft.pk}))
        .content.decode()
    )
    assert "Set a disclosure time on the case first" in text
    assert reverse("embargo:notice_send", kwargs={"pk": draft.pk}) not in text


def test_the_preview_query_count_does_not_grow_with_the_audience(
    mfa_client, staff_reviewer, django_assert_max_num_queries
):
    draft = NoticeFactory()
    organization = MemberOrganizationFactory()
    for _ in range(3):
        make_eligible(TeamMemberFactory(organization=organization))
    http = mfa_client(staff_reviewer)
    url = reverse("embargo:notice_preview", kwargs={"pk": draft.pk})
    with django_assert_max_num_queries(30) as few:
        http.get(url)
    for _ in range(20):
        make_eligible(TeamMemberFactory(organization=organization))
        TeamMemberFactory(organization=organization)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = http.get(url)
    assert "Recipients (23)" in response.content.decode()


# --- Sending --------------------------------------------------------------------------


def test_sending_creates_a_copy_per_person_and_withholds_the_ineligible(mfa_client, staff_reviewer):
    case = VulnerabilityFactory(state=Vulnerability.State.FIXING)
    draft = NoticeFactory(vulnerability=case)
    organization = MemberOrganizationFactory()
    ready = make_eligible(TeamMemberFactory(organization=organization))
    no_key = TeamMemberFactory(organization=organization, is_need_to_know=True)
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:notice_send", kwargs={"pk": draft.pk})
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("embargo:notice_detail", kwargs={"pk": draft.pk})
    draft.refresh_from_db()
    case.refresh_from_db()
    assert draft.state == Notice.State.SENDING
    assert case.state == Vulnerability.State.NOTIFIED
    assert Delivery.objects.get(user=ready.user).state == Delivery.State.PENDING
    withheld = Delivery.objects.get(user=no_key.user)
    assert withheld.state == Delivery.State.WITHHELD
    assert "no_verified_key" in withheld.reasons


def test_sending_with_nobody_eligible_is_refused_and_changes_nothing(mfa_client, staff_reviewer):
    draft = NoticeFactory()
    TeamMemberFactory(organization=MemberOrganizationFactory(), is_need_to_know=True)
    before = state_of(draft)
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:notice_send", kwargs={"pk": draft.pk}), follow=True
    )
    assert "Nobody in this audience can receive the notice yet" in response.content.decode()
    assert state_of(draft) == before


def test_sending_twice_is_refused(mfa_client, staff_reviewer):
    world = world_build()
    before = state_of(world.notice)
    response = mfa_client(staff_reviewer).post(
        reverse("embargo:notice_send", kwargs={"pk": world.notice.pk}), follow=True
    )
    assert "already been sent" in response.content.decode()
    assert state_of(world.notice) == before


def test_sending_is_post_only(mfa_client, staff_reviewer):
    draft = NoticeFactory()
    make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory()))
    response = mfa_client(staff_reviewer).get(
        reverse("embargo:notice_send", kwargs={"pk": draft.pk})
    )
    assert response.status_code == 405
    draft.refresh_from_db()
    assert draft.state == Notice.State.DRAFT


# --- After sending: status per organisation and person ---------------------------------------


def test_the_detail_shows_every_status_with_its_reason(mfa_client, staff_reviewer):
    notice = NoticeFactory(state=Notice.State.SENDING)
    organization = MemberOrganizationFactory(name="Acme Linux")

    def copy(**kwargs):
        return DeliveryFactory(notice=notice, member__organization=organization, **kwargs)

    sent = copy()
    acknowledged = copy(acknowledged_at=timezone.now())
    failed = copy(state=Delivery.State.FAILED, failure_reason="The mail server refused it.")
    withheld = copy(state=Delivery.State.WITHHELD, reasons=["no_mfa", "no_verified_key"])
    cancelled = copy(state=Delivery.State.CANCELLED, reasons=["key_changed"])
    text = (
        mfa_client(staff_reviewer)
        .get(reverse("embargo:notice_detail", kwargs={"pk": notice.pk}))
        .content.decode()
    )
    for delivery in (sent, acknowledged, failed, withheld, cancelled):
        assert delivery.email in text
        assert delivery.reference_code in text
    assert "Acme Linux" in text
    assert "Sent, acknowledged" in text
    assert "The mail server refused it." in text
    assert "Two-factor authentication is not set up." in text
    assert "No verified PGP key." in text
    assert "verified key changed after the notice was sent" in text
    for status in ("Failed", "Withheld", "Cancelled"):
        assert f">{status}<" in text


def test_the_detail_query_count_is_flat_from_5_to_50_copies(
    mfa_client, staff_reviewer, django_assert_max_num_queries
):
    notice = NoticeFactory(state=Notice.State.SENDING)
    organizations = [MemberOrganizationFactory() for _ in range(3)]
    for n in range(5):
        DeliveryFactory(notice=notice, member__organization=organizations[n % 3])
    http = mfa_client(staff_reviewer)
    url = reverse("embargo:notice_detail", kwargs={"pk": notice.pk})
    with django_assert_max_num_queries(25) as five:
        http.get(url)
    for n in range(45):
        state = [Delivery.State.SENT, Delivery.State.FAILED, Delivery.State.WITHHELD][n % 3]
        DeliveryFactory(notice=notice, member__organization=organizations[n % 3], state=state)
    with django_assert_max_num_queries(len(five.captured_queries)):
        response = http.get(url)
    assert response.content.decode().count("<code>REF") == 50


def test_a_sent_notice_offers_an_update_and_a_draft_offers_the_preview(mfa_client, staff_reviewer):
    world = world_build()
    draft = NoticeFactory(vulnerability=world.case)
    http = mfa_client(staff_reviewer)
    sent_page = http.get(reverse("embargo:notice_detail", kwargs={"pk": world.notice.pk}))
    assert f"?revises={world.notice.pk}" in sent_page.content.decode()
    draft_page = http.get(reverse("embargo:notice_detail", kwargs={"pk": draft.pk}))
    assert reverse("embargo:notice_preview", kwargs={"pk": draft.pk}) in draft_page.content.decode()


def test_staff_see_uncertain_copies_and_workers_that_cannot_encrypt(mfa_client, staff_reviewer):
    from embargo.delivery.health import gpg_fault_report

    world = world_build()
    rows = list(Delivery.objects.filter(notice=world.notice).order_by("pk"))
    Delivery.objects.filter(pk=rows[0].pk).update(state=Delivery.State.UNCERTAIN)
    Delivery.objects.filter(pk=rows[1].pk).update(state=Delivery.State.PENDING)
    gpg_fault_report(reason="gpg is not installed")
    page = mfa_client(staff_reviewer).get(
        reverse("embargo:notice_detail", kwargs={"pk": world.notice.pk})
    )
    text = page.content.decode()
    assert page.status_code == 200
    assert '1 copy is "uncertain"' in text
    assert "cannot encrypt right now" in text and "gpg is not installed" in text


# --- Progress while a notice goes out ---------------------------------------------------


def _notice_page(http, notice):
    return http.get(reverse("embargo:notice_detail", kwargs={"pk": notice.pk}))


def test_the_notice_page_updates_itself_while_copies_are_pending_or_sending(
    mfa_client, staff_reviewer
):
    notice = NoticeFactory(state=Notice.State.SENDING)
    organization = MemberOrganizationFactory()
    for state in (Delivery.State.PENDING, Delivery.State.SENDING, Delivery.State.SENT):
        DeliveryFactory(notice=notice, member__organization=organization, state=state)
    DeliveryFactory(notice=notice, member__organization=organization, state=Delivery.State.FAILED)
    text = _notice_page(mfa_client(staff_reviewer), notice).content.decode()
    head = text[: text.index("</head>")]
    # In place, by an own-origin script: a meta refresh would reload the whole page.
    assert 'http-equiv="refresh"' not in text
    assert re.search(r'<script src="/static/js/notice-progress[.\w]*js" defer></script>', head)
    assert 'data-refresh-seconds="5"' in text
    assert "2 of 4 copies still going out" in text
    assert "(1 queued, 1 being sent)" in text
    assert '<progress max="4" value="2"' in text


def test_the_counts_name_each_status_as_the_filter_and_the_copies_do(mfa_client, staff_reviewer):
    notice = NoticeFactory(state=Notice.State.SENDING)
    organization = MemberOrganizationFactory()
    DeliveryFactory(notice=notice, member__organization=organization, state=Delivery.State.PENDING)
    text = _notice_page(mfa_client(staff_reviewer), notice).content.decode()
    counts = text.split("<caption>Copies by status", 1)[1]
    heads = re.findall(r"<th scope=\"col\">([^<]+)</th>", counts)[:8]
    assert heads == [
        "Acknowledged",
        "Sent, not acknowledged yet",
        "Queued",
        "Sending",
        "Failed",
        "Delivery uncertain",
        "Withheld",
        "Cancelled",
    ]
    assert '<span class="badge pending">Queued</span>' in text


def test_the_notice_page_stops_reloading_once_every_copy_is_settled(mfa_client, staff_reviewer):
    notice = NoticeFactory(state=Notice.State.SENDING)
    organization = MemberOrganizationFactory()
    for state in (Delivery.State.SENT, Delivery.State.FAILED, Delivery.State.WITHHELD):
        DeliveryFactory(notice=notice, member__organization=organization, state=state)
    text = _notice_page(mfa_client(staff_reviewer), notice).content.decode()
    assert "notice-progress" not in text and "data-refresh-seconds" not in text
    assert "Every copy is settled: 3 copies in all." in text


def test_a_draft_notice_page_does_not_reload(mfa_client, staff_reviewer):
    draft = NoticeFactory()
    text = _notice_page(mfa_client(staff_reviewer), draft).content.decode()
    assert "notice-progress" not in text and "data-refresh-seconds" not in text
