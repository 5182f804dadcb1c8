"""Cases for the export tests and validators for the official schemas kept in
advisories/schemas/, which never fetch anything: every $ref must resolve to a file here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from embargo.models import Vulnerability
from feedback.models import OrganizationStatus
from tests.factories import (
    AdvisoryRevisionFactory,
    AffectedPackageFactory,
    CvssRatingFactory,
    FixReferenceFactory,
    MemberOrganizationFactory,
    OrganizationStatusFactory,
    VersionRangeFactory,
    VulnerabilityFactory,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "advisories" / "schemas"
# Where the CSAF 2.0 schema's $refs point, and the files that hold those schemas.
CVSS_SCHEMAS = {
    "https://www.first.org/cvss/cvss-v2.0.json": "cvss-v2.0.json",
    "https://www.first.org/cvss/cvss-v3.0.json": "cvss-v3.0.json",
    "https://www.first.org/cvss/cvss-v3.1.json": "cvss-v3.1.json",
}
PRIVATE_SUMMARY = "Private walrus summary: reported by Rosalind Reporter of Floe Labs"
REPORTER_EMAIL = "rosalind.reporter@floe.example"
REPORTER_NAME = "Rosalind Reporter"
VERSIONS_NOTE = "Private version note: the walrus build is affected too"
DISCLOSED_AT = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
CVSS_31 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:N"
CVSS_40 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"


class OfflineOnly(AssertionError):
    """A schema asked for a document that is not in advisories/schemas/."""


def _refuse(uri: str):
    raise OfflineOnly(f"the schema wanted {uri}, which is not kept in advisories/schemas/")


def _load(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in value


def _uri(value) -> bool:
    if not isinstance(value, str):
        return True
    # An absolute URI (RFC 3986): a scheme; a web address also needs its host.
    parts = urlsplit(value)
    if not parts.scheme or any(character.isspace() for character in value):
        return False
    return bool(parts.netloc) or parts.scheme not in {"http", "https"}


# jsonschema checks date-time and uri only with optional packages this project does not
# install; these two stand in, so a malformed timestamp or a relative link still fails.
FORMATS = FormatChecker()
FORMATS.checks("date-time")(_date_time)
FORMATS.checks("uri")(_uri)


def offline_registry() -> Registry:
    """The CVSS schemas under the addresses CSAF refers to; any other address fails."""
    resources = [(uri, Resource.from_contents(_load(name))) for uri, name in CVSS_SCHEMAS.items()]
    return Registry(retrieve=_refuse).with_resources(resources)


def csaf_validator() -> Draft202012Validator:
    schema = _load("csaf_json_schema.json")
    return Draft202012Validator(schema, registry=offline_registry(), format_checker=FORMATS)


def osv_validator() -> Draft202012Validator:
    schema = _load("osv_schema.json")
    return Draft202012Validator(schema, registry=offline_registry(), format_checker=FORMATS)


def _path(error) -> list:
    return list(error.absolute_path)


def osv_schema_errors(record: dict) -> list:
    """Every way the record breaks the OSV schema but one: the id prefix. OSV's schema
    accepts only the home databases registered with OSV (GHSA-, PYSEC-, …); this project
    is not registered, so our ids cannot match until it is (see the README in
    advisories/schemas/). test_osv checks that this really is the only error."""
    errors = osv_validator().iter_errors(record)
    return [e for e in errors if not (_path(e) == ["id"] and e.validator == "pattern")]


def csaf_schema_errors(document: dict) -> list:
    return list(csaf_validator().iter_errors(document))


def disclose(case: Vulnerability, *, at: datetime = DISCLOSED_AT) -> Vulnerability:
    case.state = Vulnerability.State.DISCLOSED
    case.disclosed_at = at
    case.save(update_fields=["state", "disclosed_at"])
    return case


def minimal_case(**fields) -> Vulnerability:
    """A disclosed case with a title and nothing else public."""
    return disclose(VulnerabilityFactory(**{"title": "Minimal walrus issue", **fields}))


def _packages(case: Vulnerability) -> None:
    git = AffectedPackageFactory(
        vulnerability=case,
        ecosystem="GIT",
        name="walrus",
        purl="",
        repository_url="https://git.example.org/walrus/walrus.git",
        position=0,
    )
    VersionRangeFactory(package=git, introduced="a" * 40, fixed="b" * 40)
    pypi = AffectedPackageFactory(
        vulnerability=case, ecosystem="PyPI", name="walrus", purl="pkg:pypi/walrus", position=1
    )
    VersionRangeFactory(package=pypi, introduced="2.0", fixed="2.4.1")
    VersionRangeFactory(package=pypi, introduced="3.0", fixed="", last_affected="3.0.2")
    npm = AffectedPackageFactory(
        vulnerability=case, ecosystem="npm", name="walrus-js", purl="pkg:npm/walrus-js", position=2
    )
    VersionRangeFactory(package=npm, introduced="0", fixed="1.2.0")


def _fix_references(case: Vulnerability) -> None:
    FixReferenceFactory(
        vulnerability=case, kind="commit", url="https://git.example.org/walrus/commit/" + "b" * 40
    )
    FixReferenceFactory(
        vulnerability=case,
        kind="release",
        url="https://pypi.example.org/project/walrus/2.4.1/",
        note="Release 2.4.1",
    )
    # A commit with no public URL yet: nothing to link to.
    FixReferenceFactory(vulnerability=case, kind="patch", url="", commit="c" * 12)


def rich_case() -> Vulnerability:
    """A disclosed case with every public part: GIT and package ranges, fix links, both
    CVSS versions, a credit, CWEs, two revisions; and private parts that must stay out."""
    case = VulnerabilityFactory(
        title="Heap overflow in the walrus parser",
        summary=PRIVATE_SUMMARY,
        reporter_name=REPORTER_NAME,
        reporter_email=REPORTER_EMAIL,
        versions_note=VERSIONS_NOTE,
        public_description="A crafted **walrus** file overflows a heap buffer.",
        mitigation="Reject walrus files from untrusted sources.",
        cve_id="CVE-2026-12345",
        cwe_ids="CWE-787, CWE-20",
        credit="Ada Finder",
        cvss_score="8.1",
        cvss_severity="High",
        cvss_version="3.1",
        cvss_vector=CVSS_31,
    )
    disclose(case)
    _packages(case)
    _fix_references(case)
    CvssRatingFactory(vulnerability=case, vector=CVSS_31, score="8.1", severity="High")
    CvssRatingFactory(vulnerability=case, version="4.0", vector=CVSS_40, score="9.3")
    AdvisoryRevisionFactory(vulnerability=case, number=1, published_at=DISCLOSED_AT)
    AdvisoryRevisionFactory(
        vulnerability=case,
        number=2,
        published_at=DISCLOSED_AT + timedelta(days=3),
        summary="Added the npm package.",
    )
    return case


def status(case: Vulnerability, organization_name: str, **fields) -> OrganizationStatus:
    organization = MemberOrganizationFactory(name=organization_name)
    return OrganizationStatusFactory(vulnerability=case, organization=organization, **fields)


def consenting_statuses(case: Vulnerability, *, tag: str = "") -> list[OrganizationStatus]:
    """One consenting organisation for each status (`tag` keeps names unique)."""
    return [
        status(
            case,
            f"Fixed Distro{tag}",
            status="fixed",
            product="walrus-pkg",
            fixed_version="2.4.1-1",
            statement="Fixed in our 2.4.1-1 build.",
            publish_after_disclosure=True,
        ),
        status(
            case,
            f"Unaffected Distro{tag}",
            status="not_affected",
            justification="vulnerable_code_not_present",
            product="walrus",
            statement="We build without the parser.",
            publish_after_disclosure=True,
        ),
        status(
            case,
            f"Affected Distro{tag}",
            status="affected",
            statement="A fix is on its way.",
            publish_after_disclosure=True,
        ),
        status(
            case,
            f"Looking Distro{tag}",
            status="under_investigation",
            publish_after_disclosure=True,
        ),
    ]
