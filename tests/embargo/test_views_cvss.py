"""The CVSS calculator on a case: every base metric of 3.1 and 4.0 as a choice, pasting
a vector fills the choices, both versions kept with who set each and when (issue 17)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from core.models import AuditEvent
from embargo.models import CvssRating, Vulnerability
from embargo.scoring import base_metrics
from embargo.services import cvss_rating_set, vulnerability_update
from embargo.views.scoring import calculator_url
from tests.embargo.views_world import CANARY_TITLE, world_build
from tests.factories import StaffFactory, VulnerabilityFactory

pytestmark = pytest.mark.django_db

V31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8 Critical
V40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"  # 9.3 Critical


def calculator(case, version: str) -> str:
    return calculator_url(case.pk, version)


def choices_of(vector: str) -> dict[str, str]:
    return dict(part.split(":") for part in vector.split("/")[1:])


def snapshot(case) -> tuple:
    case.refresh_from_db()
    return (case.cvss_vector, CvssRating.objects.count(), AuditEvent.objects.count())


def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(client):
    world = world_build()
    before = snapshot(world.case)
    for version in ("3.1", "4.0"):
        assert client.get(calculator(world.case, version)).status_code == 302
        response = client.post(calculator(world.case, version), {"vector": V31, "action": "save"})
        assert response["Location"].startswith(reverse("account_login"))
    assert snapshot(world.case) == before


@pytest.mark.parametrize("who", ["owner", "other"])
def test_distributors_get_404_and_change_nothing(who, mfa_client):
    world = world_build()
    before = snapshot(world.case)
    http = mfa_client(world.owner if who == "owner" else world.other)
    for version in ("3.1", "4.0"):
        assert http.get(calculator(world.case, version)).status_code == 404
        response = http.post(calculator(world.case, version), {"vector": V31, "action": "save"})
        assert response.status_code == 404
        assert CANARY_TITLE not in response.content.decode()
    assert snapshot(world.case) == before


def test_staff_without_two_factor_are_sent_to_set_it_up(client, staff_without_mfa):
    world = world_build()
    client.force_login(staff_without_mfa)
    response = client.get(calculator(world.case, "3.1"))
    assert response["Location"] == reverse("mfa_activate_totp")


@pytest.mark.parametrize("version", ["3.1", "4.0"])
def test_the_calculator_offers_every_base_metric_as_a_choice(mfa_client, staff_reviewer, version):
    case = VulnerabilityFactory()
    text = mfa_client(staff_reviewer).get(calculator(case, version)).content.decode()
    for metric in base_metrics(version):
        assert f'name="{metric.key}"' in text
        for value, _ in metric.values:
            assert f'name="{metric.key}" value="{value}"' in text
    assert "<script" not in text.split("<main", 1)[-1]  # works without JavaScript


@pytest.mark.parametrize("version, vector, score", [("3.1", V31, "9.8"), ("4.0", V40, "9.3")])
def test_choosing_every_metric_and_saving_scores_the_case(
    mfa_client, staff_reviewer, version, vector, score
):
    case = VulnerabilityFactory()
    response = mfa_client(staff_reviewer).post(
        calculator(case, version), {**choices_of(vector), "action": "save"}
    )
    assert response.status_code == 302
    rating = CvssRating.objects.get(vulnerability=case, version=version)
    assert (rating.vector, rating.score, rating.severity) == (vector, Decimal(score), "Critical")
    assert rating.set_by == staff_reviewer
    case.refresh_from_db()
    assert (case.cvss_vector, case.cvss_version, case.cvss_score) == (
        vector,
        version,
        Decimal(score),
    )
    event = AuditEvent.objects.get(action="vulnerability.cvss_set")
    assert event.data == {"version": version, "vector": vector, "score": score}


def test_a_pasted_vector_fills_the_choices_without_saving(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    response = mfa_client(staff_reviewer).post(
        calculator(case, "3.1"), {"vector": V31.replace("AV:N", "AV:L"), "action": "read"}
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert 'name="AV" value="L" id="id_AV_2" checked' in text
    assert 'name="S" value="U"' in text and 'value="U" id="id_S_1" checked' in text
    assert not CvssRating.objects.exists()


def test_the_saved_rating_fills_the_choices_when_the_page_opens_again(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    cvss_rating_set(vulnerability=case, vector=V40, actor=staff_reviewer)
    text = mfa_client(staff_reviewer).get(calculator(case, "4.0")).content.decode()
    for key, value in choices_of(V40).items():
        assert f'name="{key}" value="{value}"' in text
    assert text.count("checked") == len(choices_of(V40))
    assert staff_reviewer.email in text


def test_both_versions_are_kept_with_who_set_each_and_when(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    colleague = StaffFactory()
    cvss_rating_set(vulnerability=case, vector=V31, actor=colleague)
    cvss_rating_set(vulnerability=case, vector=V40, actor=staff_reviewer)
    ratings = {r.version: r for r in CvssRating.objects.filter(vulnerability=case)}
    assert (ratings["3.1"].set_by, ratings["4.0"].set_by) == (colleague, staff_reviewer)
    case.refresh_from_db()
    assert case.cvss_version == "4.0"  # the one set last is the advisory's
    detail = mfa_client(staff_reviewer).get(reverse("embargo:case_detail", args=[case.pk]))
    text = detail.content.decode()
    assert V31 in text and V40 in text and colleague.email in text


def test_clearing_the_headline_rating_falls_back_to_the_other(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    cvss_rating_set(vulnerability=case, vector=V31, actor=staff_reviewer)
    cvss_rating_set(vulnerability=case, vector=V40, actor=staff_reviewer)
    response = mfa_client(staff_reviewer).post(calculator(case, "4.0"), {"action": "clear"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.cvss_vector, case.cvss_version) == (V31, "3.1")
    assert list(CvssRating.objects.values_list("version", flat=True)) == ["3.1"]
    assert AuditEvent.objects.filter(action="vulnerability.cvss_cleared").count() == 1


@pytest.mark.parametrize(
    "post, message",
    [
        ({"vector": "CVSS:3.1/AV:N/AC:L", "action": "save"}, "not valid"),
        ({"vector": "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "action": "save"}, "starts with"),
        ({"vector": V40, "action": "save"}, "this is the 3.1 calculator"),
        ({"vector": "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "action": "read"}, "not valid"),
        ({**choices_of(V31), "AV": "", "action": "save"}, "Choose a value"),
        ({**choices_of(V31), "AV": "Z", "action": "save"}, "Select a valid choice"),
    ],
)
def test_bad_input_gets_a_clear_message_and_changes_nothing(
    mfa_client, staff_reviewer, post, message
):
    case = VulnerabilityFactory()
    before = snapshot(case)
    response = mfa_client(staff_reviewer).post(calculator(case, "3.1"), post)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert snapshot(case) == before


@pytest.mark.parametrize("state", [Vulnerability.State.REJECTED, Vulnerability.State.DISCLOSED])
def test_a_closed_case_keeps_its_score(mfa_client, staff_reviewer, state):
    case = VulnerabilityFactory(state=state)
    before = snapshot(case)
    response = mfa_client(staff_reviewer).post(
        calculator(case, "3.1"), {"vector": V31, "action": "save"}
    )
    assert response.status_code == 400
    assert "can no longer change" in response.content.decode()
    assert snapshot(case) == before


def test_the_case_form_vector_becomes_the_rating_of_its_version(staff_reviewer):
    case = VulnerabilityFactory()
    vulnerability_update(vulnerability=case, actor=staff_reviewer, cvss_vector=V31)
    rating = CvssRating.objects.get(vulnerability=case)
    assert (rating.version, rating.vector, rating.set_by) == ("3.1", V31, staff_reviewer)
    vulnerability_update(vulnerability=case, actor=staff_reviewer, cvss_vector="")
    assert not CvssRating.objects.exists()


def test_the_page_costs_the_same_queries_with_both_ratings(
    mfa_client, staff_reviewer, django_assert_max_num_queries
):
    case = VulnerabilityFactory()
    http = mfa_client(staff_reviewer)
    http.get(calculator(case, "3.1"))  # warm the session
    cvss_rating_set(vulnerability=case, vector=V31, actor=staff_reviewer)
    cvss_rating_set(vulnerability=case, vector=V40, actor=staff_reviewer)
    with django_assert_max_num_queries(12):
        assert http.get(calculator(case, "3.1")).status_code == 200
