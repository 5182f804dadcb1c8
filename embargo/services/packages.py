"""A case's affected packages, their version ranges, the references to the fix, and
where the fix stands.

A rejected case can no longer change. A disclosed one can still be corrected, but every
change is then a new revision of the public advisory (embargo/services/revisions.py).
Audit data holds ids and enum values only: names and versions are embargoed until the
case is disclosed (a package and version range say where to look for the bug)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from packageurl import PackageURL

from core.audit import audit_record
from embargo.models import AffectedPackage, FixReference, FixState, VersionRange, Vulnerability
from embargo.services.revisions import advisory_revision_if_public

Ecosystem = AffectedPackage.Ecosystem

NAME_MAX_LENGTH = 200
PURL_MAX_LENGTH = 300
REPOSITORY_URL_MAX_LENGTH = 300
VERSION_MAX_LENGTH = 100
FIX_URL_MAX_LENGTH = 500
NOTE_MAX_LENGTH = 300
PACKAGES_MAX = 50
RANGES_MAX = 20
FIX_REFERENCES_MAX = 30
# The purl types (https://github.com/package-url/purl-spec) that name a package of each
# ecosystem; GIT, the upstream repository, is named by its hosting service's type.
PURL_TYPES = {
    Ecosystem.PYPI: {"pypi"},
    Ecosystem.NPM: {"npm"},
    Ecosystem.GO: {"golang"},
    Ecosystem.MAVEN: {"maven"},
    Ecosystem.CRATES_IO: {"cargo"},
    Ecosystem.NUGET: {"nuget"},
    Ecosystem.RUBYGEMS: {"gem"},
    Ecosystem.PACKAGIST: {"composer"},
    Ecosystem.DEBIAN: {"deb"},
    Ecosystem.ALPINE: {"apk"},
    Ecosystem.GIT: {"github", "gitlab", "bitbucket", "generic"},
}
# OSV writes a Maven package as group:artifact; the others with a namespace as
# namespace/name (npm's @scope/name, Go's module path, Packagist's vendor/name).
_NAME_JOIN = {Ecosystem.MAVEN: ":"}
# A commit id, full (SHA-1 or SHA-256) or abbreviated as git shows it.
COMMIT_RE = re.compile(r"^[0-9a-f]{7,64}$")
_WHITESPACE = re.compile(r"\s")
_web_url = URLValidator(schemes=["https", "http"])
# A release can be dated "today" wherever it was made: UTC+14 is a day ahead of UTC.
RELEASE_DATE_LEEWAY = timedelta(hours=14)

FIX_STATE_SUMMARY = "Updated the fix status"


# ---------------------------------------------------------------- checks


def _case_locked(vulnerability_id: int) -> Vulnerability:
    case = Vulnerability.objects.select_for_update().get(pk=vulnerability_id)
    if case.state == Vulnerability.State.REJECTED:
        raise ValidationError("A rejected case can no longer be changed.")
    return case


def _text(value, *, field: str, limit: int, errors: dict, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        errors.setdefault(field, []).append("This field is required.")
    elif len(value) > limit:
        errors.setdefault(field, []).append(f"At most {limit} characters, please.")
    return value


def _url(value, *, field: str, limit: int, errors: dict) -> str:
    value = _text(value, field=field, limit=limit, errors=errors)
    if value and field not in errors:
        try:
            _web_url(value)
        except ValidationError:
            errors.setdefault(field, []).append("Enter a web address starting with https://.")
    return value


def version_clean(value, *, field: str, errors: dict, required: bool = False) -> str:
    """A version (or, for GIT, a commit) as the ecosystem writes it: one word, no spaces."""
    value = (value or "").strip()
    if not value:
        if required:
            errors.setdefault(field, []).append("This field is required.")
    elif _WHITESPACE.search(value):
        errors.setdefault(field, []).append("A version has no spaces in it.")
    elif len(value) > VERSION_MAX_LENGTH:
        errors.setdefault(field, []).append(f"At most {VERSION_MAX_LENGTH} characters, please.")
    return value


def purl_clean(value: str, *, ecosystem: str, errors: dict) -> tuple[str, str]:
    """The package URL in its canonical spelling and the package name it suggests, or
    ("", "") when none was given. Its type must be the ecosystem's."""
    value = (value or "").strip()
    if not value:
        return "", ""
    if len(value) > PURL_MAX_LENGTH:
        errors.setdefault("purl", []).append(f"At most {PURL_MAX_LENGTH} characters, please.")
        return value, ""
    try:
        purl = PackageURL.from_string(value)
    except ValueError:
        errors.setdefault("purl", []).append(
            "Not a package URL. Write it as pkg:type/namespace/name, e.g. pkg:pypi/django."
        )
        return value, ""
    expected = PURL_TYPES.get(ecosystem, set())
    if ecosystem in PURL_TYPES and purl.type not in expected:
        errors.setdefault("purl", []).append(
            f"A {purl.type} package URL does not name a {ecosystem} package; "
            f"use pkg:{sorted(expected)[0]}/…"
        )
    if purl.version:
        errors.setdefault("purl", []).append(
            "Leave the version out of the package URL; the ranges say which versions."
        )
    join = _NAME_JOIN.get(ecosystem, "/")
    name = f"{purl.namespace}{join}{purl.name}" if purl.namespace else purl.name
    if ecosystem in (Ecosystem.DEBIAN, Ecosystem.ALPINE):
        name = purl.name  # the namespace is the distribution, not part of the name
    return purl.to_string(), name


def _package_clean(*, ecosystem, name, purl, repository_url) -> dict:
    errors: dict[str, list[str]] = {}
    if ecosystem not in Ecosystem.values:
        errors["ecosystem"] = ["Choose an ecosystem from the list."]
    purl, suggested = purl_clean(purl, ecosystem=ecosystem, errors=errors)
    name = _text(name, field="name", limit=NAME_MAX_LENGTH, errors=errors) or suggested
    if not name and "name" not in errors:
        errors["name"] = ["Give the package's name (or a package URL it can be read from)."]
    elif _WHITESPACE.search(name):
        errors.setdefault("name", []).append("A package name has no spaces in it.")
    repository_url = _url(
        repository_url, field="repository_url", limit=REPOSITORY_URL_MAX_LENGTH, errors=errors
    )
    if ecosystem == Ecosystem.GIT and not repository_url and "repository_url" not in errors:
        errors["repository_url"] = [
            "Give the repository's address: a git range is made of its commits."
        ]
    if errors:
        raise ValidationError(errors)
    return {"ecosystem": ecosystem, "name": name, "purl": purl, "repository_url": repository_url}


def _unique_package(case: Vulnerability, fields: dict, *, exclude_pk: int | None = None) -> None:
    same = AffectedPackage.objects.filter(
        vulnerability=case, ecosystem=fields["ecosystem"], name=fields["name"]
    )
    if same.exclude(pk=exclude_pk).exists():
        raise ValidationError({"name": ["The case already lists this package."]})


def _case_changed(case: Vulnerability, *, actor, action: str, data: dict, summary: str) -> None:
    """What every change of a case's packages, ranges or fix references does after it:
    the case is marked updated, the change audited, and a disclosed case's advisory gets
    a new revision with `summary`."""
    case.updated_at = timezone.now()
    case.save(update_fields=["updated_at"])
    audit_record(actor=actor, action=action, target=case, data=data)
    advisory_revision_if_public(case=case, summary=summary, actor=actor)


# ---------------------------------------------------------------- packages


@transaction.atomic
def affected_package_add(
    *,
    vulnerability: Vulnerability,
    actor,
    ecosystem: str,
    name: str = "",
    purl: str = "",
    repository_url: str = "",
) -> AffectedPackage:
    case = _case_locked(vulnerability.pk)
    fields = _package_clean(
        ecosystem=ecosystem, name=name, purl=purl, repository_url=repository_url
    )
    _unique_package(case, fields)
    existing = AffectedPackage.objects.filter(vulnerability=case)
    if existing.count() >= PACKAGES_MAX:
        raise ValidationError(f"A case lists at most {PACKAGES_MAX} packages.")
    last = existing.aggregate(last=Max("position"))["last"]
    try:
        with transaction.atomic():
            package = AffectedPackage.objects.create(
                vulnerability=case, position=0 if last is None else last + 1, **fields
            )
    except IntegrityError as error:  # the same package added at the same moment
        raise ValidationError({"name": ["The case already lists this package."]}) from error
    _case_changed(
        case,
        actor=actor,
        action="vulnerability.package_added",
        data={"package": package.pk, "ecosystem": package.ecosystem},
        summary="Updated affected packages",
    )
    return package


@transaction.atomic
def affected_package_update(
    *,
    package: AffectedPackage,
    actor,
    ecosystem: str,
    name: str = "",
    purl: str = "",
    repository_url: str = "",
) -> AffectedPackage:
    case = _case_locked(package.vulnerability_id)
    package = AffectedPackage.objects.get(pk=package.pk)
    fields = _package_clean(
        ecosystem=ecosystem, name=name, purl=purl, repository_url=repository_url
    )
    changed = [field for field, value in fields.items() if getattr(package, field) != value]
    if not changed:
        return package
    _unique_package(case, fields, exclude_pk=package.pk)
    for field in changed:
        setattr(package, field, fields[field])
    package.save(update_fields=changed)
    _case_changed(
        case,
        actor=actor,
        action="vulnerability.package_updated",
        data={"package": package.pk, "ecosystem": package.ecosystem, "fields": sorted(changed)},
        summary="Updated affected packages",
    )
    return package


@transaction.atomic
def affected_package_remove(*, package: AffectedPackage, actor) -> None:
    """Removes the package and its ranges."""
    case = _case_locked(package.vulnerability_id)
    package_id = package.pk
    deleted, _ = AffectedPackage.objects.filter(pk=package_id, vulnerability=case).delete()
    if not deleted:
        raise ValidationError("That package was already removed.")
    _case_changed(
        case,
        actor=actor,
        action="vulnerability.package_removed",
        data={"package": package_id},
        summary="Updated affected packages",
    )


# ---------------------------------------------------------------- version ranges


def _range_clean(*, ecosystem: str, introduced, fixed, last_affected) -> dict:
    errors: dict[str, list[str]] = {}
    introduced = version_clean(introduced, field="introduced", errors=errors) or "0"
    fixed = version_clean(fixed, field="fixed", errors=errors)
    last_affected = version_clean(last_affected, field="last_affected", errors=errors)
    if fixed and last_affected:
        errors.setdefault("last_affected", []).append(
            "Give the first fixed version or the last affected one, not both."
        )
    if introduced != "0" and introduced == fixed:
        errors.setdefault("fixed", []).append("The fix cannot be the version that introduced it.")
    if ecosystem == Ecosystem.GIT:
        # OSV's git ranges are made of commits; "0" stands for the first one.
        values = {"introduced": introduced, "fixed": fixed, "last_affected": last_affected}
        for field, value in values.items():
            if value and value != "0" and field not in errors and not COMMIT_RE.match(value):
                errors.setdefault(field, []).append(
                    "For the upstream repository give a commit id (7 to 64 hex digits)."
                )
    if errors:
        raise ValidationError(errors)
    return {"introduced": introduced, "fixed": fixed, "last_affected": last_affected}


@transaction.atomic
def version_range_add(
    *,
    package: AffectedPackage,
    actor,
    introduced: str = "0",
    fixed: str = "",
    last_affected: str = "",
) -> VersionRange:
    case = _case_locked(package.vulnerability_id)
    package = AffectedPackage.objects.filter(pk=package.pk, vulnerability=case).first()
    if package is None:
        raise ValidationError("That package was removed from the case.")
    fields = _range_clean(
        ecosystem=package.ecosystem,
        introduced=introduced,
        fixed=fixed,
        last_affected=last_affected,
    )
    ranges = VersionRange.objects.filter(package=package)
    if ranges.filter(**fields).exists():
        raise ValidationError("The package already has this range.")
    if ranges.count() >= RANGES_MAX:
        raise ValidationError(f"A package has at most {RANGES_MAX} ranges.")
    version_range = VersionRange.objects.create(package=package, **fields)
    _case_changed(
        case,
        actor=actor,
        action="vulnerability.range_added",
        data={"package": package.pk, "range": version_range.pk},
        summary="Updated affected versions",
    )
    return version_range


@transaction.atomic
def version_range_remove(*, version_range: VersionRange, actor) -> None:
    package = AffectedPackage.objects.get(pk=version_range.package_id)
    case = _case_locked(package.vulnerability_id)
    range_id = version_range.pk
    if not VersionRange.objects.filter(pk=range_id).delete()[0]:
        raise ValidationError("That range was already removed.")
    _case_changed(
        case,
        actor=actor,
        action="vulnerability.range_removed",
        data={"package": package.pk, "range": range_id},
        summary="Updated affected versions",
    )


# ---------------------------------------------------------------- fix references


@transaction.atomic
def fix_reference_add(
    *,
    vulnerability: Vulnerability,
    actor,
    kind: str,
    url: str = "",
    commit: str = "",
    note: str = "",
    now: datetime | None = None,
) -> FixReference:
    case = _case_locked(vulnerability.pk)
    errors: dict[str, list[str]] = {}
    if kind not in FixReference.Kind.values:
        errors["kind"] = ["Choose a commit, a patch or a release."]
    url = _url(url, field="url", limit=FIX_URL_MAX_LENGTH, errors=errors)
    commit = (commit or "").strip().lower()
    if commit and not COMMIT_RE.match(commit):
        errors["commit"] = ["A commit id is 7 to 64 hex digits."]
    note = _text(note, field="note", limit=NOTE_MAX_LENGTH, errors=errors)
    if not url and not commit and not errors:
        errors["url"] = ["Give the fix's address, or for a commit its id."]
    if errors:
        raise ValidationError(errors)
    if FixReference.objects.filter(vulnerability=case).count() >= FIX_REFERENCES_MAX:
        raise ValidationError(f"A case has at most {FIX_REFERENCES_MAX} fix references.")
    reference = FixReference.objects.create(
        vulnerability=case,
        kind=kind,
        url=url,
        commit=commit,
        note=note,
        added_at=now or timezone.now(),
    )
    _case_changed(
        case,
        actor=actor,
        action="vulnerability.fix_reference_added",
        data={"reference": reference.pk, "kind": kind},
        summary="Updated fix references",
    )
    return reference


@transaction.atomic
def fix_reference_remove(*, fix_reference: FixReference, actor) -> None:
    case = _case_locked(fix_reference.vulnerability_id)
    reference_id = fix_reference.pk
    if not FixReference.objects.filter(pk=reference_id, vulnerability=case).delete()[0]:
        raise ValidationError("That fix reference was already removed.")
    _case_changed(
        case,
        actor=actor,
        action="vulnerability.fix_reference_removed",
        data={"reference": reference_id},
        summary="Updated fix references",
    )


# ---------------------------------------------------------------- the fix's state


def _fix_clean(*, state, version, released_on, now: datetime) -> dict:
    errors: dict[str, list[str]] = {}
    if state not in FixState.values:
        errors["state"] = ["Choose where the fix stands."]
    version = version_clean(version, field="version", errors=errors)
    if state == FixState.RELEASED:
        if not version and "version" not in errors:
            errors["version"] = ["Give the version the fix was released in."]
        if released_on is None:
            errors["released_on"] = ["Give the day the fix was released."]
        elif not isinstance(released_on, date) or isinstance(released_on, datetime):
            errors["released_on"] = ["Give the release day as a date."]
        elif released_on > (now + RELEASE_DATE_LEEWAY).date():
            errors["released_on"] = ["The release day cannot be in the future."]
    else:
        # Only a released fix has a release day; a planned version may stay.
        released_on = None
    if errors:
        raise ValidationError(errors)
    return {"fix_state": state, "fix_version": version, "fix_released_on": released_on}


@transaction.atomic
def vulnerability_fix_set(
    *,
    vulnerability: Vulnerability,
    actor,
    state: str,
    version: str = "",
    released_on: date | None = None,
    now: datetime | None = None,
) -> Vulnerability:
    """Where the fix stands; "released" needs the version and the (past) release day."""
    case = _case_locked(vulnerability.pk)
    fields = _fix_clean(
        state=state, version=version, released_on=released_on, now=now or timezone.now()
    )
    changed = [name for name, value in fields.items() if getattr(case, name) != value]
    if not changed:
        return case
    previous = case.fix_state
    for name in changed:
        setattr(case, name, fields[name])
    case.updated_at = timezone.now()
    case.save(update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action="vulnerability.fix_set",
        target=case,
        data={"fix_state_from": previous, "fix_state": case.fix_state},
    )
    advisory_revision_if_public(case=case, summary=FIX_STATE_SUMMARY, actor=actor)
    return case
