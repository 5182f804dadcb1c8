"""Inserting many rows of plain values in one statement, without building model instances.

For the few writes whose row count grows with the list (pressing "send" writes one row
per person): with a thousand people, building the model instances and having Django
prepare every value cost more than the insert itself (benchmarks/fanout.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# Rows per statement on PostgreSQL: the arrays of one statement stay a few MB at most.
_BATCH = 5000


def rows_insert(
    *, model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]
) -> int:
    """INSERTs `rows` (each a sequence of values in the order of `fields`); returns how
    many. Values are what the columns hold: ints, strings, None, aware datetimes, and
    JSON-able data for JSON fields. Columns not named get NULL, so every NOT NULL
    column must be named. Inside the caller's transaction, like any write.

    PostgreSQL receives one array per column and unpacks them (UNNEST): no per-value work
    in Python beyond JSON. Other databases get Django's bulk_create of the same rows."""
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
    if any(db_type is None or db_type.endswith("]") for db_type in db_types):
        # UNNEST would flatten an array column; nothing here writes one.
        raise ValueError("rows_insert() does not take array or non-column fields")
    json_at = [i for i, field in enumerate(columns) if isinstance(field, models.JSONField)]
    arrays_sql = ", ".join(f"(%s)::{db_type}[]" for db_type in db_types)
    # Only quoted names and the fields' own column types are formatted into the SQL.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(field.column) for field in columns)}) "
        f"SELECT * FROM UNNEST({arrays_sql})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _BATCH):
            arrays = [list(values) for values in zip(*rows[start : start + _BATCH], strict=True)]
            for i in json_at:
                encoder = columns[i].encoder
                arrays[i] = [
                    None if value is None else json.dumps(value, cls=encoder) for value in arrays[i]
                ]
            cursor.execute(sql, arrays)
    return len(rows)
