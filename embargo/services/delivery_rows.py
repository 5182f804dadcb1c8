"""The delivery rows' own statements on the send path (services/delivery.py): claiming a
batch (pending -> sending), giving back what a batch did not finish, and marking copies
sent with their audit events. Each is one statement where the database allows it
(PostgreSQL; SQLite mostly), so a batch costs a few round trips, not a few per copy.

A row is only ever changed while its claim is ours: state sending and the same attempt
number. A worker the sweeper timed out thus cannot overwrite what another did since.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from distributors.audit import audit_insert_from, audit_record_many
from distributors.sqlrows import json_rows, json_rows_select

from ..models import Delivery

# What sending a copy reads from its row; the rest (timestamps, reasons, state) is
# written, never read, on this path.
_CLAIMED_ROW_FIELDS = (
    "id",
    "notice_id",
    "member_id",
    "user_id",
    "organization_id",
    "email",
    "fingerprint",
    "reference_code",
    "message_id",
)


def deliveries_claim(*, delivery_ids: list[int]) -> list[tuple[Delivery, int]]:
    """pending -> sending for those of the ids still pending, in one statement; returns
    (row, attempt) for exactly the rows this call claimed, each row with what sending
    reads of it: the claim's own RETURNING reads it, so no second query does."""
    now = timezone.now()
    if connection.vendor in ("postgresql", "sqlite"):
        quote = connection.ops.quote_name
        table = quote(Delivery._meta.db_table)
        pk, state, claimed_at, attempts = (
            quote(Delivery._meta.get_field(name).column)
            for name in ("id", "state", "claimed_at", "attempts")
        )
        fields = [Delivery._meta.get_field(name) for name in _CLAIMED_ROW_FIELDS]
        returning = ", ".join(quote(field.column) for field in fields)
        marks = ", ".join(["%s"] * len(delivery_ids))
        if connection.vendor == "postgresql":
            # SKIP LOCKED: a row another worker is claiming right now is theirs; waiting
            # for it would only find it claimed.
            # Only quoted column names and %s placeholders are formatted into the SQL.
            where = (
                f"{pk} IN (SELECT {pk} FROM {table} WHERE {pk} IN ({marks}) AND {state} = %s "  # noqa: S608
                f"ORDER BY {pk} FOR UPDATE SKIP LOCKED)"
            )
        else:  # SQLite runs one writer at a time
            where = f"{pk} IN ({marks}) AND {state} = %s"
        sql = (
            f"UPDATE {table} SET {state} = %s, {claimed_at} = %s, {attempts} = {attempts} + 1 "  # noqa: S608
            f"WHERE {where} RETURNING {attempts}, {returning}"
        )
        params = [
            Delivery.State.SENDING.value,
            connection.ops.adapt_datetimefield_value(now),
            *delivery_ids,
            Delivery.State.PENDING.value,
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = cursor.fetchall()
        names = [field.attname for field in fields]
        claimed = [
            (Delivery.from_db(connection.alias, names, values[1:]), int(values[0]))
            for values in found
        ]
        return sorted(claimed, key=lambda item: item[0].pk)
    claimed = {}
    for delivery_id in delivery_ids:  # other databases: one conditional UPDATE per row
        if Delivery.objects.filter(pk=delivery_id, state=Delivery.State.PENDING).update(
            state=Delivery.State.SENDING, claimed_at=now, attempts=F("attempts") + 1
        ):
            claimed[delivery_id] = Delivery.objects.values_list("attempts", flat=True).get(
                pk=delivery_id
            )
    rows = Delivery.objects.filter(pk__in=list(claimed)).only(*_CLAIMED_ROW_FIELDS).order_by("pk")
    return [(row, claimed[row.pk]) for row in rows]


def deliveries_release(*, rows: Iterable[Delivery], claimed: dict[int, int]) -> None:
    """Gives back rows this call claimed but did not finish (an unforeseen error between
    the claim and the send), so they need not wait for the sweeper's timeout."""
    for row in rows:
        Delivery.objects.filter(
            pk=row.pk, state=Delivery.State.SENDING, attempts=claimed[row.pk]
        ).update(state=Delivery.State.PENDING, queued_at=timezone.now())


def deliveries_mark_sent(*, sent: list[tuple[Delivery, int]]) -> set[int]:
    """sending -> sent for copies whose claim is still ours, with one audit event each,
    in one transaction. Returns the ids marked."""
    if not sent:
        return set()
    if connection.vendor == "postgresql":
        return _mark_sent_in_one_statement(sent)
    now = timezone.now()
    by_attempt: dict[int, list[int]] = {}
    for row, attempt in sent:
        by_attempt.setdefault(attempt, []).append(row.pk)
    marked: set[int] = set()
    with transaction.atomic():
        for attempt, ids in by_attempt.items():
            marked |= _update_returning(
                ids,
                where_state=Delivery.State.SENDING,
                attempts=attempt,
                values={
                    "state": Delivery.State.SENT.value,
                    "failure_reason": "",
                    "finished_at": now,
                    "sent_at": now,
                },
            )
        audit_record_many(
            actor=None,
            action=f"delivery.{Delivery.State.SENT}",
            targets=[
                (row, row.organization_id, {"attempt": attempt})
                for row, attempt in sent
                if row.pk in marked
            ],
        )
    return marked


def _mark_sent_in_one_statement(sent: list[tuple[Delivery, int]]) -> set[int]:
    """deliveries_mark_sent() on PostgreSQL: the UPDATE and the audit events it implies are one
    statement (a data-modifying CTE), so one round trip and one commit per part instead
    of four round trips (BEGIN, UPDATE, INSERT, COMMIT); the same rows, the same events."""
    meta = Delivery._meta
    quote = connection.ops.quote_name
    column = {name: quote(meta.get_field(name).column) for name in _MARK_COLUMNS}
    pk_type = meta.pk.rel_db_type(connection)
    attempts_type = meta.get_field("attempts").db_type(connection)
    events, event_params = audit_insert_from(
        source="marked",
        action=f"delivery.{Delivery.State.SENT}",
        target_model=Delivery,
        target_id="marked.id::text",
        target_repr="marked.repr",
        organization_id="marked.organization_id",
        data="jsonb_build_object('attempt', marked.attempt)",
    )
    claims = json_rows_select([pk_type, attempts_type, "text"], ["id", "attempt", "repr"])
    # Only quoted names, json_rows_select()'s and audit_insert_from()'s SQL are formatted
    # into the statement; every value is a parameter.
    sql = (
        f"WITH marked AS (UPDATE {quote(meta.db_table)} AS sent_row SET "  # noqa: S608
        f"{column['state']} = %s, {column['failure_reason']} = '', "
        f"{column['finished_at']} = %s, {column['sent_at']} = %s "
        f"FROM ({claims}) AS claim "
        f"WHERE sent_row.{column['id']} = claim.id AND sent_row.{column['state']} = %s "
        f"AND sent_row.{column['attempts']} = claim.attempt "
        f"RETURNING sent_row.{column['id']} AS id, "
        f"sent_row.{column['organization']} AS organization_id, claim.attempt, claim.repr), "
        f"events AS ({events}) "
        f"SELECT id FROM marked"
    )
    now = meta.get_field("sent_at").get_db_prep_save(timezone.now(), connection)
    params = [
        Delivery.State.SENT.value,
        now,
        now,
        json_rows([(row.pk, attempt, str(row)[:300]) for row, attempt in sent]),
        Delivery.State.SENDING.value,
        *event_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {int(row[0]) for row in cursor.fetchall()}


_MARK_COLUMNS = (
    "id",
    "state",
    "failure_reason",
    "finished_at",
    "sent_at",
    "attempts",
    "organization",
)


def _update_returning(ids: list[int], *, where_state: str, attempts: int, values: dict) -> set[int]:
    """UPDATE the rows among `ids` still in `where_state` with this claim number; returns
    the ids changed, from the statement itself (no read-then-write race)."""
    if connection.vendor not in ("postgresql", "sqlite"):
        changed = set()
        for pk in ids:
            if Delivery.objects.filter(pk=pk, state=where_state, attempts=attempts).update(
                **values
            ):
                changed.add(pk)
        return changed
    quote = connection.ops.quote_name
    table = quote(Delivery._meta.db_table)
    assignments, params = [], []
    for name, value in values.items():
        field = Delivery._meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    pk, state, attempts_column = (
        quote(Delivery._meta.get_field(name).column) for name in ("id", "state", "attempts")
    )
    marks = ", ".join(["%s"] * len(ids))
    # Only quoted column names and %s placeholders are formatted into the SQL.
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk} IN ({marks}) "  # noqa: S608
        f"AND {state} = %s AND {attempts_column} = %s RETURNING {pk}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids, where_state, attempts])
        return {int(row[0]) for row in cursor.fetchall()}


__all__ = [
    "deliveries_claim",
    "deliveries_mark_sent",
    "deliveries_release",
]
