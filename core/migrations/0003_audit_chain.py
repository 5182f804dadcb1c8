"""The audit log becomes a hash chain (core/chain.py).

Events already in the table are left to the sealer: its first run after the upgrade seals
them in id order, in batches of HAULOUT_AUDIT_SEAL_BATCH, each its own short transaction,
instead of one long transaction here over the whole table while the site is down.

The append-only triggers now allow one change: the sealer filling an event's NULL chain
columns (seq, prev_hash, hash) once, every other column unchanged. Everything else is
refused as before (and DELETE too on PostgreSQL)."""

from django.conf import settings
from django.db import migrations, models

TABLE = "distributors_auditevent"
GENESIS_HASH = "0" * 64

POSTGRES_SEALABLE = f"""
CREATE OR REPLACE FUNCTION haulout_audit_append_only() RETURNS trigger AS $$
BEGIN
    -- The sealer's one change: the chain columns, NULL until then, filled once; every
    -- other column (to_jsonb covers any added later too) exactly as it was.
    IF TG_OP = 'UPDATE'
       AND OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL
       AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL
       AND (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash')
           = (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash')
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
"""

POSTGRES_STRICT = """
CREATE OR REPLACE FUNCTION haulout_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
"""

_UNCHANGED = " AND ".join(
    f"NEW.{column} IS OLD.{column}"
    for column in (
        "id",
        "actor_id",
        "action",
        "target_type_id",
        "target_id",
        "target_repr",
        "organization_id",
        "data",
        "created_at",
    )
)
SQLITE_SEALABLE = (
    f"CREATE TRIGGER audit_append_only BEFORE UPDATE ON {TABLE} "
    "WHEN NOT (OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL "
    "AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL "
    f"AND {_UNCHANGED}) "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
)
SQLITE_STRICT = (
    f"CREATE TRIGGER audit_append_only BEFORE UPDATE ON {TABLE} "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;"
)


def triggers_sealable(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_SEALABLE)
    elif vendor == "sqlite":
        # SQLite rebuilt the table to add a unique column, which dropped the old trigger.
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_append_only;")
        schema_editor.execute(SQLITE_SEALABLE)


def triggers_unsealable(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_STRICT)
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_append_only;")


def sqlite_strict_again(apps, schema_editor):
    # Backwards only, after SQLite rebuilt the table without the chain columns.
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_append_only;")
        schema_editor.execute(SQLITE_STRICT)


def head_create(apps, schema_editor):
    ChainHead = apps.get_model("core", "ChainHead")
    ChainHead.objects.get_or_create(pk=1, defaults={"seq": 0, "hash": GENESIS_HASH})


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0002_closure_day"),
        ("distributors", "0009_move_audit_and_claims_to_core"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, sqlite_strict_again),
        migrations.CreateModel(
            name="AuditCheckpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(unique=True)),
                ("seq", models.BigIntegerField()),
                ("hash", models.CharField(max_length=64)),
                ("signature", models.TextField()),
                ("signer_fingerprint", models.CharField(max_length=40)),
                ("created_at", models.DateTimeField()),
            ],
            options={
                "ordering": ["seq"],
            },
        ),
        migrations.CreateModel(
            name="ChainHead",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seq", models.BigIntegerField(default=0)),
                ("hash", models.CharField(max_length=64)),
                ("sealed_at", models.DateTimeField(blank=True, null=True)),
            ],
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("seq__isnull", True)), fields=["id"], name="audit_unsealed"
            ),
        ),
        migrations.RunPython(head_create, migrations.RunPython.noop),
        migrations.RunPython(triggers_sealable, triggers_unsealable),
    ]
