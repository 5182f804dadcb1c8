"""The audit log is append-only in the database itself, not only in the ORM: a raw
statement cannot rewrite history either (migration distributors 0003). A later migration
that rebuilds the table (SQLite remakes a table to alter a column) would silently drop
that trigger; these tests say so."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from core.audit import audit_record
from core.models import AuditEvent
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db

TABLE = AuditEvent._meta.db_table


def an_event() -> AuditEvent:
    organization = OrganizationFactory()
    with transaction.atomic():
        return audit_record(actor=None, action="test.recorded", target=organization)


def test_the_database_refuses_to_change_an_audit_event():
    event = an_event()

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE {TABLE} SET action = %s WHERE id = %s",  # noqa: S608
            ["test.rewritten", event.pk],
        )

    assert AuditEvent.objects.get(pk=event.pk).action == "test.recorded"


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite's test flush deletes rows one by one, so only UPDATE is refused there",
)
def test_on_postgresql_the_database_refuses_to_delete_an_audit_event():
    event = an_event()

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [event.pk])  # noqa: S608

    assert AuditEvent.objects.filter(pk=event.pk).exists()
