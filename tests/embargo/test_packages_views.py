"""The "Packages and fix" section of the case page, the public advisory's packages, fix
and revisions, and the fix state on a recipient's notice page (issue 18)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from embargo.models import (
    AdvisoryRevision,
    AffectedPackage,
    FixReference,
    VersionRange,
    Vulnerability,
)
from embargo.services import vulnerability_disclose
from tests.embargo.views_world import world_build
from tests.factories import (
    AdvisoryRevisionFactory,
    AffectedPackageFactory,
    FixReferenceFactory,
    TeamMemberFactory,
    VersionRangeFactory,
    VulnerabilityFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db


def _rows() -> tuple:
    return (
        list(AffectedPackage.objects.values_list("pk", "name")),
        list(VersionRange.objects.values_list("pk", "fixed")),
        list(FixReference.objects.values_list("pk", "url")),
        list(Vulnerability.objects.values_list("pk", "fix_state", "fix_version")),
        AuditEvent.objects.count(),
    )


def _posts(case) -> list[tuple[str, dict]]:
    """Every form of the section, each with valid input."""
    version_range = VersionRangeFactory(package__vulnerability=case)
    reference = FixReferenceFactory(vulnerability=case)
    package_id = str(version_range.package_id)
    return [
        ("embargo:case_package_add", {"package-ecosystem": "npm", "package-name": "pup"}),
        ("embargo:case_range_add", {"range-package": package_id, "range-fixed": "9.0"}),
        ("embargo:case_range_remove", {"range": str(version_range.pk)}),
        ("embargo:case_package_remove", {"package": package_id}),
        (
            "embargo:case_fix_reference_add",
            {"reference-kind": "patch", "reference-url": "https://example.org/p"},
        ),
        ("embargo:case_fix_reference_remove", {"reference": str(reference.pk)}),
        ("embargo:case_fix_state", {"fix-state": "in_progress"}),
    ]


def _url(name: str, case) -> str:
    return reverse(name, kwargs={"pk": case.pk})


# ---------------------------------------------------------------- who may


def test_anonymous_visitors_are_sent_to_sign_in_and_change_nothing(client):
    case = VulnerabilityFactory()
    posts = _posts(case)
    before = _rows()
    for name, data in posts:
        response = client.post(_url(name, case), data)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))
    assert _rows() == before


def test_a_member_of_the_organisation_told_gets_404_and_changes_nothing(mfa_client):
    world = world_build()
    posts = _posts(world.case)
    http = mfa_client(world.owner)
    before = _rows()
    for name, data in posts:
        assert http.post(_url(name, world.case), data).status_code == 404
    assert _rows() == before


def test_a_member_of_another_organisation_gets_404_and_changes_nothing(mfa_client):
    world = world_build()
    posts = _posts(world.case)
    http = mfa_client(world.other)
    before = _rows()
    for name, data in posts:
        assert http.post(_url(name, world.case), data).status_code == 404
    assert _rows() == before


def test_staff_can_use_every_form_of_the_section(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    http = mfa_client(staff_reviewer)
    for name, data in _posts(case):
        response = http.post(_url(name, case), data)
        assert response.status_code == 302, (name, response.content.decode()[:2000])
        assert response["Location"].endswith("#packages-title")
    case.refresh_from_db()
    assert case.fix_state == "in_progress"
    assert list(case.packages.values_list("name", flat=True)) == ["pup"]
    assert list(case.fix_references.values_list("url", flat=True)) == ["https://example.org/p"]


def test_the_section_forms_only_take_posts(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    http = mfa_client(staff_reviewer)
    for name, _ in _posts(case):
        assert http.get(_url(name, case)).status_code == 405


def test_a_row_of_another_case_is_404_and_stays(mfa_client, staff_reviewer):
    case, other = VulnerabilityFactory(), VulnerabilityFactory()
    version_range = VersionRangeFactory(package__vulnerability=other)
    reference = FixReferenceFactory(vulnerability=other)
    http = mfa_client(staff_reviewer)
    before = _rows()
    for name, data in (
        ("embargo:case_package_remove", {"package": str(version_range.package_id)}),
        ("embargo:case_range_remove", {"range": str(version_range.pk)}),
        ("embargo:case_fix_reference_remove", {"reference": str(reference.pk)}),
        ("embargo:case_package_remove", {"package": "not-a-number"}),
    ):
        assert http.post(_url(name, case), data).status_code == 404
    response = http.post(
        _url("embargo:case_range_add", case),
        {"range-package": str(version_range.package_id), "range-fixed": "9.0"},
    )
    assert response.status_code == 400
    assert _rows() == before


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "embargo:case_package_add",
            {"package-ecosystem": "PyPI", "package-purl": "pkg:npm/pup"},
            "does not name a PyPI package",
        ),
        (
            "embargo:case_package_add",
            {"package-ecosystem": "GIT", "package-name": "pup"},
            "Give the repository&#x27;s address",
        ),
        (
            "embargo:case_fix_state",
            {"fix-state": "released", "fix-version": "2.4.1"},
            "Give the day the fix was released.",
        ),
        (
            "embargo:case_fix_state",
            {"fix-state": "released", "fix-version": "2.4.1", "fix-released_on": "2999-01-01"},
            "cannot be in the future",
        ),
        (
            "embargo:case_fix_reference_add",
            {"reference-kind": "commit", "reference-commit": "not-hex"},
            "7 to 64 hex digits",
        ),
    ],
)
def test_bad_input_shows_the_message_beside_the_field_and_changes_nothing(
    name, data, message, mfa_client, staff_reviewer
):
    case = VulnerabilityFactory()
    AffectedPackageFactory(vulnerability=case)
    before = _rows()
    response = mfa_client(staff_reviewer).post(_url(name, case), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _rows() == before


def test_a_bad_range_is_shown_on_the_page_and_not_saved(mfa_client, staff_reviewer):
    package = AffectedPackageFactory()
    case = package.vulnerability
    before = _rows()
    response = mfa_client(staff_reviewer).post(
        _url("embargo:case_range_add", case),
        {"range-package": str(package.pk), "range-fixed": "2.4.1", "range-last_affected": "2.4"},
    )
    assert response.status_code == 400
    assert "not both" in response.content.decode()
    assert _rows() == before


def test_a_rejected_case_shows_its_packages_but_no_forms(mfa_client, staff_reviewer):
    case = VulnerabilityFactory(state=Vulnerability.State.REJECTED)
    VersionRangeFactory(package__vulnerability=case, package__name="pinniped")
    page = mfa_client(staff_reviewer).get(_url("embargo:case_detail", case)).content.decode()
    assert "pinniped" in page
    assert _url("embargo:case_package_add", case) not in page
    assert _url("embargo:case_package_remove", case) not in page


# ---------------------------------------------------------------- the case page


def _case_with_packages(count: int) -> Vulnerability:
    case = VulnerabilityFactory(fix_state="in_progress", fix_version="2.4.1")
    for _ in range(count):
        package = AffectedPackageFactory(vulnerability=case)
        VersionRangeFactory(package=package, introduced="1.0", fixed="1.4.2")
        VersionRangeFactory(package=package, introduced="2.0", fixed="2.4.1")
        FixReferenceFactory(vulnerability=case)
    return case


def test_the_case_page_lists_packages_ranges_references_and_the_fix(mfa_client, staff_reviewer):
    case = _case_with_packages(1)
    package = case.packages.get()
    page = mfa_client(staff_reviewer).get(_url("embargo:case_detail", case)).content.decode()
    assert "Packages and fix" in page
    assert package.name in page and package.purl in page
    assert "from 1.0, fixed in 1.4.2" in page and "from 2.0, fixed in 2.4.1" in page
    assert case.fix_references.get().url in page
    assert "Fix in progress" in page


def test_the_case_page_query_count_does_not_grow_with_packages(
    mfa_client, staff_reviewer, django_assert_max_num_queries
):
    http = mfa_client(staff_reviewer)
    small = _case_with_packages(1)
    with django_assert_max_num_queries(60) as few:
        assert http.get(_url("embargo:case_detail", small)).status_code == 200
    large = _case_with_packages(5)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = http.get(_url("embargo:case_detail", large)).content.decode()
    assert page.count("Remove package") == 5


def test_the_case_history_names_package_and_fix_changes(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    http = mfa_client(staff_reviewer)
    http.post(
        _url("embargo:case_package_add", case),
        {"package-ecosystem": "npm", "package-name": "pup"},
    )
    http.post(_url("embargo:case_fix_state", case), {"fix-state": "ready_for_testing"})
    page = http.get(_url("embargo:case_detail", case)).content.decode()
    package = case.packages.get()
    assert f"added affected package #{package.pk}" in page
    assert "set the fix state to “Ready for testing”" in page


# ---------------------------------------------------------------- the public advisory


def test_packages_fix_and_credit_are_public_only_after_disclosure(client):
    case = VulnerabilityFactory(
        state=Vulnerability.State.NOTIFIED,
        credit="Rosa R.",
        cwe_ids="CWE-787",
        fix_state="released",
        fix_version="2.4.1",
        fix_released_on=date(2026, 3, 1),
    )
    VersionRangeFactory(package__vulnerability=case, package__name="pinniped", fixed="2.4.1")
    FixReferenceFactory(vulnerability=case, url="https://git.example.org/pinniped/commit/abc")
    assert client.get(case.get_advisory_url()).status_code == 404

    vulnerability_disclose(vulnerability=case, actor=case.created_by)
    page = client.get(case.get_advisory_url()).content.decode()
    for fact in (
        "pinniped",
        "pkg:pypi/pinniped",
        "Every version, fixed in 2.4.1",
        "https://git.example.org/pinniped/commit/abc",
        "Released in 2.4.1 on",
        "2026-03-01",
        "CWE-787",
        "Reported by Rosa R.",
        "Initial public release",
    ):
        assert fact in page, fact


def test_the_advisory_lists_its_revisions_in_order(client):
    case = VulnerabilityFactory(state=Vulnerability.State.DISCLOSED, disclosed_at=timezone.now())
    AdvisoryRevisionFactory(vulnerability=case, number=1, summary="Initial public release")
    AdvisoryRevisionFactory(
        vulnerability=case,
        number=2,
        summary="Updated affected packages",
        published_at=timezone.now() + timedelta(minutes=5),
    )
    page = client.get(case.get_advisory_url()).content.decode()
    assert page.index("Initial public release") < page.index("Updated affected packages")
    assert AdvisoryRevision.objects.count() == 2


def test_the_staff_preview_shows_the_packages_before_disclosure(mfa_client, staff_reviewer):
    case = VulnerabilityFactory()
    VersionRangeFactory(package__vulnerability=case, package__name="pinniped")
    page = mfa_client(staff_reviewer).get(_url("embargo:advisory_preview", case)).content.decode()
    assert "pinniped" in page


# ---------------------------------------------------------------- the recipient's page


def test_a_recipient_sees_the_fix_state_on_their_notice_page(mfa_client):
    world = world_build()
    Vulnerability.objects.filter(pk=world.case.pk).update(
        fix_state="ready_for_testing", fix_version="2.4.1"
    )
    world.delivery.state = "sent"
    world.delivery.sent_at = timezone.now()
    world.delivery.save(update_fields=["state", "sent_at"])
    url = reverse("embargo:acknowledge", kwargs={"reference_code": world.delivery.reference_code})
    page = mfa_client(world.owner).get(url).content.decode()
    assert "Ready for testing" in page
    # The state only: the version is embargoed text.
    assert "2.4.1" not in page


def test_a_person_whose_copy_was_withheld_sees_no_fix_state(mfa_client):
    world = world_build()
    Vulnerability.objects.filter(pk=world.case.pk).update(fix_state="ready_for_testing")
    world.delivery.state = "withheld"
    world.delivery.save(update_fields=["state"])
    url = reverse("embargo:acknowledge", kwargs={"reference_code": world.delivery.reference_code})
    page = mfa_client(world.owner).get(url).content.decode()
    assert "Ready for testing" not in page


def test_someone_without_a_copy_cannot_open_the_notice_page(mfa_client):
    world = world_build()
    stranger = make_eligible(TeamMemberFactory()).user
    url = reverse("embargo:acknowledge", kwargs={"reference_code": world.delivery.reference_code})
    assert mfa_client(stranger).get(url).status_code == 404
