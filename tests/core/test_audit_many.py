"""audit_record_many(): one event per target, in one insert, inside the change's
transaction."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from core.audit import audit_record_many
from core.models import AuditEvent
from distributors.models import Organization
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

# Text that quoting and JSON each give meaning to: stored and read back exactly.
AWKWARD = ["O'Brien", 'say "hi"', "back\\slash", "NULL", "tab\tand\nnewline", "ünïcödé ✓", ""]


def last_id() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_it_writes_one_event_per_target_with_its_organization_and_data():
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


def test_awkward_text_in_the_data_is_stored_exactly():
    organization = OrganizationFactory()
    before = last_id()

    with transaction.atomic():
        audit_record_many(
            actor=None,
            action="organization.tested",
            targets=[
                (organization, None, {"text": text, "list": [text, None]}) for text in AWKWARD
            ],
        )

    stored = AuditEvent.objects.filter(pk__gt=before).order_by("pk").values_list("data", flat=True)
    assert list(stored) == [{"text": text, "list": [text, None]} for text in AWKWARD]


def test_a_thousand_targets_take_a_statement_per_hundred_or_more():
    organization = OrganizationFactory()
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        audit_record_many(
            actor=None,
            action="organization.many",
            targets=[(organization, None, {"i": i}) for i in range(1000)],
        )
    inserts = [q for q in queries if q["sql"].lstrip().upper().startswith("INSERT")]
    # Batches of 500 (2 statements), or on SQLite as many rows as 999 parameters allow:
    # 90 of the 11 columns (the chain's three, NULL until sealed, included), so 12
    # statements. Never a statement per event.
    assert len(inserts) <= (2 if connection.vendor == "postgresql" else 12)
    assert AuditEvent.objects.filter(action="organization.many").count() == 1000


def test_it_writes_nothing_and_runs_no_query_for_no_targets():
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert audit_record_many(actor=None, action="x", targets=[]) == 0
    assert [q for q in queries if "INSERT" in q["sql"].upper()] == []
