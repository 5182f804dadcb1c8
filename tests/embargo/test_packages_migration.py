"""Migrations 0011 and 0012: the free-text affected and fixed versions move into the
team's versions note before their columns go, and every case already disclosed gets its
first advisory revision."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from embargo.models import AdvisoryRevision, Vulnerability

migration = importlib.import_module("embargo.migrations.0011_versions_into_note")

BEFORE = [("embargo", "0010_structured_versions_and_revisions")]
DISCLOSED_AT = datetime(2026, 2, 3, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("affected", "fixed", "note", "expected"),
    [
        (
            "< 2.4.1",
            "2.4.1",
            "",
            "Affected versions (before structured versions): < 2.4.1\nFixed versions: 2.4.1",
        ),
        ("", "2.4.1", "", "Fixed versions: 2.4.1"),
        ("", "", "Kept.", "Kept."),
        (
            ">= 1.0",
            "",
            "Kept.",
            "Kept.\n\nAffected versions (before structured versions): >= 1.0",
        ),
    ],
)
def test_the_note_gets_the_old_text_and_leaves_out_empty_parts(affected, fixed, note, expected):
    assert migration.versions_note_text(affected=affected, fixed=fixed, note=note) == expected


def _old_case(apps, *, user, number: int, **fields):
    Vulnerability = apps.get_model("embargo", "Vulnerability")
    now = datetime(2026, 1, 5, tzinfo=UTC)
    return Vulnerability.objects.create(
        public_id=f"HAUL-2026-{number:04d}",
        year=2026,
        number=number,
        title="Old case",
        summary="Private.",
        created_by_id=user.pk,
        created_at=now,
        updated_at=now,
        **fields,
    )


@pytest.mark.django_db(transaction=True)
def test_migrating_moves_the_old_versions_into_the_note_and_dates_revision_one():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("auth", "User").objects.create(username="old-staff", is_staff=True)
    open_case = _old_case(
        old, user=user, number=1, affected_versions="< 2.4.1", fixed_versions="2.4.1"
    )
    disclosed = _old_case(
        old,
        user=user,
        number=2,
        state="disclosed",
        disclosed_at=DISCLOSED_AT,
        affected_versions="",
        fixed_versions="",
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Vulnerability.objects.get(pk=open_case.pk).versions_note == (
        "Affected versions (before structured versions): < 2.4.1\nFixed versions: 2.4.1"
    )
    assert Vulnerability.objects.get(pk=disclosed.pk).versions_note == ""
    revision = AdvisoryRevision.objects.get()
    assert (revision.vulnerability_id, revision.number, revision.summary) == (
        disclosed.pk,
        1,
        "Initial public release",
    )
    assert revision.published_at == DISCLOSED_AT
