"""Inserting many rows of plain values in one statement, without building model instances.

For the few writes whose row count grows with the list (pressing "send" writes one row
per person): with a thousand people, building the model instances and having Django
prepare every value cost more than the insert itself (benchmarks/fanout.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connection, models

# Rows per statement on PostgreSQL: one statement's JSON stays a few MB at most.
_BATCH = 5000


def rows_insert(
    *, model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """INSERTs `rows` (each a sequence of values in the order of `fields`); returns how
    many. Values are what the columns hold: ints, strings, None, aware datetimes, and
    JSON-able data for JSON fields. Columns not named get NULL, so every NOT NULL
    column must be named. Inside the caller's transaction, like any write.

    PostgreSQL receives the rows as one JSON document that the statement takes apart
    (json_rows_select()). Other databases get Django's bulk_create of the same rows."""
    if not rows:
        return 0
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    for row in rows:
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} values for {len(columns)} fields")
    if connection.vendor != "postgresql":
        names = [field.attname for field in columns]
        model.objects.bulk_create(
            [model(**dict(zip(names, row, strict=True))) for row in rows], batch_size=500
        )
        return len(rows)
    quote = connection.ops.quote_name
    db_types = [field.db_type(connection) for field in columns]
    json_at = [
        (index, field.encoder)
        for index, field in enumerate(columns)
        if isinstance(field, models.JSONField)
    ]
    # Only quoted names and json_rows_select()'s SQL are formatted into the statement.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "
        f"({', '.join(quote(field.column) for field in columns)}) "
        f"{json_rows_select(db_types)}"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _BATCH):
            batch = rows[start : start + _BATCH]
            if json_at:
                batch = [list(row) for row in batch]
                for row in batch:
                    # The field's own encoder, as Django uses it; the column parses the text.
                    for index, encoder in json_at:
                        if row[index] is not None:
                            row[index] = json.dumps(row[index], cls=encoder)
            cursor.execute(sql, [json_rows(batch)])
    return len(rows)


def json_rows_select(db_types: Sequence[str], names: Sequence[str] = ()) -> str:
    """PostgreSQL: a `SELECT` giving one row per element of a JSON array parameter (one
    %s, json_rows() of the rows), each element a list of values cast to `db_types` in
    order, as `names` (SQL identifiers the caller chose) when given. JSON columns take
    their values as JSON text."""
    if names and (len(names) != len(db_types) or not all(map(_NAME.match, names))):
        raise ValueError("names must be one lower-case SQL identifier per type")
    items = []
    for index, db_type in enumerate(db_types):
        if db_type is None or db_type.endswith("]"):
            raise ValueError("a JSON row source does not take array or non-column fields")
        # Cast to the type without its length: a cast to varchar(n) would cut a long
        # value short, where the INSERT's own assignment refuses it.
        item = f"(item ->> {index})::{_LENGTH.sub('', db_type)}"
        items.append(f"{item} AS {names[index]}" if names else item)
    # Only the casts built above, from the callers' column types and names, are formatted.
    return f"SELECT {', '.join(items)} FROM jsonb_array_elements(%s::jsonb) AS item"  # noqa: S608


def json_rows(rows: Sequence[Sequence[Any]]) -> str:
    """The parameter of json_rows_select(): encoding it is one C call, where the driver
    quotes every value of an array parameter in Python (25 ms of the 80 ms a
    thousand-person "send" took)."""
    return json.dumps(rows, default=_json_value, check_circular=False)


_LENGTH = re.compile(r"\(\d+\)$")
_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _json_value(value: Any) -> str:
    # Full precision (DjangoJSONEncoder would drop microseconds); PostgreSQL parses the
    # ISO form of each back to the same value.
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"cannot store a {type(value).__name__} as a column value")
