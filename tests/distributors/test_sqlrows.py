"""rows_insert(): many rows of plain values in one statement, exactly as given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from distributors.audit import audit_record_many
from distributors.models import AuditEvent, Organization
from distributors.sqlrows import rows_insert
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
    connection.vendor != "postgresql", reason="one array per column is PostgreSQL's path"
)
def test_on_postgresql_a_thousand_rows_are_one_statement():
    kind = ContentType.objects.get_for_model(Organization).pk
    now = datetime.now(UTC)
    rows = [(None, "test.many", kind, str(i), "x", None, {"i": i}, now) for i in range(1200)]

    with CaptureQueriesContext(connection) as queries:
        rows_insert(model=AuditEvent, fields=FIELDS, rows=rows)

    assert len(queries) == 1
    assert AuditEvent.objects.filter(action="test.many").count() == 1200


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
