"""Cases: opening, editing, moving through triage, rejecting, moving the disclosure date
and disclosing.

Audit data names the fields that changed, never their values: the audit log is read by
more people, for longer, than the case itself.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.audit import audit_record
from core.queue import task_queue_after_commit
from embargo.models import REASON_MAX_LENGTH, CaseSequence, Vulnerability
from embargo.scoring import cve_id_clean, cvss_score
from embargo.services.notices import disclosure_moved_notice_send
from embargo.services.ratings import ratings_follow_headline
from embargo.services.revisions import (
    INITIAL_REVISION_SUMMARY,
    advisory_revision_add,
    advisory_revision_if_public,
)
from pgpmail import key_inspect

PUBLIC_ID_PREFIX = "HAUL"

# Manual moves; "notified" comes from sending a notice and "disclosed" from the lift.
_TRANSITIONS = {
    Vulnerability.State.REPORTED: {Vulnerability.State.TRIAGED},
    Vulnerability.State.TRIAGED: {Vulnerability.State.FIXING},
    Vulnerability.State.FIXING: set(),
    Vulnerability.State.NOTIFIED: set(),
}


def vulnerability_next_states(state: str) -> list[str]:
    """The states a case in `state` may be moved to by hand (vulnerability_transition),
    in the order of the case's life; the case page offers exactly these."""
    allowed = _TRANSITIONS.get(state, set())
    return [value for value in Vulnerability.State.values if value in allowed]


_TEXT_LIMITS = {
    "title": 200,
    "summary": 20000,
    "mitigation": 20000,
    "public_description": 20000,
    "reporter_name": 200,
    "credit": 200,
    "versions_note": REASON_MAX_LENGTH,
}
REPORTER_FIELDS = ("reporter_email", "reporter_public_key", "reported_at")
EDITABLE_FIELDS = (*_TEXT_LIMITS, "cvss_vector", "cve_id", "cwe_ids", *REPORTER_FIELDS)
# Corrections a published advisory may still need (a CVE id often comes after it); the
# versions are corrected through the packages (embargo/services/packages.py).
EDITABLE_AFTER_DISCLOSURE = (
    "mitigation",
    "public_description",
    "cve_id",
    "cwe_ids",
    "credit",
    "versions_note",
)
# What the public advisory shows, so a change after disclosure is a new revision of it;
# in the words of the revision's summary.
PUBLIC_FIELD_WORDS = {
    "title": "the title",
    "public_description": "the description",
    "mitigation": "the mitigation",
    "cve_id": "the CVE id",
    "cwe_ids": "the CWE ids",
    "credit": "the credit",
}
# A report cannot arrive in the future; a little leeway for clocks.
REPORTED_AT_SKEW = timedelta(minutes=5)
# MITRE's weakness ids: CWE- and a number (no leading zero), e.g. CWE-787.
CWE_RE = re.compile(r"^CWE-[1-9][0-9]{0,6}$")
CWE_IDS_MAX = 10
CWE_IDS_MAX_LENGTH = 200


def cwe_ids_clean(value: str) -> str:
    """Weakness ids typed as "CWE-79, cwe-787" (commas or spaces between them): checked
    one by one, upper-cased, duplicates dropped, kept in the order given."""
    parts = [part for part in re.split(r"[\s,;]+", (value or "").strip()) if part]
    ids: list[str] = []
    bad = []
    for part in parts:
        normal = part.upper()
        if not CWE_RE.match(normal):
            bad.append(part[:40])
        elif normal not in ids:
            ids.append(normal)
    if bad:
        raise ValidationError(
            f"Not a CWE id: {', '.join(bad)}. Write each as CWE- and its number, e.g. CWE-787."
        )
    if len(ids) > CWE_IDS_MAX:
        raise ValidationError(f"At most {CWE_IDS_MAX} CWE ids, please.")
    return ", ".join(ids)


# The case's identifiers in other catalogues, each checked by its own format.
_ID_CLEANERS = {"cve_id": cve_id_clean, "cwe_ids": cwe_ids_clean}


def _armor_same(one: str, other: str) -> bool:
    # Browsers send a textarea back with CRLF line ends.
    return (one or "").replace("\r\n", "\n").strip() == (other or "").replace("\r\n", "\n").strip()


def _next_number(year: int) -> int:
    # The UPDATE locks the year's row until commit, so concurrent openings queue up
    # behind it instead of reading the same last number.
    if not CaseSequence.objects.filter(year=year).update(last_number=F("last_number") + 1):
        try:
            with transaction.atomic():
                CaseSequence.objects.create(year=year, last_number=1)
                return 1
        except IntegrityError:
            # Another opening created the year's row first; take the next number after it.
            CaseSequence.objects.filter(year=year).update(last_number=F("last_number") + 1)
    return CaseSequence.objects.get(year=year).last_number


def _reported_at_errors(value) -> list[str]:
    if value is None or timezone.is_naive(value):
        return ["Give the time the report arrived, with its zone."]
    if value > timezone.now() + REPORTED_AT_SKEW:
        return ["The report cannot have arrived in the future."]
    return []


def _clean(fields: dict) -> dict:
    """Validates and normalises case fields; every problem is reported at once."""
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    for name, value in fields.items():
        if name in _TEXT_LIMITS:
            value = (value or "").strip()
            if name in ("title", "summary") and not value:
                errors.setdefault(name, []).append("This field is required.")
            elif len(value) > _TEXT_LIMITS[name]:
                errors.setdefault(name, []).append(
                    f"At most {_TEXT_LIMITS[name]} characters, please."
                )
            cleaned[name] = value
        elif name == "cvss_vector":
            value = (value or "").strip()
            cleaned.update(cvss_vector="", cvss_version="", cvss_score=None, cvss_severity="")
            if value:
                try:
                    score = cvss_score(value)
                except ValidationError as error:
                    errors.setdefault(name, []).extend(error.messages)
                else:
                    cleaned.update(
                        cvss_vector=score.vector,
                        cvss_version=score.version,
                        cvss_score=score.score,
                        cvss_severity=score.severity,
                    )
        elif name in _ID_CLEANERS:
            try:
                cleaned[name] = _ID_CLEANERS[name](value or "")
            except ValidationError as error:
                errors.setdefault(name, []).extend(error.messages)
        elif name == "disclosure_at":
            if value is not None and timezone.is_naive(value):
                errors.setdefault(name, []).append("Give the disclosure time with its zone.")
            cleaned[name] = value
        elif name == "reporter_email":
            value = (value or "").strip()
            if value:
                try:
                    validate_email(value)
                except ValidationError:
                    errors.setdefault(name, []).append("Enter a valid email address.")
            cleaned[name] = value
        elif name == "reported_at":
            errors_for_field = _reported_at_errors(value)
            if errors_for_field:
                errors.setdefault(name, []).extend(errors_for_field)
            cleaned[name] = value
        elif name == "reporter_public_key":
            cleaned.update(_reporter_key_clean(value, fields.get("reporter_email"), errors))
        else:
            raise TypeError(f"Unknown case field {name!r}")
    if errors:
        raise ValidationError(errors)
    return cleaned


def _reporter_key_clean(armored: str | None, email: str | None, errors: dict) -> dict:
    """The reporter's key is inspected like a member's (one public key, usable for
    encryption, not expired or revoked) and its fingerprint pinned."""
    armored = (armored or "").strip()
    if not armored:
        return {"reporter_public_key": "", "reporter_key_fingerprint": ""}
    try:
        report = key_inspect(armored=armored, account_email=(email or "").strip() or None)
    except ValidationError as error:
        errors.setdefault("reporter_public_key", []).extend(error.messages)
        return {}
    return {"reporter_public_key": report.armored, "reporter_key_fingerprint": report.fingerprint}


@transaction.atomic
def vulnerability_create(
    *,
    actor,
    title: str,
    summary: str,
    cvss_vector: str = "",
    cve_id: str = "",
    cwe_ids: str = "",
    disclosure_at: datetime | None = None,
    mitigation: str = "",
    public_description: str = "",
    reporter_name: str = "",
    reporter_email: str = "",
    reporter_public_key: str = "",
    reported_at: datetime | None = None,
    credit: str = "",
    versions_note: str = "",
) -> Vulnerability:
    cleaned = _clean(
        {
            "title": title,
            "summary": summary,
            "cvss_vector": cvss_vector,
            "cve_id": cve_id,
            "cwe_ids": cwe_ids,
            "disclosure_at": disclosure_at,
            "mitigation": mitigation,
            "public_description": public_description,
            "reporter_name": reporter_name,
            "reporter_email": reporter_email,
            "reporter_public_key": reporter_public_key,
            "reported_at": reported_at or timezone.now(),
            "credit": credit,
            "versions_note": versions_note,
        }
    )
    now = timezone.now()
    number = _next_number(now.year)
    vulnerability = Vulnerability.objects.create(
        public_id=f"{PUBLIC_ID_PREFIX}-{now.year}-{number:04d}",
        year=now.year,
        number=number,
        created_by=actor,
        created_at=now,
        updated_at=now,
        **cleaned,
    )
    audit_record(actor=actor, action="vulnerability.created", target=vulnerability)
    return vulnerability


def _locked(vulnerability: Vulnerability) -> Vulnerability:
    return Vulnerability.objects.select_for_update().get(pk=vulnerability.pk)


@transaction.atomic
def vulnerability_update(*, vulnerability: Vulnerability, actor, **changes) -> Vulnerability:
    """Edits case fields (see EDITABLE_FIELDS); the disclosure date has its own service."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable here: {', '.join(sorted(unknown))}")
    case = _locked(vulnerability)
    if case.state == Vulnerability.State.REJECTED:
        raise ValidationError("A rejected case can no longer be edited.")
    if case.state == Vulnerability.State.DISCLOSED and set(changes) - set(
        EDITABLE_AFTER_DISCLOSURE
    ):
        raise ValidationError(
            "After disclosure only the description, the mitigation, the CVE and CWE ids, "
            "the credit and the versions note can be corrected."
        )
    if "reporter_public_key" in changes and _armor_same(
        changes["reporter_public_key"], case.reporter_public_key
    ):
        # Unchanged: not inspected again, so an edit elsewhere is never refused because
        # the pinned key has since expired.
        del changes["reporter_public_key"]
    cleaned = _clean(changes)
    changed = [name for name, value in cleaned.items() if getattr(case, name) != value]
    if not changed:
        return case
    previous_cvss_version = case.cvss_version
    for name in changed:
        setattr(case, name, cleaned[name])
    case.updated_at = timezone.now()
    case.save(update_fields=[*changed, "updated_at"])
    if "cvss_vector" in changed:
        ratings_follow_headline(case=case, previous_version=previous_cvss_version, actor=actor)
    audit_record(
        actor=actor,
        action="vulnerability.updated",
        target=case,
        data={"fields": sorted({_audit_name(name) for name in changed})},
    )
    public = [words for name, words in PUBLIC_FIELD_WORDS.items() if name in changed]
    if public:
        advisory_revision_if_public(
            case=case, summary=f"Updated {_words_joined(public)}", actor=actor
        )
    return case


def _words_joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _audit_name(name: str) -> str:
    if name.startswith("cvss_"):
        return "cvss_vector"
    return "reporter_public_key" if name == "reporter_key_fingerprint" else name


@transaction.atomic
def vulnerability_transition(*, vulnerability: Vulnerability, actor, state: str) -> Vulnerability:
    case = _locked(vulnerability)
    if state not in vulnerability_next_states(case.state):
        raise ValidationError(
            f"A case that is {case.get_state_display().lower()} cannot move to "
            f"{Vulnerability.State(state).label.lower()}."
            if state in Vulnerability.State.values
            else "Unknown case state."
        )
    previous = case.state
    case.state = state
    case.updated_at = timezone.now()
    case.save(update_fields=["state", "updated_at"])
    audit_record(
        actor=actor,
        action="vulnerability.state_changed",
        target=case,
        data={"from": previous, "to": state},
    )
    return case


@transaction.atomic
def vulnerability_reject(*, vulnerability: Vulnerability, actor, reason: str) -> Vulnerability:
    case = _locked(vulnerability)
    reason = (reason or "").strip()
    if not case.is_open:
        raise ValidationError("Only an open case can be rejected.")
    if not reason:
        raise ValidationError({"reason": ["Say why the case is rejected; the reporter is told."]})
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError({"reason": [f"At most {REASON_MAX_LENGTH} characters, please."]})
    previous = case.state
    case.state = Vulnerability.State.REJECTED
    case.rejection_reason = reason
    case.updated_at = timezone.now()
    case.save(update_fields=["state", "rejection_reason", "updated_at"])
    event = audit_record(
        actor=actor, action="vulnerability.rejected", target=case, data={"from": previous}
    )
    _reporter_tell_after_commit(case, event)
    return case


def _reporter_tell_after_commit(case: Vulnerability, event) -> None:
    """The reporter hears about a rejection or a new disclosure date; the task gets ids
    only and decides itself whether the mail can be encrypted."""
    case_id, event_id = case.pk, event.pk
    task_queue_after_commit("embargo.tasks.reporter_update_task", case_id, event_id)


@transaction.atomic
def vulnerability_disclosure_move(
    *, vulnerability: Vulnerability, actor, disclosure_at: datetime, note: str = ""
) -> Vulnerability:
    """Sets or moves the disclosure time. If notices already went out, everyone who was
    told gets a new encrypted notice with the new time, through the normal send path."""
    case = _locked(vulnerability)
    if not case.is_open:
        raise ValidationError("The disclosure date of a closed case cannot change.")
    if disclosure_at is None or timezone.is_naive(disclosure_at):
        raise ValidationError({"disclosure_at": ["Give the disclosure time with its zone."]})
    if disclosure_at <= timezone.now():
        raise ValidationError({"disclosure_at": ["The new disclosure time must be in the future."]})
    note = (note or "").strip()
    if len(note) > REASON_MAX_LENGTH:
        raise ValidationError({"note": [f"At most {REASON_MAX_LENGTH} characters, please."]})
    if case.disclosure_at == disclosure_at:
        return case
    previous = case.disclosure_at
    case.disclosure_at = disclosure_at
    case.updated_at = timezone.now()
    case.save(update_fields=["disclosure_at", "updated_at"])
    event = audit_record(
        actor=actor,
        action="vulnerability.disclosure_moved",
        target=case,
        data={
            "from": previous.isoformat() if previous else None,
            "to": disclosure_at.isoformat(),
        },
    )
    _reporter_tell_after_commit(case, event)
    # Everyone already told hears the new date, the first one set after notices went out
    # too (a case opened from a report may be notified before its date is agreed).
    disclosure_moved_notice_send(vulnerability=case, actor=actor, previous=previous, note=note)
    return case


@transaction.atomic
def vulnerability_disclose(*, vulnerability: Vulnerability, actor=None) -> Vulnerability:
    """Ends the embargo: the advisory becomes public and recipients are told."""
    case = _locked(vulnerability)
    previous = case.state
    now = timezone.now()
    # The claim is a conditional UPDATE, not the lock above: SQLite has no row locks, and
    # of a staff click and the periodic lift (or two lifts) exactly one must disclose and
    # queue the mail to everyone told.
    lifted = Vulnerability.objects.filter(
        pk=case.pk, state=previous, state__in=Vulnerability.LIFTABLE_STATES
    ).update(state=Vulnerability.State.DISCLOSED, disclosed_at=now, updated_at=now)
    if not lifted:
        raise ValidationError("Only a triaged, fixing or notified case can be disclosed.")
    case.state, case.disclosed_at, case.updated_at = Vulnerability.State.DISCLOSED, now, now
    audit_record(
        actor=actor, action="vulnerability.disclosed", target=case, data={"from": previous}
    )
    advisory_revision_add(
        vulnerability=case, summary=INITIAL_REVISION_SUMMARY, actor=actor, now=now
    )
    case_id = case.pk
    task_queue_after_commit("embargo.tasks.embargo_lifted_mail_task", case_id)
    return case


def embargo_lift_due(*, now: datetime | None = None) -> list[int]:
    """Discloses every case whose disclosure time has come. One transaction per case, so
    one bad case cannot hold back the others. Safe to run twice at once: a case another
    run disclosed first is skipped (vulnerability_disclose claims it), so its recipients
    are told once."""
    now = now or timezone.now()
    due = Vulnerability.objects.filter(
        state__in=Vulnerability.LIFTABLE_STATES, disclosure_at__lte=now
    ).values_list("pk", flat=True)
    lifted = []
    for pk in list(due):
        try:
            vulnerability_disclose(vulnerability=Vulnerability(pk=pk), actor=None)
        except ValidationError:
            continue  # changed state since the query; nothing to lift
        lifted.append(pk)
    return lifted
