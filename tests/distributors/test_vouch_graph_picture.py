"""The vouch graph drawn as a picture: the pure builder and the staff page."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from distributors.models import Organization
from distributors.pictures import MAX_NODES, GraphEdge, vouch_graph_edges, vouch_graph_svg
from tests.factories import MemberOrganizationFactory, TeamMemberFactory, VouchFactory

GRAPH_URL = reverse("distributors:vouch_graph")


def _edge(giver: int, taker: int, state: str = "confirmed", status: str = "applicant"):
    return GraphEdge(
        voucher_org=(giver, f"Org {giver}", "member"),
        applicant_org=(taker, f"Org {taker}", status),
        state=state,
    )


def test_the_picture_is_an_image_with_a_title_and_a_description():
    svg = str(vouch_graph_svg([_edge(1, 2)]))
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" role="img"')
    assert '<title id="vouch-graph-title">' in svg and '<desc id="vouch-graph-desc">' in svg
    assert re.search(r'viewBox="0 \d+ 960 \d+"', svg)
    assert "style=" not in svg and "<script" not in svg


def test_each_organisation_is_a_node_labelled_with_its_status():
    svg = str(vouch_graph_svg([_edge(1, 2, status="suspended"), _edge(1, 3, status="removed")]))
    assert "Org 1 (member)" in svg and "Org 2 (suspended)" in svg and "Org 3 (removed)" in svg
    assert svg.count('class="node node-member"') == 1
    assert "<polygon" in svg and 'class="node-cross"' in svg


def test_vouch_states_are_told_apart_by_line_style_not_only_colour():
    svg = str(vouch_graph_svg([_edge(1, 2), _edge(1, 3, "requested"), _edge(1, 4, "withdrawn")]))
    assert svg.count('class="edge edge-confirmed"') == 1
    assert 'class="edge edge-requested" stroke-dasharray="8 5"' in svg
    assert 'class="edge edge-ended" stroke-dasharray="2 4"' in svg


def test_the_same_rows_always_draw_the_same_picture():
    edges = [_edge(3, 1), _edge(2, 5, "requested")]
    assert vouch_graph_svg(edges) == vouch_graph_svg(list(edges))


def test_names_are_escaped_so_a_name_cannot_inject_markup():
    edge = GraphEdge((1, "<script>x</script>", "member"), (2, 'A"B', "applicant"), "confirmed")
    svg = str(vouch_graph_svg([edge]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert 'A"B' not in svg


def test_a_crowded_page_draws_at_most_the_cap_and_says_how_many_more():
    edges = [_edge(1, taker) for taker in range(2, MAX_NODES + 11)]
    svg = str(vouch_graph_svg(edges))
    assert len(re.findall(r'class="node-label"', svg)) == MAX_NODES
    assert "and 10 more organisations (see the table)" in svg


def test_an_empty_page_draws_an_empty_picture_without_failing():
    svg = str(vouch_graph_svg([]))
    assert 'role="img"' in svg and "0 organisations and 0 vouches" in svg


@pytest.mark.django_db
def test_vouch_rows_become_edges_between_their_organisations():
    vouch = VouchFactory()
    (edge,) = vouch_graph_edges([vouch])
    assert edge.voucher_org[0] == vouch.voucher_organization_id
    assert edge.applicant_org == (
        vouch.application.organization_id,
        vouch.application.organization.name,
        "applicant",
    )
    assert edge.state == vouch.state


@pytest.mark.django_db
def test_staff_see_the_picture_above_the_table(staff_reviewer, mfa_client):
    vouch = VouchFactory(
        voucher_organization=MemberOrganizationFactory(status=Organization.Status.SUSPENDED)
    )
    content = mfa_client(staff_reviewer).get(GRAPH_URL).content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in content
    assert content.index("<svg") < content.index("<table")
    assert f"{vouch.voucher_organization.name} (suspended)" in content


@pytest.mark.django_db
def test_anonymous_visitors_and_organisation_people_never_get_the_picture(client):
    VouchFactory()
    assert client.get(GRAPH_URL).status_code == 302
    member = Client()
    member.force_login(TeamMemberFactory().user)
    response = member.get(GRAPH_URL)
    assert response.status_code == 404 and "<svg" not in response.content.decode()


@pytest.mark.django_db
def test_the_picture_adds_no_query_as_vouches_grow(
    staff_reviewer, mfa_client, django_assert_max_num_queries
):
    http = mfa_client(staff_reviewer)
    VouchFactory.create_batch(2)
    with django_assert_max_num_queries(12) as few:
        assert "<svg" in http.get(GRAPH_URL).content.decode()
    VouchFactory.create_batch(40)
    with django_assert_max_num_queries(len(few.captured_queries)):
        content = http.get(GRAPH_URL).content.decode()
    # 84 organisations: the picture keeps to the cap and counts the rest.
    assert "and 44 more organisations" in content


def test_a_small_graph_is_cropped_to_the_part_in_use():
    small = str(vouch_graph_svg([_edge(1, 2)]))
    assert 'viewBox="0 0 960 720"' not in small
    crowded = str(vouch_graph_svg([_edge(1, taker) for taker in range(2, MAX_NODES + 5)]))
    assert 'viewBox="0 0 960 720"' in crowded
