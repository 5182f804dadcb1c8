"""rows_insert(): many rows of plain values in one statement, exactly as given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.audit import audit_record_many
from core.models import AuditEvent
from core.sqlrows import json_rows_select, rows_insert
from distributors.models import Organization
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

FIELDS = (
    "actor",
    "action",
    "target_type",
    "target_id",
    "target_repr",
    "organization",
    "data",
    "created_at",
)
# Text that array literals, quoting and JSON each give meaning to.
AWKWARD = [
    "O'Brien",
    'say "hi"',
    "back\\slash",
    "{braces},commas",
    "NULL",
    "tab\tand\nnewline",
    "ünïcödé ✓",
    "",
    "(paren)",
    '["looks", {"like": "json"}]',
    "line\u2028separator",
]


def read_back(ids_after: int) -> list[tuple]:
    return list(
        AuditEvent.objects.filter(pk__gt=ids_after)
        .order_by("pk")
        .values_list(
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


def last_id() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_it_inserts_exactly_the_values_given_awkward_text_json_nulls_and_times():
    user = UserFactory()
    organization = OrganizationFactory()
    kind = ContentType.objects.get_for_model(Organization).pk
    moment = datetime(2026, 11, 27, 1, 2, 3, 456789, tzinfo=UTC)
    rows = [
        (
            user.pk if i % 2 else None,
            "test.awkward",
            kind,
            str(i),
            text,
            organization.pk if i % 3 else None,
            {"text": text, "list": [text, i, None, True], "nested": {"n": i}},
            moment + timedelta(seconds=i),
        )
        for i, text in enumerate(AWKWARD)
    ]
    before = last_id()

    with transaction.atomic():
        assert rows_insert(model=AuditEvent, fields=FIELDS, rows=rows) == len(rows)

    assert read_back(before) == rows


def test_it_writes_nothing_and_runs_no_query_for_no_rows():
    with CaptureQueriesContext(connection) as queries:
        assert rows_insert(model=AuditEvent, fields=FIELDS, rows=[]) == 0
    assert len(queries) == 0


def test_a_row_of_the_wrong_length_is_refused_before_anything_is_written():
    kind = ContentType.objects.get_for_model(Organization).pk
    good = (None, "test.short", kind, "1", "x", None, {}, datetime.now(UTC))
    before = last_id()

    with pytest.raises(ValueError, match="7 values for 8 fields"):
        rows_insert(model=AuditEvent, fields=FIELDS, rows=[good, good[:-1]])

    assert read_back(before) == []


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="one JSON document is PostgreSQL's path"
)
def test_on_postgresql_a_thousand_rows_are_one_statement():
    kind = ContentType.objects.get_for_model(Organization).pk
    now = datetime.now(UTC)
    rows = [(None, "test.many", kind, str(i), "x", None, {"i": i}, now) for i in range(1200)]

    with CaptureQueriesContext(connection) as queries:
        rows_insert(model=AuditEvent, fields=FIELDS, rows=rows)

    assert len(queries) == 1
    assert AuditEvent.objects.filter(action="test.many").count() == 1200


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite does not enforce a column's length"
)
def test_on_postgresql_a_value_longer_than_its_column_is_refused_not_cut_short():
    kind = ContentType.objects.get_for_model(Organization).pk
    limit = AuditEvent._meta.get_field("action").max_length
    now = datetime.now(UTC)
    fits = (None, "a" * limit, kind, "1", "x", None, {}, now)
    too_long = (None, "b" * (limit + 1), kind, "2", "x", None, {}, now)
    before = last_id()

    with pytest.raises(DataError), transaction.atomic():
        rows_insert(model=AuditEvent, fields=FIELDS, rows=[fits, too_long])

    assert read_back(before) == []


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite stores bytes in a text column"
)
def test_on_postgresql_a_value_of_no_column_type_is_refused_with_its_type_named():
    kind = ContentType.objects.get_for_model(Organization).pk
    row = (None, "test.bytes", kind, "1", "x", None, {}, datetime.now(UTC))
    odd = (None, "test.bytes", kind, "2", b"raw bytes", None, {}, datetime.now(UTC))
    before = last_id()

    with pytest.raises(TypeError, match="bytes"), transaction.atomic():
        rows_insert(model=AuditEvent, fields=FIELDS, rows=[row, odd])

    assert read_back(before) == []


def test_a_json_row_source_refuses_a_name_that_is_not_a_plain_identifier():
    with pytest.raises(ValueError, match="identifier"):
        json_rows_select(["bigint", "text"], ["id", "repr; DROP TABLE x"])
    with pytest.raises(ValueError, match="identifier"):
        json_rows_select(["bigint", "text"], ["id"])


def test_audit_record_many_writes_one_event_per_target_with_its_organization_and_data():
    organizations = [OrganizationFactory(), OrganizationFactory()]
    actor = UserFactory(is_staff=True)
    before = last_id()

    with transaction.atomic():
        written = audit_record_many(
            actor=actor,
            action="organization.tested",
            targets=[(org, org.pk, {"n": i}) for i, org in enumerate(organizations)],
        )

    events = list(AuditEvent.objects.filter(pk__gt=before).order_by("pk"))
    assert written == 2
    assert [(e.actor_id, e.action, e.target_id, e.organization_id, e.data) for e in events] == [
        (actor.pk, "organization.tested", str(org.pk), org.pk, {"n": i})
        for i, org in enumerate(organizations)
    ]
    assert [e.target_repr for e in events] == [str(org) for org in organizations]
    assert all(e.target_type == ContentType.objects.get_for_model(Organization) for e in events)
