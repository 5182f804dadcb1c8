"""What the OSV record says, and nothing private."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from advisories.osv import osv_record
from advisories.selectors import advisory_export_get
from tests.advisories.helpers import (
    CVSS_31,
    CVSS_40,
    DISCLOSED_AT,
    PRIVATE_SUMMARY,
    REPORTER_EMAIL,
    REPORTER_NAME,
    VERSIONS_NOTE,
    consenting_statuses,
    minimal_case,
    rich_case,
)
from tests.factories import AdvisoryRevisionFactory, AffectedPackageFactory

pytestmark = pytest.mark.django_db


def _record(case) -> dict:
    return osv_record(advisory_export_get(public_id=case.public_id))


def test_the_record_names_the_case_its_times_and_aliases():
    case = rich_case()
    record = _record(case)
    assert record["id"] == case.public_id
    assert record["aliases"] == ["CVE-2026-12345"]
    assert record["published"] == "2026-03-02T16:00:00Z"
    assert record["modified"] == "2026-03-05T16:00:00Z"
    assert record["summary"] == "Heap overflow in the walrus parser"
    assert record["details"].startswith("A crafted **walrus** file")
    assert "## Mitigation\n\nReject walrus files" in record["details"]
    assert record["credits"] == [{"name": "Ada Finder", "type": "FINDER"}]
    assert record["database_specific"] == {"cwe_ids": ["CWE-787", "CWE-20"]}
    assert record["severity"] == [
        {"type": "CVSS_V3", "score": CVSS_31},
        {"type": "CVSS_V4", "score": CVSS_40},
    ]


def test_git_ranges_name_the_repo_and_package_ranges_use_their_ecosystem():
    git, pypi, npm = _record(rich_case())["affected"]
    assert "package" not in git
    assert git["ranges"] == [
        {
            "type": "GIT",
            "repo": "https://git.example.org/walrus/walrus.git",
            "events": [{"introduced": "a" * 40}, {"fixed": "b" * 40}],
        }
    ]
    assert pypi["package"] == {"ecosystem": "PyPI", "name": "walrus", "purl": "pkg:pypi/walrus"}
    assert [r["events"] for r in pypi["ranges"]] == [
        [{"introduced": "2.0"}, {"fixed": "2.4.1"}],
        [{"introduced": "3.0"}, {"last_affected": "3.0.2"}],
    ]
    assert {r["type"] for r in pypi["ranges"] + npm["ranges"]} == {"ECOSYSTEM"}


def test_references_are_the_advisory_and_the_fix_links_absolute_on_the_site(settings):
    settings.SITE_URL = "https://haulout.example.org"
    case = rich_case()
    references = _record(case)["references"]
    assert references[0] == {
        "type": "ADVISORY",
        "url": f"https://haulout.example.org/advisories/{case.public_id}/",
    }
    assert [r["type"] for r in references[1:]] == ["FIX", "FIX"]  # the patch has no URL


def test_a_git_package_without_a_repository_is_left_out_rather_than_invalid():
    case = minimal_case()
    AffectedPackageFactory(vulnerability=case, ecosystem="GIT", purl="", repository_url="")
    assert "affected" not in _record(case)


def test_a_new_revision_moves_modified_and_not_published():
    case = rich_case()
    AdvisoryRevisionFactory(
        vulnerability=case, number=3, published_at=DISCLOSED_AT + timedelta(days=9)
    )
    record = _record(case)
    assert (record["published"], record["modified"]) == (
        "2026-03-02T16:00:00Z",
        "2026-03-11T16:00:00Z",
    )


def test_a_minimal_record_has_only_what_the_case_has():
    case = minimal_case()
    record = _record(case)
    assert record["modified"] == record["published"] == "2026-03-02T16:00:00Z"
    assert not {"aliases", "affected", "severity", "credits", "database_specific"} & set(record)


def test_nothing_private_is_in_the_record():
    case = rich_case()
    consenting_statuses(case)
    text = json.dumps(_record(case))
    for private in (PRIVATE_SUMMARY, REPORTER_EMAIL, REPORTER_NAME, VERSIONS_NOTE):
        assert private not in text
    # Organisations' statements belong to CSAF only.
    assert "Fixed in our 2.4.1-1 build." not in text
