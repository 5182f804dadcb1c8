"""The negotiation pages (issue 17): the security team's page under /staff/ and the
members' page under /notices/dates/. Anonymous people are sent to sign in, outsiders get
404 or see nothing, bad input is a clear message that changes nothing, and the pages cost
the same queries however many proposals or cases there are."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from embargo.models import DisclosureProposal, ProposalAnswer, Vulnerability
from embargo.services import disclosure_proposal_make
from embargo.views import negotiation
from tests.conftest import sign_in_with_mfa
from tests.embargo.views_world import CANARY_TITLE, assert_no_canary
from tests.factories import (
    DeliveryFactory,
    DisclosureProposalFactory,
    MemberOrganizationFactory,
    NoticeFactory,
    TeamMemberFactory,
    VulnerabilityFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db

Party = DisclosureProposal.Party
MEMBER_PAGE = reverse("embargo:member_negotiations")
MEMBER_ANSWER = reverse("embargo:member_proposal_answer")
MEMBER_PROPOSE = reverse("embargo:member_proposal_make")


def when(**kwargs) -> str:
    return (timezone.now() + timedelta(**kwargs)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def told_case(member, **extra) -> Vulnerability:
    case = VulnerabilityFactory(
        title=CANARY_TITLE, state=Vulnerability.State.NOTIFIED, reporter_email="r@example.net"
    )
    notice = NoticeFactory(
        vulnerability=case, state="sent", send_started_at=timezone.now() - timedelta(days=1)
    )
    DeliveryFactory(notice=notice, member=member)
    return case


@pytest.fixture
def world():
    owner = make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory()))
    other = make_eligible(TeamMemberFactory(organization=MemberOrganizationFactory()))
    case = told_case(owner)
    proposal = DisclosureProposalFactory(vulnerability=case, reason="Release on Tuesday.")
    return type("World", (), {"owner": owner, "other": other, "case": case, "proposal": proposal})


def staff_urls(case) -> dict[str, str]:
    return {
        name: reverse(f"embargo:{name}", args=[case.pk])
        for name in (
            "case_negotiation",
            "case_proposal_make",
            "case_proposal_answer",
            "case_disclosure_date_set",
        )
    }


def snapshot() -> tuple:
    return (
        DisclosureProposal.objects.count(),
        ProposalAnswer.objects.count(),
        AuditEvent.objects.count(),
        list(Vulnerability.objects.values_list("disclosure_at", flat=True).order_by("pk")),
    )


def answer_post(proposal, organization, **fields) -> dict:
    prefix = f"p{proposal.pk}"
    data = {"proposal": proposal.pk, "organization": organization.pk}
    data.update({f"{prefix}-{name}": value for name, value in fields.items()})
    return data


def propose_post(case, organization, **fields) -> dict:
    prefix = f"c{case.pk}o{organization.pk}"
    data = {"case": case.pk, "organization": organization.pk}
    data.update({f"{prefix}-{name}": value for name, value in fields.items()})
    return data


# ---------------------------------------------------------------- the staff page


def test_anonymous_visitors_are_sent_to_sign_in_from_every_page(client, world):
    before = snapshot()
    for url in [*staff_urls(world.case).values(), MEMBER_PAGE, MEMBER_ANSWER, MEMBER_PROPOSE]:
        for response in (client.get(url), client.post(url, {"proposal": world.proposal.pk})):
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("account_login"))
    assert snapshot() == before


@pytest.mark.parametrize("who", ["owner", "other"])
def test_distributors_get_404_on_the_staff_pages(who, world, mfa_client):
    http = mfa_client(getattr(world, who).user)
    before = snapshot()
    for url in staff_urls(world.case).values():
        assert http.get(url).status_code in (404, 405)
        response = http.post(url, {"proposal": world.proposal.pk})
        assert response.status_code == 404
        assert CANARY_TITLE not in response.content.decode()
    assert snapshot() == before


def test_staff_see_proposals_answers_suggestion_and_history(world, mfa_client, staff_reviewer):
    disclosure_proposal_make(
        vulnerability=world.case,
        by_kind=Party.MEMBER,
        user=world.owner.user,
        organization=world.owner.organization,
        proposed_at=timezone.now() + timedelta(days=2),
        reason="We need it out before our freeze.",
        reply_by=timezone.now() + timedelta(days=1),
    )
    response = mfa_client(staff_reviewer).get(staff_urls(world.case)["case_negotiation"])
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    assert "Suggested date" in text and "business days after the report" in text
    assert "Release on Tuesday." in text and "We need it out before our freeze." in text
    assert world.owner.organization.name in text
    assert "days&#x27; notice" in text  # two days out: a warning, not a block
    assert "proposed" in text and "for " + world.owner.organization.name in text  # history
    assert "<script" not in text.split("<main", 1)[-1]


def test_the_case_page_links_to_the_negotiation(world, mfa_client, staff_reviewer):
    text = mfa_client(staff_reviewer).get(reverse("embargo:case_detail", args=[world.case.pk]))
    assert staff_urls(world.case)["case_negotiation"] in text.content.decode()


def test_staff_make_a_team_proposal(world, mfa_client, staff_reviewer):
    response = mfa_client(staff_reviewer).post(
        staff_urls(world.case)["case_proposal_make"],
        {"proposed_at": when(days=12), "reply_by": when(days=3), "reason": "Fix is ready."},
    )
    assert response.status_code == 302
    made = DisclosureProposal.objects.latest("pk")
    assert (made.proposed_by, made.proposed_by_user, made.reason) == (
        "team",
        staff_reviewer,
        "Fix is ready.",
    )


@pytest.mark.parametrize(
    "post, message",
    [
        ({"proposed_at": when(days=-2), "reply_by": when(days=1), "reason": "x"}, "in the past"),
        ({"proposed_at": when(days=9), "reply_by": when(days=10), "reason": "x"}, "not be after"),
        ({"proposed_at": when(days=9), "reply_by": when(days=1), "reason": ""}, "required"),
        ({"proposed_at": "tomorrow", "reply_by": when(days=1), "reason": "x"}, "Enter a valid"),
    ],
)
def test_a_bad_team_proposal_is_a_clear_message_and_changes_nothing(
    world, mfa_client, staff_reviewer, post, message
):
    before = snapshot()
    response = mfa_client(staff_reviewer).post(staff_urls(world.case)["case_proposal_make"], post)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_staff_answer_a_member_proposal_for_the_team(world, mfa_client, staff_reviewer):
    proposal = DisclosureProposalFactory(
        vulnerability=world.case,
        proposed_by="member",
        proposed_by_user=world.owner.user,
        proposed_by_organization=world.owner.organization,
    )
    response = mfa_client(staff_reviewer).post(
        staff_urls(world.case)["case_proposal_answer"],
        {"proposal": proposal.pk, f"p{proposal.pk}-answer": "object", f"p{proposal.pk}-reason": ""},
    )
    assert response.status_code == 400
    assert "Say why you object" in response.content.decode()
    assert not ProposalAnswer.objects.exists()


def test_an_answer_to_another_cases_proposal_is_404(world, mfa_client, staff_reviewer):
    stranger = DisclosureProposalFactory()
    for value in (stranger.pk, "x", ""):
        response = mfa_client(staff_reviewer).post(
            staff_urls(world.case)["case_proposal_answer"], {"proposal": value}
        )
        assert response.status_code == 404


def test_staff_set_the_date_by_choosing_a_proposal(world, mfa_client, staff_reviewer):
    response = mfa_client(staff_reviewer).post(
        staff_urls(world.case)["case_disclosure_date_set"],
        {"proposal": world.proposal.pk, "note": ""},
        follow=True,
    )
    assert response.status_code == 200
    world.proposal.refresh_from_db()
    world.case.refresh_from_db()
    assert world.proposal.state == "chosen"
    assert world.case.disclosure_at == world.proposal.disclosure_at
    assert "The disclosure date is set" in response.content.decode()


def test_staff_set_their_own_date_and_see_its_warnings(world, mfa_client, staff_reviewer):
    response = mfa_client(staff_reviewer).post(
        staff_urls(world.case)["case_disclosure_date_set"],
        {"proposal": "", "disclosure_at": when(days=3)},
        follow=True,
    )
    world.case.refresh_from_db()
    world.proposal.refresh_from_db()
    assert world.proposal.state == "superseded"
    assert world.case.disclosure_at.strftime("%Y-%m-%dT%H:%M") == when(days=3)
    assert "days&#x27; notice" in response.content.decode()


@pytest.mark.parametrize(
    "post, message",
    [
        ({"proposal": "", "disclosure_at": ""}, "Choose a proposal or give"),
        ({"proposal": "987654", "disclosure_at": ""}, "Select a valid choice"),
        ({"proposal": "PROPOSAL", "disclosure_at": when(days=3)}, "not both"),
        ({"proposal": "", "disclosure_at": when(days=-3)}, "must be in the future"),
    ],
)
def test_a_bad_decision_is_a_clear_message_and_changes_nothing(
    world, mfa_client, staff_reviewer, post, message
):
    before = snapshot()
    if post["proposal"] == "PROPOSAL":
        post = {**post, "proposal": str(world.proposal.pk)}
    response = mfa_client(staff_reviewer).post(
        staff_urls(world.case)["case_disclosure_date_set"], post
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_the_staff_page_costs_the_same_queries_with_more_proposals(
    world, mfa_client, staff_reviewer, django_assert_max_num_queries
):
    http = mfa_client(staff_reviewer)
    url = staff_urls(world.case)["case_negotiation"]
    http.get(url)
    with django_assert_max_num_queries(30) as one:
        assert http.get(url).status_code == 200
    for _ in range(6):
        DisclosureProposalFactory(vulnerability=world.case)
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert http.get(url).status_code == 200


# ---------------------------------------------------------------- the members' page


def test_the_member_pages_need_a_second_factor(world, client):
    client.force_login(world.owner.user)  # a password alone: no MFA in this session
    response = client.get(MEMBER_PAGE)
    assert response["Location"].startswith(reverse("mfa_reauthenticate"))
    assert negotiation.member_negotiations_view.haulout_mfa_required
    assert negotiation.member_proposal_answer_view.haulout_mfa_required
    assert negotiation.member_proposal_make_view.haulout_mfa_required


def test_a_member_sees_the_open_proposals_and_nothing_embargoed(world, mfa_client):
    response = mfa_client(world.owner.user).get(MEMBER_PAGE)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = response.content.decode()
    assert world.case.public_id in text and "Release on Tuesday." in text
    assert_no_canary(response)
    assert world.other.organization.name not in text


def test_another_organisation_sees_no_case_and_cannot_answer_or_propose(world, mfa_client):
    http = mfa_client(world.other.user)
    text = http.get(MEMBER_PAGE).content.decode()
    assert world.case.public_id not in text and "Release on Tuesday." not in text
    before = snapshot()
    for org in (world.other.organization, world.owner.organization):
        response = http.post(
            MEMBER_ANSWER, answer_post(world.proposal, org, answer="accept", reason="")
        )
        assert response.status_code == 404
        response = http.post(
            MEMBER_PROPOSE,
            propose_post(
                world.case, org, proposed_at=when(days=9), reply_by=when(days=2), reason="x"
            ),
        )
        assert response.status_code == 404
    assert snapshot() == before


def test_a_person_who_is_not_need_to_know_sees_nothing(world, client):
    bystander = TeamMemberFactory(organization=world.owner.organization, is_need_to_know=False)
    http = sign_in_with_mfa(client, bystander.user)
    response = http.get(MEMBER_PAGE)
    assert response.status_code == 200
    assert world.case.public_id not in response.content.decode()
    data = answer_post(world.proposal, world.owner.organization, answer="accept")
    assert http.post(MEMBER_ANSWER, data).status_code == 404


def test_a_member_accepts_for_their_organisation(world, mfa_client):
    http = mfa_client(world.owner.user)
    response = http.post(
        MEMBER_ANSWER, answer_post(world.proposal, world.owner.organization, answer="accept")
    )
    assert response.status_code == 302
    answer = ProposalAnswer.objects.get()
    assert (answer.organization, answer.user, answer.answer) == (
        world.owner.organization,
        world.owner.user,
        "accept",
    )
    text = http.get(MEMBER_PAGE).content.decode()
    assert "Your organisation&#x27;s answer" in text


def test_a_member_counter_proposes(world, mfa_client):
    response = mfa_client(world.owner.user).post(
        MEMBER_ANSWER,
        answer_post(
            world.proposal,
            world.owner.organization,
            answer="counter",
            reason="Our freeze ends later.",
            counter_at=when(days=14),
            counter_reply_by=when(days=4),
        ),
    )
    assert response.status_code == 302
    counter = DisclosureProposal.objects.get(counter_to=world.proposal)
    assert (counter.proposed_by, counter.proposed_by_organization) == (
        "member",
        world.owner.organization,
    )


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"answer": "object", "reason": ""}, "Say why you object"),
        ({"answer": "maybe"}, "Select a valid choice"),
        ({"answer": "counter", "reason": "x", "counter_at": when(days=-1)}, "in the past"),
    ],
)
def test_a_bad_answer_is_a_clear_message_and_changes_nothing(world, mfa_client, fields, message):
    before = snapshot()
    response = mfa_client(world.owner.user).post(
        MEMBER_ANSWER, answer_post(world.proposal, world.owner.organization, **fields)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot() == before


def test_a_reply_after_the_reply_by_time_is_refused_on_the_page(world, mfa_client):
    DisclosureProposal.objects.filter(pk=world.proposal.pk).update(
        reply_by=timezone.now() - timedelta(minutes=1)
    )
    before = snapshot()
    http = mfa_client(world.owner.user)
    assert "The reply-by time has passed" in http.get(MEMBER_PAGE).content.decode()
    response = http.post(
        MEMBER_ANSWER, answer_post(world.proposal, world.owner.organization, answer="accept")
    )
    assert response.status_code == 400
    assert "reply-by time of this proposal has passed" in response.content.decode()
    assert snapshot() == before


def test_a_member_proposes_a_date_and_bad_input_changes_nothing(world, mfa_client):
    http = mfa_client(world.owner.user)
    before = snapshot()
    bad = propose_post(
        world.case,
        world.owner.organization,
        proposed_at=when(days=-1),
        reply_by=when(days=1),
        reason="x",
    )
    response = http.post(MEMBER_PROPOSE, bad)
    assert response.status_code == 400 and "in the past" in response.content.decode()
    assert snapshot() == before
    good = propose_post(
        world.case,
        world.owner.organization,
        proposed_at=when(days=9),
        reply_by=when(days=2),
        reason="Our release train.",
    )
    assert http.post(MEMBER_PROPOSE, good).status_code == 302
    assert DisclosureProposal.objects.filter(proposed_by_organization=world.owner.organization)


def test_the_member_page_costs_the_same_queries_with_more_cases(
    world, mfa_client, django_assert_max_num_queries
):
    http = mfa_client(world.owner.user)
    http.get(MEMBER_PAGE)
    with django_assert_max_num_queries(30) as one:
        assert http.get(MEMBER_PAGE).status_code == 200
    for _ in range(5):
        DisclosureProposalFactory(vulnerability=told_case(world.owner))
    with django_assert_max_num_queries(len(one.captured_queries)):
        text = http.get(MEMBER_PAGE).content.decode()
    assert text.count("Proposed:") == 6


# ---------------------------------------------------------------- CWE ids beside the CVE id


def test_cwe_ids_are_edited_in_the_case_form_and_shown_beside_the_cve_id(
    mfa_client, staff_reviewer
):
    case = VulnerabilityFactory(cve_id="CVE-2026-12345")
    http = mfa_client(staff_reviewer)
    edit = reverse("embargo:case_edit", args=[case.pk])
    form = http.get(edit).context["form"]
    post = {name: value for name, value in form.initial.items() if value is not None}
    response = http.post(edit, {**post, "cwe_ids": "CWE-787, bad"})
    assert response.status_code == 400
    assert "Not a CWE id: bad" in response.content.decode()
    case.refresh_from_db()
    assert case.cwe_ids == ""
    assert http.post(edit, {**post, "cwe_ids": "cwe-787 CWE-20"}).status_code == 302
    case.refresh_from_db()
    assert case.cwe_ids == "CWE-787, CWE-20"
    detail = http.get(reverse("embargo:case_detail", args=[case.pk])).content.decode()
    advisory = http.get(reverse("embargo:advisory_preview", args=[case.pk])).content.decode()
    for text in (detail, advisory):
        assert "CVE-2026-12345" in text and "CWE-787, CWE-20" in text
