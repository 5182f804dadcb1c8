"""The outer-subject guard: the one line every mail server can read says nothing about the
issue, neither a copy of a private field nor a paraphrase of one (issue 15, item 10)."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from core.models import AuditEvent
from embargo.models import Delivery, Notice
from embargo.services import notice_create, notice_send
from embargo.services.notices import DEFAULT_OUTER_SUBJECT
from embargo.subject_guard import outer_subject_guard, outer_subject_shared
from tests.embargo.helpers import case_ready
from tests.factories import TeamMemberFactory, make_eligible

PRIVATE = {
    "the case title": "Heap overflow in the tarball unpacker",
    "the real subject": "Patch for the unpacker",
    "the summary": "A crafted archive overwrites the heap.",
    "the CVE id": "CVE-2026-12345",
    "the case id": "HAUL-2026-0042",
    "the affected packages": "PyPI pinniped < 2.4.1",
    "the fixed version": "2.4.1",
}
DATES = {"the disclosure date": date(2026, 3, 12)}


def _shared(outer: str) -> list[str]:
    return outer_subject_shared(outer_subject=outer, private=PRIVATE, private_dates=DATES)


@pytest.mark.parametrize(
    "outer",
    [
        DEFAULT_OUTER_SUBJECT,
        "Embargoed notice",
        "Notice",
        "[Haulout] Embargoed notice 42",
        "Please read: an update from the security team",
        "Heap problems",  # one shared word alone is chance, not a paraphrase
    ],
)
def test_a_subject_that_says_nothing_about_the_issue_is_allowed(outer):
    assert _shared(outer) == []
    outer_subject_guard(outer_subject=outer, private=PRIVATE, private_dates=DATES)


def test_the_issues_paraphrase_with_the_version_and_date_is_refused():
    # The outside review's example: no field copied, yet version and date give it away.
    with pytest.raises(ValidationError) as caught:
        outer_subject_guard(
            outer_subject="Upgrade to release 2.4.1 before 12 March",
            private=PRIVATE,
            private_dates=DATES,
        )
    message = caught.value.message_dict["outer_subject"][0]
    assert "the version 2.4.1 (the affected packages, the fixed version)" in message
    assert "the date 12 March (the disclosure date)" in message


@pytest.mark.parametrize(
    ("outer", "expected"),
    [
        ("Please move to v2.4 soon", "the version 2.4 (the affected packages"),
        ("Builds of V2.4.1 ready", "the version 2.4.1"),
        ("Details for 2026-12345", "the identifier CVE-2026-12345 (the CVE id)"),
        ("Re: cve-2026-12345", "the identifier CVE-2026-12345 (the CVE id)"),
        ("About haul-2026-0042", "the identifier HAUL-2026-0042 (the case id)"),
    ],
)
def test_a_shared_version_or_identifier_is_refused_and_named(outer, expected):
    assert any(item.startswith(expected) for item in _shared(outer)), _shared(outer)


@pytest.mark.parametrize(
    "outer",
    [
        "Heads-up for 2026-03-12",
        "Heads-up for 12/03/2026",
        "Heads-up for 03/12/2026",  # the US order: the same day
        "Heads-up for 12 March",
        "Heads-up for the 12th of March",
        "Heads-up for March 12",
        "Heads-up for Mar. 12th, 2026",
    ],
)
def test_the_disclosure_date_in_any_spelling_is_refused(outer):
    assert any(item.startswith("the date 12 March") for item in _shared(outer)), _shared(outer)


def test_a_date_in_another_year_is_not_the_disclosure_date():
    assert _shared("Heads-up for 2025-03-12") == []


@pytest.mark.parametrize(
    "outer",
    [
        "Overflowing heaps in archives",  # stems: overflow, heap (title); archive (summary)
        "TARBALL UNPACKING BUG",
        "The unpacker for tarballs",
    ],
)
def test_two_shared_significant_words_are_a_paraphrase(outer):
    shared = _shared(outer)
    assert any(item.startswith("the words ") for item in shared), shared


def test_a_guard_error_names_the_shared_words_and_their_fields():
    with pytest.raises(ValidationError) as caught:
        outer_subject_guard(
            outer_subject="Tarball unpacking bug", private=PRIVATE, private_dates=DATES
        )
    message = caught.value.message_dict["outer_subject"][0]
    assert '"tarball", "unpacking" (the case title, the real subject)' in message


def test_the_projects_own_name_is_not_a_significant_word():
    private = {"the case title": "Acme Widgets crash on start"}
    outer = "Acme Widgets notice"
    assert outer_subject_shared(outer_subject=outer, private=private, private_dates={})
    assert not outer_subject_shared(
        outer_subject=outer, private=private, private_dates={}, generic_words=["Acme Widgets"]
    )


# --- in the notice services -----------------------------------------------------------------


@pytest.mark.django_db
def test_a_notice_with_a_paraphrased_outer_subject_is_not_created():
    case = case_ready()
    day = case.disclosure_at.strftime("%d %B").lstrip("0")
    with pytest.raises(ValidationError) as caught:
        notice_create(
            vulnerability=case,
            actor=case.created_by,
            outer_subject=f"Tarball fix: update to 2.4.1 before {day}",
            subject="Patch available",
            body="Text",
        )
    message = caught.value.message_dict["outer_subject"][0]
    assert "2.4.1" in message and day in message
    assert not Notice.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="notice.").exists()


@pytest.mark.django_db
def test_a_draft_whose_case_changed_is_refused_at_send():
    # The guard runs again at send: the case's fields may have changed since the draft.
    make_eligible(TeamMemberFactory())
    case = case_ready()
    notice = notice_create(
        vulnerability=case,
        actor=case.created_by,
        outer_subject="Heads-up about release 3.1.0",
        subject="Patch available",
        body="Text",
    )
    case.fix_version = "3.1.0"
    case.save(update_fields=["fix_version"])

    with pytest.raises(ValidationError) as caught:
        notice_send(notice=notice, actor=case.created_by)

    assert "the version 3.1.0 (the fixed version)" in str(caught.value)
    assert not Delivery.objects.exists()
    notice.refresh_from_db()
    assert notice.state == Notice.State.DRAFT
