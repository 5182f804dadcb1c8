"""The OSV records and CSAF documents validate against the official JSON schemas kept in
advisories/schemas/ (see its README), offline."""

from __future__ import annotations

import hashlib

import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from advisories.csaf import csaf_document
from advisories.osv import osv_record
from advisories.selectors import advisory_export_get
from tests.advisories.helpers import (
    SCHEMAS,
    OfflineOnly,
    consenting_statuses,
    csaf_schema_errors,
    csaf_validator,
    minimal_case,
    offline_registry,
    osv_schema_errors,
    osv_validator,
    rich_case,
)

pytestmark = pytest.mark.django_db

# The files exactly as published (advisories/schemas/README.md names their sources).
SHA256 = {
    "csaf_json_schema.json": "29c114b35b0a30831f1674f2ab8b3ed9b2890cfeaa63b924ac6ed9d70ef44262",
    "cvss-v2.0.json": "cd1a7c0815b7a47dc12fb7dded10622b96d562841f7bc6d2d8765c5d937a28f2",
    "cvss-v3.0.json": "b2b587e5dfa6d9a4be89e25cb593df04f14e7ffbe8fe5b167ceee17b6097d919",
    "cvss-v3.1.json": "77ff3df106e4588e2bb5c9cf0237f962c62d35c5002443c4bf7cc7ca16ee171f",
    "osv_schema.json": "b769e23a12078b258ef4d2410f036eedbf23e84815e76f29aa358e43b0bd2a0d",
}


def _loaded(case):
    return advisory_export_get(public_id=case.public_id)


def _messages(errors) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in errors]


@pytest.mark.parametrize("name", sorted(SHA256))
def test_the_kept_schema_files_are_unchanged(name):
    digest = hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest()
    assert digest == SHA256[name]


@pytest.mark.parametrize("validator", [csaf_validator, osv_validator], ids=["csaf", "osv"])
def test_the_schemas_are_valid_json_schemas(validator):
    # Checked against the 2020-12 meta-schema jsonschema ships, so offline too.
    Draft202012Validator.check_schema(validator().schema)


def test_a_rich_osv_record_validates_against_the_osv_schema():
    case = rich_case()
    record = osv_record(_loaded(case))
    assert _messages(osv_schema_errors(record)) == []
    assert {entry["type"] for entry in record["severity"]} == {"CVSS_V3", "CVSS_V4"}


def test_a_minimal_osv_record_validates_against_the_osv_schema():
    record = osv_record(_loaded(minimal_case()))
    assert _messages(osv_schema_errors(record)) == []


def test_the_only_osv_rule_broken_is_the_unregistered_id_prefix():
    # If OSV registers the project's prefix (and the schema file is updated), this fails
    # and osv_schema_errors can stop making an exception.
    record = osv_record(_loaded(rich_case()))
    errors = list(osv_validator().iter_errors(record))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [(["id"], "pattern")]


def test_a_broken_osv_record_is_caught_by_the_validation():
    record = osv_record(_loaded(rich_case()))
    record["modified"] = "2026-03-02 16:00"
    record["severity"][0]["score"] = "not a vector"
    record["affected"][0]["ranges"][0].pop("repo")
    paths = {tuple(e.absolute_path) for e in osv_schema_errors(record)}
    assert ("modified",) in paths
    assert ("severity", 0, "score") in paths
    assert ("affected", 0, "ranges", 0) in paths


def test_a_rich_csaf_document_validates_against_the_csaf_schema():
    case = rich_case()
    consenting_statuses(case)
    document = csaf_document(_loaded(case))
    assert _messages(csaf_schema_errors(document)) == []
    assert document["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseScore"] == 8.1


def test_a_minimal_csaf_document_validates_against_the_csaf_schema():
    document = csaf_document(_loaded(minimal_case()))
    assert _messages(csaf_schema_errors(document)) == []


def test_a_broken_csaf_document_is_caught_including_inside_the_cvss_schema():
    case = rich_case()
    document = csaf_document(_loaded(case))
    document["document"]["tracking"]["current_release_date"] = "yesterday"
    document["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseSeverity"] = "SEVERE"
    document["product_tree"]["branches"][0]["category"] = "shop"
    messages = " ".join(_messages(csaf_schema_errors(document)))
    assert "current_release_date" in messages
    assert "cvss_v3" in messages
    assert "'shop' is not one of" in messages


def test_an_unknown_ref_fails_instead_of_being_fetched():
    schema = {"$ref": "https://schemas.example.org/elsewhere.json"}
    validator = Draft202012Validator(schema, registry=offline_registry())
    with pytest.raises(Unresolvable) as raised:
        validator.validate({})
    chain, error = [], raised.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(link, OfflineOnly) for link in chain)
