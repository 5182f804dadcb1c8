"""A case's affected packages, version ranges, fix references and fix state
(embargo/services/packages.py), the advisory's revisions, and the credit (issue 18)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from core.models import AuditEvent
from embargo.models import (
    AdvisoryRevision,
    AffectedPackage,
    FixReference,
    VersionRange,
    Vulnerability,
)
from embargo.selectors import advisory_modified_at, advisory_revisions
from embargo.services import (
    advisory_revision_add,
    affected_package_add,
    affected_package_remove,
    affected_package_update,
    fix_reference_add,
    fix_reference_remove,
    notice_create,
    version_range_add,
    version_range_remove,
    vulnerability_disclose,
    vulnerability_fix_set,
    vulnerability_update,
)
from embargo.services.notices import outer_subject_check
from intake.services import report_accept, report_mark_valid
from tests.factories import (
    AffectedPackageFactory,
    ReportFactory,
    StaffFactory,
    VersionRangeFactory,
    VulnerabilityFactory,
)

pytestmark = pytest.mark.django_db


def _state() -> tuple:
    """Everything these services may change, to show that a refusal changed nothing."""
    return (
        list(AffectedPackage.objects.values_list("pk", "ecosystem", "name", "purl")),
        list(VersionRange.objects.values_list("pk", "introduced", "fixed", "last_affected")),
        list(FixReference.objects.values_list("pk", "kind", "url", "commit")),
        list(Vulnerability.objects.values_list("pk", "fix_state", "fix_version", "updated_at")),
        AdvisoryRevision.objects.count(),
        AuditEvent.objects.count(),
    )


def _disclosed(**extra) -> Vulnerability:
    case = VulnerabilityFactory(state=Vulnerability.State.NOTIFIED, **extra)
    return vulnerability_disclose(vulnerability=case, actor=case.created_by)


# ---------------------------------------------------------------- packages


def test_a_package_is_added_with_its_purl_in_canonical_form_and_audited_by_id():
    case = VulnerabilityFactory()
    actor = StaffFactory()
    package = affected_package_add(
        vulnerability=case, actor=actor, ecosystem="PyPI", purl="pkg:PyPI/Pinniped_Tools"
    )
    assert (package.ecosystem, package.purl) == ("PyPI", "pkg:pypi/pinniped-tools")
    # The name comes from the purl when none is given.
    assert package.name == "pinniped-tools"
    event = AuditEvent.objects.get(action="vulnerability.package_added")
    assert event.data == {"package": package.pk, "ecosystem": "PyPI"}
    assert "pinniped" not in str(event.data) + event.target_repr


@pytest.mark.parametrize(
    ("ecosystem", "purl", "name"),
    [
        ("Maven", "pkg:maven/org.example/walrus", "org.example:walrus"),
        ("npm", "pkg:npm/%40seals/pup", "@seals/pup"),
        ("Go", "pkg:golang/github.com/seals/pup", "github.com/seals/pup"),
        ("Debian", "pkg:deb/debian/walrus?distro=bookworm", "walrus"),
    ],
)
def test_the_name_read_from_a_purl_is_spelled_as_the_ecosystem_spells_it(ecosystem, purl, name):
    package = affected_package_add(
        vulnerability=VulnerabilityFactory(), actor=StaffFactory(), ecosystem=ecosystem, purl=purl
    )
    assert package.name == name


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"ecosystem": "PyPI", "purl": "pinniped"}, "purl", "Not a package URL"),
        ({"ecosystem": "PyPI", "purl": "pkg:npm/pinniped"}, "purl", "does not name a PyPI"),
        ({"ecosystem": "PyPI", "purl": "pkg:pypi/pinniped@2.4.1"}, "purl", "Leave the version"),
        ({"ecosystem": "PyPI", "name": ""}, "name", "Give the package's name"),
        ({"ecosystem": "PyPI", "name": "two words"}, "name", "no spaces"),
        ({"ecosystem": "PyPI", "name": "x" * 201}, "name", "At most 200"),
        ({"ecosystem": "Hackage", "name": "pinniped"}, "ecosystem", "Choose an ecosystem"),
        ({"ecosystem": "GIT", "name": "pinniped"}, "repository_url", "repository's address"),
        (
            {"ecosystem": "GIT", "name": "p", "repository_url": "ftp://x.example"},
            "repository_url",
            "https://",
        ),
    ],
)
def test_bad_package_input_is_refused_by_field_and_changes_nothing(fields, field, message):
    case = VulnerabilityFactory()
    before = _state()
    with pytest.raises(ValidationError) as caught:
        affected_package_add(vulnerability=case, actor=StaffFactory(), **fields)
    assert message in " ".join(caught.value.message_dict[field])
    assert _state() == before


def test_the_same_package_cannot_be_listed_twice():
    case = VulnerabilityFactory()
    actor = StaffFactory()
    affected_package_add(vulnerability=case, actor=actor, ecosystem="npm", name="pup")
    before = _state()
    with pytest.raises(ValidationError) as caught:
        affected_package_add(vulnerability=case, actor=actor, ecosystem="npm", name="pup")
    assert "already lists" in str(caught.value)
    assert _state() == before


def test_a_git_package_takes_its_repository_and_commit_ranges():
    actor = StaffFactory()
    package = affected_package_add(
        vulnerability=VulnerabilityFactory(),
        actor=actor,
        ecosystem="GIT",
        name="pinniped",
        repository_url="https://git.example.org/pinniped.git",
    )
    version_range_add(package=package, actor=actor, introduced="0", fixed="a1b2c3d4e5f6")
    with pytest.raises(ValidationError) as caught:
        version_range_add(package=package, actor=actor, fixed="2.4.1")
    assert "commit id" in caught.value.message_dict["fixed"][0]
    assert package.ranges.count() == 1


def test_updating_a_package_audits_the_changed_field_names_only():
    package = AffectedPackageFactory(name="old-name", purl="")
    affected_package_update(
        package=package, actor=StaffFactory(), ecosystem="PyPI", name="new-name"
    )
    package.refresh_from_db()
    assert package.name == "new-name"
    event = AuditEvent.objects.get(action="vulnerability.package_updated")
    assert event.data == {"package": package.pk, "ecosystem": "PyPI", "fields": ["name"]}


def test_removing_a_package_removes_its_ranges():
    version_range = VersionRangeFactory()
    package = version_range.package
    affected_package_remove(package=package, actor=StaffFactory())
    assert not AffectedPackage.objects.exists() and not VersionRange.objects.exists()
    assert AuditEvent.objects.get(action="vulnerability.package_removed").data == {
        "package": package.pk
    }


def test_a_rejected_case_refuses_every_change_to_its_packages_and_fix():
    case = VulnerabilityFactory(state=Vulnerability.State.REJECTED)
    package = AffectedPackageFactory(vulnerability=case)
    actor = StaffFactory()
    before = _state()
    for call in (
        lambda: affected_package_add(vulnerability=case, actor=actor, ecosystem="npm", name="x"),
        lambda: affected_package_remove(package=package, actor=actor),
        lambda: version_range_add(package=package, actor=actor, fixed="1.0"),
        lambda: fix_reference_add(vulnerability=case, actor=actor, kind="commit", commit="abc1234"),
        lambda: vulnerability_fix_set(vulnerability=case, actor=actor, state="in_progress"),
    ):
        with pytest.raises(ValidationError, match="rejected case"):
            call()
    assert _state() == before


# ---------------------------------------------------------------- ranges


def test_a_range_defaults_to_every_earlier_version_and_is_audited_by_id():
    package = AffectedPackageFactory()
    version_range = version_range_add(package=package, actor=StaffFactory(), fixed="2.4.1")
    assert (version_range.introduced, version_range.fixed) == ("0", "2.4.1")
    event = AuditEvent.objects.get(action="vulnerability.range_added")
    assert event.data == {"package": package.pk, "range": version_range.pk}
    assert "2.4.1" not in str(event.data)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"fixed": "2.4.1", "last_affected": "2.4.0"}, "last_affected", "not both"),
        ({"fixed": "2.4 .1"}, "fixed", "no spaces"),
        ({"introduced": "1 0"}, "introduced", "no spaces"),
        ({"fixed": "1" * 101}, "fixed", "At most 100"),
        ({"introduced": "2.4.1", "fixed": "2.4.1"}, "fixed", "cannot be the version"),
    ],
)
def test_bad_range_input_is_refused_by_field_and_changes_nothing(fields, field, message):
    package = AffectedPackageFactory()
    before = _state()
    with pytest.raises(ValidationError) as caught:
        version_range_add(package=package, actor=StaffFactory(), **fields)
    assert message in " ".join(caught.value.message_dict[field])
    assert _state() == before


def test_the_same_range_twice_is_refused():
    version_range = VersionRangeFactory(fixed="2.4.1")
    before = _state()
    with pytest.raises(ValidationError, match="already has this range"):
        version_range_add(package=version_range.package, actor=StaffFactory(), fixed="2.4.1")
    assert _state() == before


def test_removing_a_range_is_audited():
    version_range = VersionRangeFactory()
    version_range_remove(version_range=version_range, actor=StaffFactory())
    assert not VersionRange.objects.exists()
    assert AuditEvent.objects.filter(action="vulnerability.range_removed").count() == 1


# ---------------------------------------------------------------- fix references


def test_a_fix_reference_takes_a_url_or_a_commit_id():
    case = VulnerabilityFactory()
    actor = StaffFactory()
    commit = fix_reference_add(vulnerability=case, actor=actor, kind="commit", commit="ABC1234")
    release = fix_reference_add(
        vulnerability=case, actor=actor, kind="release", url="https://example.org/r/2.4.1"
    )
    assert commit.commit == "abc1234" and release.url == "https://example.org/r/2.4.1"
    events = AuditEvent.objects.filter(action="vulnerability.fix_reference_added")
    assert sorted(event.data["kind"] for event in events) == ["commit", "release"]
    fix_reference_remove(fix_reference=commit, actor=actor)
    assert list(FixReference.objects.values_list("pk", flat=True)) == [release.pk]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"kind": "commit"}, "url", "Give the fix's address"),
        ({"kind": "commit", "commit": "xyz"}, "commit", "hex digits"),
        ({"kind": "tweet", "url": "https://example.org"}, "kind", "Choose a commit"),
        ({"kind": "patch", "url": "javascript:alert(1)"}, "url", "https://"),
        ({"kind": "patch", "url": "https://example.org", "note": "n" * 301}, "note", "At most"),
    ],
)
def test_bad_fix_reference_input_is_refused_and_changes_nothing(fields, field, message):
    case = VulnerabilityFactory()
    before = _state()
    with pytest.raises(ValidationError) as caught:
        fix_reference_add(vulnerability=case, actor=StaffFactory(), **fields)
    assert message in " ".join(caught.value.message_dict[field])
    assert _state() == before


# ---------------------------------------------------------------- the fix state


def test_a_released_fix_keeps_its_version_and_day_and_audits_the_states():
    case = VulnerabilityFactory()
    yesterday = timezone.now().date() - timedelta(days=1)
    vulnerability_fix_set(
        vulnerability=case,
        actor=StaffFactory(),
        state="released",
        version="2.4.1",
        released_on=yesterday,
    )
    case.refresh_from_db()
    assert (case.fix_state, case.fix_version, case.fix_released_on) == (
        "released",
        "2.4.1",
        yesterday,
    )
    event = AuditEvent.objects.get(action="vulnerability.fix_set")
    assert event.data == {"fix_state_from": "", "fix_state": "released"}


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"state": "released", "released_on": date(2020, 1, 1)}, "version", "Give the version"),
        ({"state": "released", "version": "2.4.1"}, "released_on", "Give the day"),
        (
            {"state": "released", "version": "2.4.1", "released_on": date(2999, 1, 1)},
            "released_on",
            "cannot be in the future",
        ),
        ({"state": "shipped"}, "state", "Choose where the fix stands"),
        ({"state": "in_progress", "version": "2 4"}, "version", "no spaces"),
    ],
)
def test_bad_fix_state_input_is_refused_and_changes_nothing(fields, field, message):
    case = VulnerabilityFactory()
    before = _state()
    with pytest.raises(ValidationError) as caught:
        vulnerability_fix_set(vulnerability=case, actor=StaffFactory(), **fields)
    assert message in " ".join(caught.value.message_dict[field])
    assert _state() == before


def test_a_fix_that_is_no_longer_released_loses_its_release_day_but_keeps_the_version():
    case = VulnerabilityFactory(
        fix_state="released", fix_version="2.4.1", fix_released_on=date(2026, 1, 2)
    )
    vulnerability_fix_set(
        vulnerability=case, actor=StaffFactory(), state="ready_for_testing", version="2.4.1"
    )
    case.refresh_from_db()
    assert (case.fix_state, case.fix_version, case.fix_released_on) == (
        "ready_for_testing",
        "2.4.1",
        None,
    )


# ---------------------------------------------------------------- advisory revisions


def test_disclosing_publishes_revision_one():
    case = _disclosed()
    revisions = list(advisory_revisions(vulnerability=case))
    assert [(r.number, r.summary) for r in revisions] == [(1, "Initial public release")]
    assert revisions[0].published_at == case.disclosed_at
    assert advisory_modified_at(vulnerability=case) == case.disclosed_at


def test_changes_before_disclosure_add_no_revision():
    case = VulnerabilityFactory()
    actor = StaffFactory()
    package = affected_package_add(vulnerability=case, actor=actor, ecosystem="npm", name="pup")
    version_range_add(package=package, actor=actor, fixed="1.0.1")
    vulnerability_fix_set(vulnerability=case, actor=actor, state="in_progress")
    vulnerability_update(vulnerability=case, actor=actor, credit="Rosa R.")
    assert not AdvisoryRevision.objects.exists()
    assert advisory_modified_at(vulnerability=case) is None


@pytest.mark.parametrize(
    ("change", "summary"),
    [
        (
            lambda case, actor: affected_package_add(
                vulnerability=case, actor=actor, ecosystem="npm", name="pup"
            ),
            "Updated affected packages",
        ),
        (
            lambda case, actor: fix_reference_add(
                vulnerability=case, actor=actor, kind="commit", commit="abc1234"
            ),
            "Updated fix references",
        ),
        (
            lambda case, actor: vulnerability_fix_set(
                vulnerability=case, actor=actor, state="in_progress"
            ),
            "Updated the fix status",
        ),
        (
            lambda case, actor: vulnerability_update(
                vulnerability=case, actor=actor, cve_id="CVE-2026-4242", credit="Rosa R."
            ),
            "Updated the CVE id and the credit",
        ),
    ],
)
def test_a_change_to_a_disclosed_advisory_publishes_a_new_revision(change, summary):
    case = _disclosed()
    change(case, StaffFactory())
    revisions = list(advisory_revisions(vulnerability=case))
    assert [(r.number, r.summary) for r in revisions][-1] == (2, summary)
    assert advisory_modified_at(vulnerability=case) == revisions[-1].published_at
    assert AuditEvent.objects.filter(
        action="vulnerability.advisory_revised", data={"number": 2}
    ).exists()


def test_a_range_change_after_disclosure_is_a_revision_and_a_private_note_is_not():
    case = _disclosed()
    actor = StaffFactory()
    package = AffectedPackageFactory(vulnerability=case)
    version_range_add(package=package, actor=actor, fixed="2.4.1")
    vulnerability_update(vulnerability=case, actor=actor, versions_note="Checked the 1.x line.")
    summaries = list(advisory_revisions(vulnerability=case).values_list("summary", flat=True))
    assert summaries == ["Initial public release", "Updated affected versions"]


def test_revisions_are_numbered_one_after_another_and_need_a_summary():
    case = _disclosed()
    advisory_revision_add(vulnerability=case, summary="Corrected a link")
    advisory_revision_add(vulnerability=case, summary="Added the CVE id")
    assert list(advisory_revisions(vulnerability=case).values_list("number", flat=True)) == [
        1,
        2,
        3,
    ]
    with pytest.raises(ValidationError):
        advisory_revision_add(vulnerability=case, summary="  ")
    with pytest.raises(ValidationError, match="Only a disclosed case"):
        advisory_revision_add(vulnerability=VulnerabilityFactory(), summary="Early")
    assert AdvisoryRevision.objects.count() == 3


# ---------------------------------------------------------------- credit


@pytest.mark.parametrize(
    ("wanted", "credit_as", "expected"),
    [(True, "Rosa R.", "Rosa R."), (True, "", "Rosa Reporter"), (False, "Rosa R.", "")],
)
def test_accepting_a_report_carries_the_credit_the_reporter_asked_for(wanted, credit_as, expected):
    staff = StaffFactory()
    report = ReportFactory(reporter_name="Rosa Reporter", credit_wanted=wanted, credit_as=credit_as)
    report = report_mark_valid(report=report, actor=staff)
    report = report_accept(report=report, actor=staff)
    assert report.vulnerability.credit == expected


# ---------------------------------------------------------------- the outer-subject guard


def test_the_outer_subject_may_not_name_an_affected_package_or_its_versions():
    case = VulnerabilityFactory(title="Heap overflow", summary="Private.")
    package = AffectedPackageFactory(vulnerability=case, name="pinniped", ecosystem="PyPI")
    VersionRangeFactory(package=package, introduced="1.2", fixed="2.4.1")
    for outer, shared in (
        ("About pinniped", "a copy of the field (the name of affected package 1)"),
        ("Builds of 2.4.1", "the version 2.4.1 (the affected packages)"),
        ("Builds of 1.2", "the version 1.2 (the affected packages)"),
    ):
        with pytest.raises(ValidationError) as caught:
            outer_subject_check(outer_subject=outer, vulnerability=case, subject="Patch")
        assert shared in caught.value.message_dict["outer_subject"][0]
    outer_subject_check(
        outer_subject="Embargoed notice from the security team", vulnerability=case, subject="P"
    )


def test_the_outer_subject_may_not_give_the_fixed_version_or_its_release_day():
    case = VulnerabilityFactory(
        title="Heap overflow",
        summary="Private.",
        fix_state="released",
        fix_version="3.0.2",
        fix_released_on=date(2026, 3, 12),
    )
    for outer, shared in (
        ("Upgrade to 3.0.2", "the version 3.0.2 (the fixed version)"),
        ("Out since 12 March", "the date 12 March (the fix release date)"),
        ("Released", "a copy of the field (the fix state)"),
    ):
        with pytest.raises(ValidationError) as caught:
            notice_create(
                vulnerability=case,
                actor=case.created_by,
                outer_subject=outer,
                subject="P",
                body="B",
            )
        assert shared in caught.value.message_dict["outer_subject"][0]
