"""The free-text affected and fixed versions become part of the team's versions note
(they are replaced by structured packages and ranges, which nobody can derive from free
text reliably), and every case already disclosed gets its first advisory revision.

The old columns are dropped in 0012, not here: on PostgreSQL a table that rows were just
inserted against (the revisions' foreign key checks are deferred to commit) cannot be
altered in the same transaction."""

from django.db import migrations

NOTE_MAX_LENGTH = 2000
INITIAL_REVISION_SUMMARY = "Initial public release"


def versions_note_text(*, affected: str, fixed: str, note: str) -> str:
    """The note with the old free text added below what it already says; empty parts
    are left out, so a case without old versions keeps its note as it was."""
    lines = []
    if (affected or "").strip():
        lines.append(f"Affected versions (before structured versions): {affected.strip()}")
    if (fixed or "").strip():
        lines.append(f"Fixed versions: {fixed.strip()}")
    if not lines:
        return note
    parts = [part for part in ((note or "").strip(), "\n".join(lines)) if part]
    return "\n\n".join(parts)[:NOTE_MAX_LENGTH]


def versions_into_note(apps, schema_editor):
    Vulnerability = apps.get_model("embargo", "Vulnerability")
    cases = Vulnerability.objects.exclude(affected_versions="", fixed_versions="").only(
        "pk", "affected_versions", "fixed_versions", "versions_note"
    )
    for case in cases.iterator():
        note = versions_note_text(
            affected=case.affected_versions, fixed=case.fixed_versions, note=case.versions_note
        )
        Vulnerability.objects.filter(pk=case.pk).update(versions_note=note)


def initial_revisions(apps, schema_editor):
    Vulnerability = apps.get_model("embargo", "Vulnerability")
    AdvisoryRevision = apps.get_model("embargo", "AdvisoryRevision")
    disclosed = Vulnerability.objects.filter(state="disclosed").exclude(
        advisory_revisions__isnull=False
    )
    AdvisoryRevision.objects.bulk_create(
        [
            AdvisoryRevision(
                vulnerability_id=case.pk,
                number=1,
                published_at=case.disclosed_at or case.updated_at,
                summary=INITIAL_REVISION_SUMMARY,
            )
            for case in disclosed.only("pk", "disclosed_at", "updated_at")
        ]
    )


class Migration(migrations.Migration):
    dependencies = [
        ("embargo", "0010_structured_versions_and_revisions"),
    ]

    operations = [
        # Backwards the old columns come back empty (0012) and the note keeps the text.
        migrations.RunPython(versions_into_note, migrations.RunPython.noop),
        migrations.RunPython(initial_revisions, migrations.RunPython.noop),
    ]
