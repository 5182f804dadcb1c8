"""The delivery rows' own statements on the send path (services/delivery.py): claiming a
batch (pending -> sending) under a lease, renewing the lease, giving back what a batch did
not finish, and marking copies sent with their audit events. Each is one statement where
the database allows it (PostgreSQL; SQLite mostly), so a batch costs a few round trips,
not a few per copy.

A row is only ever changed while its claim is ours: state sending and the same attempt
number. A worker the sweeper timed out thus cannot overwrite what another did since.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.audit import audit_insert_from, audit_record_many
from embargo.delivery.states import CLAIM, RETRY, SEND_SENT, Move
from embargo.models import Delivery

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
    "temporary_failures",
    "give_up_at",
    "uncertain_at",
)


def due_when_queued(now: datetime) -> datetime:
    """When a row queued at `now` is queued again if no task has claimed it by then (its
    message lost, or the broker restarted empty)."""
    return now + timedelta(seconds=settings.HAULOUT_DELIVERY_PENDING_TIMEOUT)


def lease_seconds() -> float:
    return max(1.0, float(settings.HAULOUT_DELIVERY_LEASE_SECONDS))


def deliveries_claim(*, delivery_ids: list[int]) -> list[tuple[Delivery, int]]:
    """pending -> sending for those of the ids still pending, in one statement, with a
    lease of lease_seconds(); returns (row, attempt) for exactly the rows this call
    claimed, each row with what sending reads of it: the claim's own RETURNING reads it,
    so no second query does."""
    now = timezone.now()
    lease_until = now + timedelta(seconds=lease_seconds())
    quote = connection.ops.quote_name
    table = quote(Delivery._meta.db_table)
    pk, state, claimed_at, attempts, lease = (
        quote(Delivery._meta.get_field(name).column)
        for name in ("id", "state", "claimed_at", "attempts", "lease_until")
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
        f"UPDATE {table} SET {state} = %s, {claimed_at} = %s, {lease} = %s, "  # noqa: S608
        f"{attempts} = {attempts} + 1 WHERE {where} RETURNING {attempts}, {returning}"
    )
    params = [
        CLAIM.target,
        connection.ops.adapt_datetimefield_value(now),
        connection.ops.adapt_datetimefield_value(lease_until),
        *delivery_ids,
        *CLAIM.sources,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    names = [field.attname for field in fields]
    claimed = [
        (Delivery.from_db(connection.alias, names, _converted(values[1:])), int(values[0]))
        for values in found
    ]
    return sorted(claimed, key=lambda item: item[0].pk)


# Positions of the date-time fields among _CLAIMED_ROW_FIELDS: SQLite returns them as
# text from a raw statement, and the ORM's own conversion is not applied there.
_CLAIMED_DATETIMES = tuple(
    index
    for index, name in enumerate(_CLAIMED_ROW_FIELDS)
    if Delivery._meta.get_field(name).get_internal_type() == "DateTimeField"
)


def _converted(values: tuple) -> list:
    values = list(values)
    if connection.vendor == "sqlite":
        for index in _CLAIMED_DATETIMES:
            values[index] = connection.ops.convert_datetimefield_value(
                values[index], None, connection
            )
    return values


def deliveries_release(*, rows: Iterable[Delivery], claimed: dict[int, int]) -> list[int]:
    """Gives back rows this call claimed but did not send (an unforeseen error, or the
    task's time is up), due now, so they need not wait for their lease to run out.
    Returns the ids given back; the caller queues them (or the sweeper does)."""
    now = timezone.now()
    released: set[int] = set()
    for attempt, ids in _by_attempt((row.pk, claimed[row.pk]) for row in rows).items():
        released |= _update_returning(
            ids,
            move=RETRY,
            attempts=attempt,
            values={"due_at": now, "lease_until": None},
        )
    return sorted(released)


def deliveries_lease_renew(*, claimed: dict[int, int]) -> set[int]:
    """Extends the lease on those of the rows that are still ours (sending, with our
    claim number): the ids whose lease was renewed. A row missing from the answer was
    taken back by the sweeper (our lease ran out) and may be someone else's now."""
    lease_until = timezone.now() + timedelta(seconds=lease_seconds())
    renewed: set[int] = set()
    for attempt, ids in _by_attempt(claimed.items()).items():
        renewed |= _update_returning(
            ids,
            where_state=Delivery.State.SENDING,
            attempts=attempt,
            values={"lease_until": lease_until},
        )
    return renewed


# At most this many rows per sweep and kind: a sweep stays short, the next takes the rest.
SWEEP_LIMIT = 5000


@transaction.atomic
def deliveries_lease_expired_take(*, now: datetime) -> list[int]:
    """sending -> pending, due now, for rows whose lease ran out before `now`, with an
    audit event each; returns their ids. A row whose owner renewed it or finished it
    meanwhile is not taken (the statement checks again what it changes)."""
    taken = _take(
        move=RETRY,
        before_field="lease_until",
        now=now,
        values={"due_at": now, "lease_until": None},
        returning=("id", "attempts", "organization_id", "notice_id"),
    )
    if taken:
        audit_record_many(
            actor=None,
            action="delivery.lease_expired",
            targets=[
                (Delivery(pk=pk, notice_id=notice_id), organization_id, {"attempt": attempt})
                for pk, attempt, organization_id, notice_id in taken
            ],
        )
    return [row[0] for row in taken]


def deliveries_due_take(*, now: datetime, requeue_at: datetime) -> list[int]:
    """Pending rows due by `now`, given the next due time `requeue_at` (queued now, due
    again then if nobody claims them); returns their ids, for the caller to queue."""
    taken = _take(
        where_state=Delivery.State.PENDING,
        before_field="due_at",
        now=now,
        values={"due_at": requeue_at},
        returning=("id",),
        inclusive=True,
    )
    return [row[0] for row in taken]


@transaction.atomic
def _take(
    *,
    move: Move | None = None,
    where_state: str | None = None,
    before_field: str,
    now: datetime,
    values: dict,
    returning: tuple[str, ...],
    inclusive: bool = False,
) -> list[tuple]:
    """UPDATE up to SWEEP_LIMIT rows in `where_state` whose `before_field` is before
    `now`, RETURNING the named columns: one statement, so two sweepers at once never take
    the same row (PostgreSQL skips rows the other holds; SQLite has one writer)."""
    meta = Delivery._meta
    compare = "<=" if inclusive else "<"
    where_state, values = _moving(move, where_state, values)
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    column = {f.attname: quote(f.column) for f in meta.concrete_fields}
    assignments, params = [], []
    for name, value in values.items():
        field = meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    moment = meta.get_field(before_field).get_db_prep_save(now, connection)
    pk, state, before = column["id"], column["state"], column[meta.get_field(before_field).attname]
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    condition = f"{state} = %s AND {before} {compare} %s"
    # Only quoted column names and %s placeholders are formatted into the SQL.
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk} IN ("  # noqa: S608
        f"SELECT {pk} FROM {table} WHERE {condition} ORDER BY {pk} LIMIT {SWEEP_LIMIT}{lock}"
        f") AND {condition} RETURNING {', '.join(column[name] for name in returning)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, where_state, moment, where_state, moment])
        return sorted(cursor.fetchall())


def _moving(move: Move | None, where_state: str | None, values: dict) -> tuple[str, dict]:
    """The state a statement requires and the values it sets: a move's (its one source,
    and its target as the new state), or, for a statement that changes no state (renewing
    a lease, a due time), the state given."""
    if move is None:
        return where_state, values
    (source,) = move.sources
    return source, {**values, "state": move.target}


def _by_attempt(pairs: Iterable[tuple[int, int]]) -> dict[int, list[int]]:
    # A batch's rows usually share one claim number: one statement each, not per row.
    grouped: dict[int, list[int]] = {}
    for pk, attempt in pairs:
        grouped.setdefault(attempt, []).append(pk)
    return grouped


def deliveries_mark_sent(*, sent: list[tuple[Delivery, int]]) -> set[int]:
    """sending -> sent for copies whose claim is still ours, with one audit event each,
    in one transaction. Returns the ids marked."""
    if not sent:
        return set()
    if connection.vendor == "postgresql":
        return _mark_sent_in_one_statement(sent)
    now = timezone.now()
    marked: set[int] = set()
    with transaction.atomic():
        for attempt, ids in _by_attempt((row.pk, attempt) for row, attempt in sent).items():
            marked |= _update_returning(
                ids,
                move=SEND_SENT,
                attempts=attempt,
                values={
                    "failure_reason": "",
                    "finished_at": now,
                    "sent_at": now,
                    "lease_until": None,
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
    # The rows marked, as three arrays of one parameter each. Cast to `text[]`, not
    # to the column's varchar(n)[], which would cut a longer value short.
    claims = (
        f"SELECT * FROM unnest(%s::{pk_type}[], %s::{attempts_type}[], %s::text[]) "  # noqa: S608
        "AS claim (id, attempt, repr)"
    )
    # Only quoted names, the columns' own types and audit_insert_from()'s SQL are
    # formatted into the statement; every value is a parameter.
    sql = (
        f"WITH marked AS (UPDATE {quote(meta.db_table)} AS sent_row SET "  # noqa: S608
        f"{column['state']} = %s, {column['failure_reason']} = '', "
        f"{column['finished_at']} = %s, {column['sent_at']} = %s, {column['lease_until']} = NULL "
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
        SEND_SENT.target,
        now,
        now,
        [row.pk for row, _ in sent],
        [attempt for _, attempt in sent],
        [str(row)[:300] for row, _ in sent],
        *SEND_SENT.sources,
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
    "lease_until",
)


def _update_returning(
    ids: list[int],
    *,
    move: Move | None = None,
    where_state: str | None = None,
    attempts: int,
    values: dict,
) -> set[int]:
    """UPDATE the rows among `ids` still in `where_state` with this claim number; returns
    the ids changed, from the statement itself (no read-then-write race)."""
    where_state, values = _moving(move, where_state, values)
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
    "deliveries_due_take",
    "deliveries_lease_expired_take",
    "deliveries_lease_renew",
    "deliveries_mark_sent",
    "deliveries_release",
    "due_when_queued",
    "lease_seconds",
]
