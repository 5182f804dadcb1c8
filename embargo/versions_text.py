"""Affected packages and their ranges as one readable line, for the case page, the
advisory and the outer-subject guard ("PyPI pinniped < 2.4.1; npm pinniped-js >= 1.0,
<= 1.2"). Pure functions over rows already loaded: callers prefetch the ranges."""

from __future__ import annotations

from collections.abc import Iterable

from embargo.models import AffectedPackage, VersionRange


def range_text(version_range: VersionRange) -> str:
    """ ">= 1.0, < 1.4.2"; "0" as introduced means every earlier version, so it is left
    out ("< 2.4.1"); without an end the range is open (">= 1.0")."""
    parts = []
    if version_range.introduced and version_range.introduced != "0":
        parts.append(f">= {version_range.introduced}")
    if version_range.fixed:
        parts.append(f"< {version_range.fixed}")
    elif version_range.last_affected:
        parts.append(f"<= {version_range.last_affected}")
    return ", ".join(parts) or "every version"


def package_text(package: AffectedPackage) -> str:
    label = f"{package.ecosystem} {package.name}"
    ranges = [range_text(version_range) for version_range in package.ranges.all()]
    return f"{label} {' or '.join(ranges)}" if ranges else label


def packages_text(packages: Iterable[AffectedPackage]) -> str:
    return "; ".join(package_text(package) for package in packages)
