"""What the CSAF document says: organisations' statuses only with their consent, the
revision history, and nothing private."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from advisories.csaf import csaf_document
from advisories.selectors import advisory_export_get
from tests.advisories.helpers import (
    CVSS_40,
    DISCLOSED_AT,
    PRIVATE_SUMMARY,
    REPORTER_EMAIL,
    REPORTER_NAME,
    VERSIONS_NOTE,
    consenting_statuses,
    csaf_schema_errors,
    minimal_case,
    rich_case,
    status,
)
from tests.factories import AdvisoryRevisionFactory

pytestmark = pytest.mark.django_db


def _document(case) -> dict:
    return csaf_document(advisory_export_get(public_id=case.public_id))


def _products(document) -> dict[str, str]:
    """product_id -> full product name, from every leaf of the product tree."""
    found = {}

    def walk(branches):
        for branch in branches:
            if "product" in branch:
                found[branch["product"]["product_id"]] = branch["product"]["name"]
            walk(branch.get("branches", []))

    walk(document["product_tree"]["branches"])
    return found


def test_it_publishes_a_consenting_fixed_statement_and_not_an_unconsented_not_affected():
    case = rich_case()
    status(
        case,
        "Consenting Distro",
        status="fixed",
        product="walrus-deb",
        fixed_version="2.4.1-1",
        statement="Fixed in walrus-deb 2.4.1-1, published with consent.",
        publish_after_disclosure=True,
    )
    status(
        case,
        "Private Distro",
        status="not_affected",
        justification="component_not_present",
        product="walrus-private",
        statement="Not for publication: we do not ship the parser.",
        publish_after_disclosure=False,
    )
    document = _document(case)
    text = json.dumps(document)
    assert "Fixed in walrus-deb 2.4.1-1, published with consent." in text
    products = _products(document)
    fixed_id = next(pid for pid, name in products.items() if name.startswith("Consenting Distro"))
    vulnerability = document["vulnerabilities"][0]
    assert fixed_id in vulnerability["product_status"]["fixed"]
    assert products[fixed_id] == "Consenting Distro walrus-deb 2.4.1-1"
    for secret in ("Private Distro", "walrus-private", "Not for publication"):
        assert secret not in text
    assert "known_not_affected" not in vulnerability["product_status"]
    assert "flags" not in vulnerability
    assert csaf_schema_errors(document) == []


def test_each_consenting_status_lands_in_its_csaf_product_status_with_its_flag():
    case = rich_case()
    fixed, not_affected, *_ = consenting_statuses(case)
    document = _document(case)
    products = _products(document)
    by_org = {name.split(" ")[0]: pid for pid, name in products.items() if "Distro" in name}
    statuses = document["vulnerabilities"][0]["product_status"]
    assert by_org["Fixed"] in statuses["fixed"]
    assert by_org["Unaffected"] in statuses["known_not_affected"]
    assert by_org["Affected"] in statuses["known_affected"]
    assert by_org["Looking"] in statuses["under_investigation"]
    flags = document["vulnerabilities"][0]["flags"]
    assert flags == [
        {"label": "vulnerable_code_not_present", "product_ids": [by_org["Unaffected"]]}
    ]
    notes = [note["text"] for note in document["vulnerabilities"][0]["notes"]]
    assert fixed.statement in notes and not_affected.statement in notes


def test_statements_stay_out_while_the_case_is_not_disclosed_even_with_consent():
    case = rich_case()
    consenting_statuses(case)
    loaded = advisory_export_get(public_id=case.public_id)
    # The case is withdrawn from public after loading: the statuses are checked again in
    # the database when the document is built, not taken from the loaded copy.
    type(case).objects.filter(pk=case.pk).update(state="notified")
    text = json.dumps(csaf_document(loaded))
    assert "Fixed in our 2.4.1-1 build." not in text
    assert "Fixed Distro" not in text


def test_a_new_revision_moves_the_current_release_date_and_the_version_not_the_id():
    case = rich_case()
    before = _document(case)["document"]["tracking"]
    later = DISCLOSED_AT + timedelta(days=10)
    AdvisoryRevisionFactory(vulnerability=case, number=3, published_at=later, summary="Fix link.")
    after = _document(case)["document"]["tracking"]
    assert after["id"] == before["id"] == case.public_id
    assert after["initial_release_date"] == before["initial_release_date"]
    assert (before["version"], after["version"]) == ("2", "3")
    assert after["current_release_date"] == "2026-03-12T16:00:00Z"
    assert before["current_release_date"] == "2026-03-05T16:00:00Z"
    assert [entry["number"] for entry in after["revision_history"]] == ["1", "2", "3"]
    assert after["revision_history"][-1] == {
        "number": "3",
        "date": "2026-03-12T16:00:00Z",
        "summary": "Fix link.",
    }


def test_a_case_without_revisions_gets_its_disclosure_as_the_first_revision():
    tracking = _document(minimal_case())["document"]["tracking"]
    assert tracking["version"] == "1"
    assert tracking["revision_history"] == [
        {"number": "1", "date": "2026-03-02T16:00:00Z", "summary": "Initial public release."}
    ]
    assert tracking["current_release_date"] == tracking["initial_release_date"]


def test_the_document_carries_scores_cwe_fixes_and_credit():
    document = _document(rich_case())
    vulnerability = document["vulnerabilities"][0]
    assert vulnerability["cve"] == "CVE-2026-12345"
    assert vulnerability["cwe"] == {"id": "CWE-787", "name": "Out-of-bounds Write"}
    assert vulnerability["acknowledgments"] == [{"names": ["Ada Finder"]}]
    cvss = vulnerability["scores"][0]["cvss_v3"]
    assert (cvss["baseScore"], cvss["baseSeverity"], cvss["userInteraction"]) == (
        8.1,
        "HIGH",
        "REQUIRED",
    )
    notes = {note.get("title"): note["text"] for note in vulnerability["notes"]}
    assert notes["CVSS 4.0"].startswith(CVSS_40)
    assert notes["Weakness types (CWE)"] == "CWE-787, CWE-20"
    fixes = [r for r in vulnerability["remediations"] if r["category"] == "vendor_fix"]
    assert {r["details"] for r in fixes} >= {"Upgrade walrus to version 2.4.1 or later."}
    unfixed = [r for r in vulnerability["remediations"] if r["category"] == "none_available"]
    assert len(unfixed) == 1  # the 3.0 range, affected up to 3.0.2 with no fix yet
    assert document["document"]["publisher"]["category"] == "vendor"


def test_an_unknown_cwe_gets_no_invented_name():
    case = minimal_case(cwe_ids="CWE-1333")
    vulnerability = _document(case)["vulnerabilities"][0]
    assert "cwe" not in vulnerability
    assert {"category": "other", "title": "Weakness types (CWE)", "text": "CWE-1333"} in (
        vulnerability["notes"]
    )


def test_the_publisher_comes_from_the_settings(settings):
    settings.HAULOUT_CSAF_PUBLISHER_NAME = "Walrus Security Team"
    settings.HAULOUT_CSAF_PUBLISHER_NAMESPACE = "https://walrus.example.org"
    publisher = _document(minimal_case())["document"]["publisher"]
    assert publisher == {
        "category": "vendor",
        "name": "Walrus Security Team",
        "namespace": "https://walrus.example.org",
    }


def test_nothing_private_is_in_the_document():
    case = rich_case()
    consenting_statuses(case)
    text = json.dumps(_document(case))
    for private in (PRIVATE_SUMMARY, REPORTER_EMAIL, REPORTER_NAME, VERSIONS_NOTE):
        assert private not in text


def test_a_not_affected_without_justification_gets_its_statement_as_impact():
    case = minimal_case()
    row = status(
        case,
        "Plain Distro",
        status="not_affected",
        statement="We never shipped it.",
        publish_after_disclosure=True,
    )
    document = _document(case)
    vulnerability = document["vulnerabilities"][0]
    product_id = vulnerability["product_status"]["known_not_affected"][0]
    assert vulnerability["threats"] == [
        {"category": "impact", "details": row.statement, "product_ids": [product_id]}
    ]
    assert "flags" not in vulnerability
    assert csaf_schema_errors(document) == []


def test_a_case_without_description_still_has_a_vulnerability_note():
    notes = _document(minimal_case(public_description=""))["vulnerabilities"][0]["notes"]
    assert notes == [{"category": "summary", "text": "Minimal walrus issue"}]
