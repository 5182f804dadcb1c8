"""Public pages: advisories exist only after disclosure; the team key is published."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from embargo.models import Vulnerability
from tests.embargo.views_world import (
    CANARY_SUMMARY,
    CANARY_TITLE,
    assert_no_canary,
    world_build,
)
from tests.factories import VersionRangeFactory, VulnerabilityFactory

pytestmark = pytest.mark.django_db

VIEWERS = ["anonymous", "owner", "other", "staff"]


@pytest.fixture
def viewer_client(client, mfa_client, staff_reviewer):
    """A client for each of the four viewers, given the world."""

    def get(viewer: str, world):
        if viewer == "anonymous":
            return client
        if viewer == "owner":
            return mfa_client(world.owner)
        if viewer == "other":
            return mfa_client(world.other)
        return mfa_client(staff_reviewer)

    return get


def disclose(case: Vulnerability) -> None:
    case.state = Vulnerability.State.DISCLOSED
    case.disclosed_at = timezone.now()
    case.save(update_fields=["state", "disclosed_at"])


@pytest.mark.parametrize("viewer", VIEWERS)
def test_an_undisclosed_advisory_is_404_for_everyone_publicly(viewer, viewer_client):
    world = world_build()
    http = viewer_client(viewer, world)
    hidden = http.get(world.case.get_advisory_url())
    missing = http.get(reverse("embargo:advisory_detail", kwargs={"public_id": "HAUL-1999-0001"}))
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    listing = http.get(reverse("embargo:advisory_list"))
    assert listing.status_code == 200
    assert world.case.public_id not in listing.content.decode()
    assert_no_canary(listing)


@pytest.mark.parametrize("viewer", VIEWERS)
def test_a_disclosed_advisory_is_public_to_everyone(viewer, viewer_client):
    world = world_build()
    world.case.cvss_vector = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    world.case.cvss_version, world.case.cvss_score, world.case.cvss_severity = (
        "3.1",
        "9.8",
        "Critical",
    )
    world.case.cve_id = "CVE-2026-12345"
    world.case.save()
    VersionRangeFactory(package__vulnerability=world.case, package__name="pinniped")
    disclose(world.case)
    http = viewer_client(viewer, world)
    response = http.get(world.case.get_advisory_url())
    assert response.status_code == 200
    text = response.content.decode()
    for fact in (CANARY_TITLE, "CVE-2026-12345", "Critical", "9.8", "pinniped", "fixed in 2.4.1"):
        assert fact in text
    # The private summary names the reporter: never published.
    assert CANARY_SUMMARY not in text
    listing = http.get(reverse("embargo:advisory_list")).content.decode()
    assert world.case.public_id in listing


def test_the_mitigation_markdown_is_rendered_without_scripts(client):
    case = VulnerabilityFactory(
        mitigation="Set **safe_mode**.\n\n<script>alert('x')</script>\n\n[x](javascript:alert(1))"
    )
    disclose(case)
    text = client.get(case.get_advisory_url()).content.decode()
    assert "<strong>safe_mode</strong>" in text
    assert "<script>alert" not in text
    assert "javascript:" not in text


def test_a_rejected_case_never_becomes_a_public_advisory(client):
    case = VulnerabilityFactory(state=Vulnerability.State.REJECTED)
    assert client.get(case.get_advisory_url()).status_code == 404


def test_the_advisory_list_query_count_does_not_grow(client, django_assert_max_num_queries):
    disclose(VulnerabilityFactory())
    with django_assert_max_num_queries(6) as few:
        client.get(reverse("embargo:advisory_list"))
    for _ in range(15):
        disclose(VulnerabilityFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("embargo:advisory_list"))
    assert response.content.decode().count("/advisories/HAUL-") == 16


# --- The team key ---------------------------------------------------------------------


@pytest.mark.parametrize("viewer", VIEWERS)
def test_the_team_key_is_published_as_text_at_a_stable_url(viewer, viewer_client, team_key):
    response = viewer_client(viewer, world_build()).get("/security/team-key.asc")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    body = response.content.decode()
    assert body.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert "PRIVATE KEY" not in body


def test_without_a_team_key_the_url_is_a_clear_404_not_an_error(client, settings, tmp_path):
    settings.HAULOUT_TEAM_KEY_FILE = tmp_path / "missing-team-key.asc"
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = tmp_path / "missing.passphrase"
    response = client.get("/security/team-key.asc")
    assert response.status_code == 404
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "not published here yet" in response.content.decode()
    assert str(tmp_path) not in response.content.decode()


def test_every_page_links_the_team_key_and_the_advisories_in_its_footer(client):
    text = client.get(reverse("embargo:advisory_list")).content.decode()
    assert 'href="/security/team-key.asc"' in text
    assert 'href="/advisories/"' in text
