"""A disclosed case as an OSV record (https://ossf.github.io/osv-schema/), the format
vulnerability scanners and mirrors read.

Only public fields go in: the title, the public description and mitigation, the CVE and
CWE ids, the structured packages and ranges, fix links, CVSS vectors and the credit the
reporter asked for. Never the private summary, the reporter's name or address, nor the
free-text version note.

Expects a case from advisories.selectors (its relations prefetched); passing any other
case still works, with a query per relation."""

from __future__ import annotations

from advisories.common import advisory_url, modified_at, published_at, rfc3339
from embargo.models import AffectedPackage, CvssRating, Vulnerability

# The version of the OSV schema the records are written for and tested against
# (advisories/schemas/osv_schema.json).
OSV_SCHEMA_VERSION = "1.6.7"
SEVERITY_TYPES = {CvssRating.Version.V3_1: "CVSS_V3", CvssRating.Version.V4_0: "CVSS_V4"}


def osv_details(case: Vulnerability) -> str:
    """The public description, and the mitigation under its own heading (both Markdown,
    which OSV's details field is)."""
    parts = [case.public_description.strip()]
    if case.mitigation.strip():
        parts.append("## Mitigation\n\n" + case.mitigation.strip())
    return "\n\n".join(part for part in parts if part)


def _events(version_range) -> list[dict]:
    events = [{"introduced": version_range.introduced or "0"}]
    if version_range.fixed:
        events.append({"fixed": version_range.fixed})
    elif version_range.last_affected:
        events.append({"last_affected": version_range.last_affected})
    return events


def _affected(package: AffectedPackage) -> dict | None:
    ranges = list(package.ranges.all())
    if package.ecosystem == AffectedPackage.Ecosystem.GIT:
        # Commits in the upstream repository: OSV names no package, only the repo.
        if not package.repository_url:
            return None
        return {
            "ranges": [
                {"type": "GIT", "repo": package.repository_url, "events": _events(row)}
                for row in ranges
            ]
        }
    entry: dict = {"package": {"ecosystem": package.ecosystem, "name": package.name}}
    if package.purl:
        entry["package"]["purl"] = package.purl
    if ranges:
        entry["ranges"] = [{"type": "ECOSYSTEM", "events": _events(row)} for row in ranges]
    return entry


def _severity(case: Vulnerability) -> list[dict]:
    ratings = sorted(case.cvss_ratings.all(), key=lambda rating: rating.version)
    return [
        {"type": SEVERITY_TYPES[rating.version], "score": rating.vector}
        for rating in ratings
        if rating.version in SEVERITY_TYPES
    ]


def _references(case: Vulnerability) -> list[dict]:
    references = [{"type": "ADVISORY", "url": advisory_url(case)}]
    for fix in case.fix_references.all():
        if fix.url:
            references.append({"type": "FIX", "url": fix.url})
    return references


def osv_record(case: Vulnerability) -> dict:
    """The OSV record of a disclosed case."""
    record: dict = {
        "schema_version": OSV_SCHEMA_VERSION,
        "id": case.public_id,
        "modified": rfc3339(modified_at(case)),
        "published": rfc3339(published_at(case)),
        "summary": case.title,
        "references": _references(case),
    }
    if case.cve_id:
        record["aliases"] = [case.cve_id]
    details = osv_details(case)
    if details:
        record["details"] = details
    affected = [entry for entry in map(_affected, case.packages.all()) if entry]
    if affected:
        record["affected"] = affected
    severity = _severity(case)
    if severity:
        record["severity"] = severity
    if case.credit:
        record["credits"] = [{"name": case.credit, "type": "FINDER"}]
    if case.cwe_id_list:
        # Where GitHub's advisory database puts them too; OSV has no field of its own.
        record["database_specific"] = {"cwe_ids": case.cwe_id_list}
    return record


def osv_index_entry(*, public_id: str, modified) -> dict:
    return {"id": public_id, "modified": rfc3339(modified)}
