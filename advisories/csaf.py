"""A disclosed case as a CSAF 2.0 security advisory (OASIS Common Security Advisory
Framework), the format vendors and distributors exchange advisories in.

The product tree holds the project's packages with their affected version ranges and
fixed versions and, for each organisation that agreed to publication, that
organisation's product with its status (VEX: fixed, not affected with the CISA
justification, affected, under investigation) and its statement. Those statuses come from
advisories.selectors.statuses_for_export only, which checks consent and disclosure in the
database: an organisation that did not agree is not named anywhere in the document.

Never exported: the private summary, the reporter's name and address, the version note."""

from __future__ import annotations

from dataclasses import dataclass, field

from cvss import CVSS3, CVSSError
from django.conf import settings

from advisories.common import (
    advisory_url,
    export_url,
    modified_at,
    published_at,
    revisions_of,
    rfc3339,
)
from advisories.cwe import cwe_entry
from advisories.selectors import statuses_for_export
from embargo.models import AffectedPackage, CvssRating, Vulnerability
from feedback.models import OrganizationStatus

GENERATOR = {"engine": {"name": "Haulout"}}
# OSV ecosystem -> the "vers" scheme CSAF recommends for product_version_range names.
VERS_SCHEMES = {
    "PyPI": "pypi",
    "npm": "npm",
    "Go": "golang",
    "Maven": "maven",
    "crates.io": "cargo",
    "NuGet": "nuget",
    "RubyGems": "gem",
    "Packagist": "composer",
    "Debian": "deb",
    "Alpine": "apk",
}
Status = OrganizationStatus.Status


@dataclass
class _Tree:
    """The product tree being built and, per CSAF product status, its product ids."""

    branches: list = field(default_factory=list)
    # The project's own affected products (the CVSS score is about these only).
    project_affected: list = field(default_factory=list)
    known_affected: list = field(default_factory=list)
    fixed: list = field(default_factory=list)
    known_not_affected: list = field(default_factory=list)
    under_investigation: list = field(default_factory=list)
    remediations: list = field(default_factory=list)
    flags: dict = field(default_factory=dict)
    threats: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _leaf(category: str, name: str, product_name: str, product_id: str, purl: str = "") -> dict:
    product: dict = {"name": product_name, "product_id": product_id}
    if purl:
        product["product_identification_helper"] = {"purl": purl}
    return {"category": category, "name": name, "product": product}


def _package_label(package: AffectedPackage) -> str:
    if package.ecosystem == AffectedPackage.Ecosystem.GIT:
        return package.repository_url or package.name
    return f"{package.name} ({package.ecosystem})"


def _range_name(package: AffectedPackage, version_range) -> str:
    """A vers range for packages, plain words for commits (vers has no scheme for them)."""
    start = version_range.introduced or "0"
    if package.ecosystem == AffectedPackage.Ecosystem.GIT:
        end = version_range.fixed or version_range.last_affected
        words = "before commit" if version_range.fixed else "up to and including commit"
        since = "" if start == "0" else f"from commit {start} "
        return f"{since}{words} {end}".strip() if end else f"from commit {start} on"
    parts = [] if start == "0" else [f">={start}"]
    if version_range.fixed:
        parts.append(f"<{version_range.fixed}")
    elif version_range.last_affected:
        parts.append(f"<={version_range.last_affected}")
    scheme = VERS_SCHEMES.get(package.ecosystem, "generic")
    return f"vers:{scheme}/{'|'.join(parts) or '*'}"


def _fix_details(package: AffectedPackage, fixed: str) -> str:
    if package.ecosystem == AffectedPackage.Ecosystem.GIT:
        return f"Apply commit {fixed} of {_package_label(package)}, or update past it."
    return f"Upgrade {package.name} to version {fixed} or later."


def _fix_url(case: Vulnerability, package: AffectedPackage) -> str:
    """The fixing commit of a GIT range. A release link is not given per package: the
    case's fix references do not say which package a release belongs to (they are all in
    the vulnerability's references)."""
    if package.ecosystem != AffectedPackage.Ecosystem.GIT:
        return ""
    for fix in case.fix_references.all():
        if fix.kind in ("commit", "patch") and fix.url:
            return fix.url
    return ""


def _package_branch(case: Vulnerability, index: int, package: AffectedPackage, tree) -> dict:
    label = _package_label(package)
    leaves = []
    for number, version_range in enumerate(package.ranges.all(), start=1):
        affected_id = f"{case.public_id}-P{index}-R{number}"
        name = _range_name(package, version_range)
        leaves.append(
            _leaf("product_version_range", name, f"{label} {name}", affected_id, package.purl)
        )
        tree.known_affected.append(affected_id)
        if not version_range.fixed:
            tree.remediations.append(
                {
                    "category": "none_available",
                    "details": "No fixed version has been released for this range.",
                    "product_ids": [affected_id],
                }
            )
            continue
        fixed_id = f"{case.public_id}-P{index}-F{number}"
        fixed_name = f"{label} {version_range.fixed}"
        leaves.append(_leaf("product_version", version_range.fixed, fixed_name, fixed_id))
        tree.fixed.append(fixed_id)
        remediation = {
            "category": "vendor_fix",
            "details": _fix_details(package, version_range.fixed),
            "product_ids": [affected_id],
        }
        url = _fix_url(case, package)
        if url:
            remediation["url"] = url
        tree.remediations.append(remediation)
    if not leaves:
        # A package named without ranges: every version is affected.
        product_id = f"{case.public_id}-P{index}"
        tree.known_affected.append(product_id)
        return _leaf("product_name", label, label, product_id, package.purl)
    return {"category": "product_name", "name": label, "branches": leaves}


def _project_products(case: Vulnerability, tree: _Tree) -> None:
    """The project's own products under the publisher's vendor branch. A case without
    structured packages is about the project as a whole, every version affected."""
    packages = list(case.packages.all())
    branches = [
        _package_branch(case, index, package, tree)
        for index, package in enumerate(packages, start=1)
    ]
    if not branches:
        project = settings.PROJECT_NAME
        product_id = f"{case.public_id}-P1"
        tree.known_affected.append(product_id)
        branches = [_leaf("product_name", project, project, product_id)]
    tree.project_affected = list(tree.known_affected)
    if case.mitigation.strip():
        tree.remediations.append(
            {
                "category": "mitigation",
                "details": case.mitigation.strip(),
                "product_ids": tree.project_affected,
            }
        )
    vendor = settings.HAULOUT_CSAF_PUBLISHER_NAME
    tree.branches.append({"category": "vendor", "name": vendor, "branches": branches})


def _organization_product(case: Vulnerability, index: int, row: OrganizationStatus, tree) -> None:
    """One consenting organisation: a vendor branch with its product, the product in the
    status list for its answer, and its statement as a note."""
    organization = row.organization.name
    product = row.product or "package"
    product_id = f"{case.public_id}-V{index}"
    full_name = f"{organization} {product}"
    if row.status == Status.FIXED and row.fixed_version:
        version_name = f"{full_name} {row.fixed_version}"
        version = _leaf("product_version", row.fixed_version, version_name, product_id)
        leaf = {"category": "product_name", "name": product, "branches": [version]}
    else:
        leaf = _leaf("product_name", product, full_name, product_id)
    tree.branches.append({"category": "vendor", "name": organization, "branches": [leaf]})
    if row.status == Status.FIXED:
        tree.fixed.append(product_id)
    elif row.status == Status.AFFECTED:
        tree.known_affected.append(product_id)
    elif row.status == Status.NOT_AFFECTED:
        tree.known_not_affected.append(product_id)
        if row.justification:
            tree.flags.setdefault(row.justification, []).append(product_id)
        else:
            # CSAF wants a reason for every "not affected": without a justification label
            # the organisation's own words are the impact statement.
            details = row.statement.strip() or f"{organization} states it is not affected."
            tree.threats.append(
                {"category": "impact", "details": details, "product_ids": [product_id]}
            )
    else:
        tree.under_investigation.append(product_id)
    if row.statement.strip():
        tree.notes.append(
            {"category": "other", "title": f"Statement by {organization}", "text": row.statement}
        )


def _tree_for(case: Vulnerability) -> _Tree:
    tree = _Tree()
    _project_products(case, tree)
    for index, row in enumerate(statuses_for_export(vulnerability=case), start=1):
        _organization_product(case, index, row, tree)
    return tree


def _cvss_v3(rating: CvssRating) -> dict:
    """FIRST's CVSS 3.1 JSON form, metric by metric, from the cvss library."""
    try:
        return CVSS3(rating.vector).as_json(minimal=True)
    except CVSSError:
        # A stored vector the library now refuses still has its score and severity.
        return {
            "version": "3.1",
            "vectorString": rating.vector,
            "baseScore": float(rating.score),
            "baseSeverity": rating.severity.upper(),
        }


def _scores_and_notes(case: Vulnerability, tree: _Tree) -> tuple[list, list]:
    ratings = {rating.version: rating for rating in case.cvss_ratings.all()}
    scores, notes = [], []
    v3 = ratings.get(CvssRating.Version.V3_1)
    if v3 and tree.project_affected:
        scores.append({"products": tree.project_affected, "cvss_v3": _cvss_v3(v3)})
    v4 = ratings.get(CvssRating.Version.V4_0)
    if v4:
        # CSAF 2.0 has no CVSS 4.0 field (2.1 adds one): the vector goes in a note.
        text = f"{v4.vector} (base score {v4.score}, {v4.severity})"
        notes.append({"category": "other", "title": "CVSS 4.0", "text": text})
    return scores, notes


def _vulnerability(case: Vulnerability, tree: _Tree) -> dict:
    scores, score_notes = _scores_and_notes(case, tree)
    # The security advisory profile wants a note on every vulnerability: the title
    # stands in when there is no public description.
    description = case.public_description.strip()
    notes = [
        {"category": "description", "text": description}
        if description
        else {"category": "summary", "text": case.title}
    ]
    if case.cwe_id_list:
        # CSAF 2.0 holds a single CWE; all of the team's ids are listed here.
        text = ", ".join(case.cwe_id_list)
        notes.append({"category": "other", "title": "Weakness types (CWE)", "text": text})
    notes += score_notes + tree.notes
    entry: dict = {"title": case.title, "release_date": rfc3339(published_at(case))}
    if case.cve_id:
        entry["cve"] = case.cve_id
    cwe = cwe_entry(case.cwe_id_list)
    if cwe:
        entry["cwe"] = cwe
    if case.credit:
        entry["acknowledgments"] = [{"names": [case.credit]}]
    statuses = {
        name: getattr(tree, name)
        for name in ("fixed", "known_affected", "known_not_affected", "under_investigation")
        if getattr(tree, name)
    }
    optional = {
        "notes": notes,
        "product_status": statuses,
        "scores": scores,
        "remediations": tree.remediations,
        "threats": tree.threats,
        "flags": [{"label": label, "product_ids": ids} for label, ids in tree.flags.items()],
        "references": _fix_references(case),
    }
    entry.update({key: value for key, value in optional.items() if value})
    return entry


def _fix_references(case: Vulnerability) -> list[dict]:
    references = []
    for fix in case.fix_references.all():
        if fix.url:
            summary = fix.note or f"The fix ({fix.get_kind_display().lower()})."
            references.append({"category": "external", "summary": summary, "url": fix.url})
    return references


def _tracking(case: Vulnerability) -> dict:
    revisions = revisions_of(case)
    return {
        "id": case.public_id,
        "status": "final",
        "version": str(revisions[-1].number),
        "initial_release_date": rfc3339(published_at(case)),
        "current_release_date": rfc3339(modified_at(case)),
        "revision_history": [
            {
                "number": str(revision.number),
                "date": rfc3339(revision.published_at),
                "summary": revision.summary,
            }
            for revision in revisions
        ],
        "generator": GENERATOR,
    }


def _document(case: Vulnerability) -> dict:
    notes = [{"category": "summary", "title": "Summary", "text": case.title}]
    if case.public_description.strip():
        notes.append({"category": "description", "text": case.public_description.strip()})
    if case.mitigation.strip():
        notes.append({"category": "general", "title": "Mitigation", "text": case.mitigation})
    document = {
        "category": "csaf_security_advisory",
        "csaf_version": "2.0",
        "lang": "en",
        "title": f"{case.public_id}: {case.title}",
        "publisher": {
            "category": "vendor",
            "name": settings.HAULOUT_CSAF_PUBLISHER_NAME,
            "namespace": settings.HAULOUT_CSAF_PUBLISHER_NAMESPACE,
        },
        "distribution": {"text": "Public advisory.", "tlp": {"label": "WHITE"}},
        "tracking": _tracking(case),
        "notes": notes,
        "references": [
            {"category": "self", "summary": "This document.", "url": export_url("csaf", case)},
            {"category": "external", "summary": "The advisory.", "url": advisory_url(case)},
            {"category": "external", "summary": "OSV record.", "url": export_url("osv", case)},
        ],
    }
    if case.cvss_severity:
        document["aggregate_severity"] = {"text": case.cvss_severity}
    return document


def csaf_document(case: Vulnerability) -> dict:
    """The CSAF 2.0 security advisory of a disclosed case."""
    tree = _tree_for(case)
    return {
        "document": _document(case),
        "product_tree": {"branches": tree.branches},
        "vulnerabilities": [_vulnerability(case, tree)],
    }
