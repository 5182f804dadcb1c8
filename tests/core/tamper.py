"""Changing the audit table the way someone with database access could: straight SQL with
the append-only trigger out of the way (PostgreSQL: session_replication_role = replica,
which skips ordinary triggers, as a superuser; SQLite: the trigger dropped and made again
around the change). And the chain's own arithmetic, to forge rows that fit."""

from __future__ import annotations

import importlib
from contextlib import contextmanager

from django.db import connection, transaction

from core.chain import event_hash
from core.models import AuditEvent

TABLE = AuditEvent._meta.db_table
_chain_migration = importlib.import_module("core.migrations.0003_audit_chain")


@contextmanager
def trigger_bypassed():
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
            yield cursor
        else:
            cursor.execute("DROP TRIGGER audit_append_only")
            yield cursor
            cursor.execute(_chain_migration.SQLITE_SEALABLE)


def sql(statement: str, params: list | None = None) -> None:
    with trigger_bypassed() as cursor:
        cursor.execute(statement, params or [])


def row(seq: int) -> dict:
    return AuditEvent.objects.filter(seq=seq).values().get()


def rehash_from(seq: int) -> None:
    """Recomputes prev_hash and hash from `seq` to the end, as a careful forger would, and
    moves the chain head to match: every link then fits."""
    previous = row(seq - 1)["hash"] if seq > 1 else "0" * 64
    with trigger_bypassed() as cursor:
        for values in AuditEvent.objects.filter(seq__gte=seq).order_by("seq").values():
            values["prev_hash"] = previous
            previous = event_hash(values)
            cursor.execute(
                f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE id = %s",  # noqa: S608
                [values["prev_hash"], previous, values["id"]],
            )
            last = values["seq"]
        cursor.execute("UPDATE core_chainhead SET seq = %s, hash = %s", [last, previous])
