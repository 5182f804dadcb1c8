"""The audit log as a hash chain: sealing events in order, and checking the chain.

Writers (core.audit) insert events with `seq`, `prev_hash` and `hash` NULL, exactly as
before the chain existed: a fan-out's thousands of events cost no more, and no
transaction of the app waits for another's commit to learn its predecessor's hash.
A sealer (audit_chain_seal, every few seconds from beat) then numbers the committed
events that have no number yet, in id order, and fills in the hashes. Sequence numbers
follow sealing order, not ids: an event whose transaction commits late gets a later
number than higher ids sealed before it. The database allows exactly that one change to
an event (the trigger in core migration 0003); anything else is refused.

The exact form hashed, so an auditor can recompute any event with any tool
-------------------------------------------------------------------------
For the event with sequence number `seq`:

    hash = lowercase hex SHA-256 of the ASCII bytes of the JSON object

    {"action": ..., "actor_id": ..., "created_at": ..., "data": ..., "id": ...,
     "organization_id": ..., "prev_hash": ..., "seq": ..., "target_id": ...,
     "target_repr": ..., "target_type_id": ...}

- the columns of distributors_auditevent, foreign keys as their id columns (integers, or
  null for no actor or organisation); `seq` and `id` integers; the rest strings except
  `data`, the stored JSON value;
- `created_at` in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ (always six fractional digits);
- `prev_hash` is the previous event's `hash`; for seq 1 it is 64 zeros (GENESIS_HASH);
- serialised with object keys sorted by code point at every level (data included), no
  whitespace at all, every character outside printable ASCII escaped as \\uXXXX (UTF-16
  surrogate pairs above U+FFFF; \\n, \\t, \\r, \\b, \\f, \\" and \\\\ as short escapes),
  numbers as Python's json module writes them. In Python that is exactly
  `json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)`.

Recomputing event 42's hash from PostgreSQL alone (true when it is intact):

    psql -tA -c "SELECT json_build_object('id', id, 'seq', seq, 'prev_hash', prev_hash,
      'created_at', to_char(created_at AT TIME ZONE 'UTC',
                            'YYYY-MM-DD\\"T\\"HH24:MI:SS.US\\"Z\\"'),
      'actor_id', actor_id, 'action', action, 'target_type_id', target_type_id,
      'target_id', target_id, 'target_repr', target_repr,
      'organization_id', organization_id, 'data', data), hash
      FROM distributors_auditevent WHERE seq = 42" | python3 -c "import sys, json, hashlib
    record, stored = sys.stdin.read().strip().rsplit('|', 1)
    text = json.dumps(json.loads(record), sort_keys=True, separators=(',', ':'))
    print(hashlib.sha256(text.encode()).hexdigest() == stored)"

Verification (audit_chain_verify) walks events by seq and stops at the first one that
does not fit: a missing number (a deleted row), a prev_hash that is not its
predecessor's hash (an inserted, deleted or moved row), a hash that is not its fields'
(an edited row), or a checkpoint (AuditCheckpoint, signed daily) the chain no longer
passes through (the chain rewritten after the checkpoint).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from core.models import AuditCheckpoint, AuditEvent, ChainHead

GENESIS_HASH = "0" * 64
HEAD_PK = 1
# The columns hashed, in the order values_list() reads them.
HASHED = (
    "id",
    "seq",
    "prev_hash",
    "created_at",
    "actor_id",
    "action",
    "target_type_id",
    "target_id",
    "target_repr",
    "organization_id",
    "data",
)
_READ = (*HASHED, "hash")


def event_canonical(values: dict) -> bytes:
    """The bytes hashed for one event (the module docstring gives the form); `values`
    maps every name in HASHED to the stored value."""
    record = {name: values[name] for name in HASHED}
    created = record["created_at"]
    if isinstance(created, datetime):
        record["created_at"] = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return text.encode("ascii")


def event_hash(values: dict) -> str:
    return hashlib.sha256(event_canonical(values)).hexdigest()


def checkpoint_text(*, day, seq: int, hash: str) -> bytes:
    """The exact bytes a checkpoint's detached signature covers (UTF-8, LF line ends):
    check one by hand with `gpg --verify signature.asc text` against the team key."""
    return f"Haulout audit checkpoint\nday: {day.isoformat()}\nseq: {seq}\nhash: {hash}\n".encode()


# ---------------------------------------------------------------- sealing


def audit_chain_seal(*, batch_size: int = 1000, max_batches: int | None = None) -> int:
    """Seals committed unsealed events in id order, `batch_size` to a transaction, until
    none is left (or `max_batches` ran). Returns how many it sealed.

    Safe to run twice at once: each batch locks the chain head first (SELECT ... FOR
    UPDATE on PostgreSQL; SQLite's IMMEDIATE transactions admit one writer), and moves it
    only from where it found it, so a second sealer waits and then continues the chain
    rather than forking it. It writes no audit event of its own: each would be one more
    event to seal, for ever."""
    total = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        sealed = _seal_batch(batch_size)
        total += sealed
        batches += 1
        if sealed < batch_size:
            break
    return total


class ChainMoved(Exception):
    """Another sealer moved the head under us (cannot happen while the lock holds)."""


@transaction.atomic
def _seal_batch(limit: int) -> int:
    head = _head_locked()
    events = _unsealed(limit)
    if not events:
        return 0
    seq, previous = head.seq, head.hash
    rows = []
    for values in events:
        seq += 1
        values.update(seq=seq, prev_hash=previous)
        digest = event_hash(values)
        rows.append((seq, previous, digest, values["id"]))
        previous = digest
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        # Raw SQL: the ORM's guard refuses every UPDATE of an event, and this is the one
        # change the database trigger allows (NULL chain columns filled once).
        cursor.executemany(
            f"UPDATE {table} SET seq = %s, prev_hash = %s, hash = %s "  # noqa: S608
            "WHERE id = %s AND seq IS NULL",
            rows,
        )
        # The sum over the statements (psycopg 3 and sqlite3 both report it): an event
        # sealed under us would leave a hole in the chain, so nothing is kept then.
        if cursor.rowcount != len(rows):
            raise ChainMoved("events were sealed under this sealer; nothing was sealed")
    moved = ChainHead.objects.filter(pk=HEAD_PK, seq=head.seq).update(
        seq=seq, hash=previous, sealed_at=timezone.now()
    )
    if moved != 1:
        raise ChainMoved("the chain head moved while sealing; nothing was sealed")
    return len(rows)


def _unsealed(limit: int) -> list[dict]:
    return list(AuditEvent.objects.filter(seq__isnull=True).order_by("pk").values(*HASHED)[:limit])


def _head_locked() -> ChainHead:
    # The row is made by the migration; a test database flush removes it, so it is made
    # again here the same race-free way periodic claims are (an insert that ignores a
    # conflict, then the lock).
    ChainHead.objects.bulk_create(
        [ChainHead(pk=HEAD_PK, seq=0, hash=GENESIS_HASH)], ignore_conflicts=True
    )
    return ChainHead.objects.select_for_update().get(pk=HEAD_PK)


# ---------------------------------------------------------------- verification


@dataclass(frozen=True)
class ChainBreak:
    """The first event (by sequence number) that does not fit, and why."""

    seq: int | None
    event_id: int | None
    problem: str


@dataclass
class ChainReport:
    checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    checkpoints: int = 0
    broken: ChainBreak | None = None
    unsealed_old: int = 0
    oldest_unsealed: datetime | None = None
    warnings: list[str] = field(default_factory=list)


def audit_chain_verify(
    *,
    now: datetime,
    unsealed_after: timedelta,
    signature_ok: Callable[[AuditCheckpoint], bool] | None = None,
    chunk_size: int = 2000,
) -> ChainReport:
    """Walks the whole chain in sequence order, a chunk at a time (constant memory), and
    stops at the first break. `signature_ok` checks a checkpoint's signature as the walk
    reaches it (the caller brings gpg: core does not run it); None skips that check."""
    report = ChainReport()
    checkpoints: dict[int, list[AuditCheckpoint]] = {}
    for checkpoint in AuditCheckpoint.objects.order_by("seq", "day"):
        checkpoints.setdefault(checkpoint.seq, []).append(checkpoint)
    report.checkpoints = sum(len(each) for each in checkpoints.values())
    report.broken = (
        _walk(report, checkpoints, signature_ok, chunk_size)
        or _end_checked(report, checkpoints, signature_ok)
        or _half_sealed()
    )
    _unsealed_count(report, now=now, unsealed_after=unsealed_after)
    return report


def _rows(chunk_size: int) -> Iterator[dict]:
    rows = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values(*_READ)
    return rows.iterator(chunk_size=chunk_size)


def _walk(report: ChainReport, checkpoints: dict, signature_ok, chunk_size: int):
    expected, previous = 1, GENESIS_HASH
    for row in _rows(chunk_size):
        problem = _row_problem(row, expected, previous) or _checkpoint_problem(
            checkpoints.get(row["seq"], []), row["hash"], signature_ok
        )
        if problem:
            return ChainBreak(row["seq"], row["id"], problem)
        report.checked += 1
        report.head_seq, report.head_hash = row["seq"], row["hash"]
        expected, previous = row["seq"] + 1, row["hash"]
    return None


def _row_problem(row: dict, expected: int, previous: str) -> str:
    seq = row["seq"]
    if seq > expected:
        missing = f"{expected}" if seq == expected + 1 else f"{expected} to {seq - 1}"
        return f"sequence gap: event(s) {missing} are missing (deleted)"
    if seq < expected:
        return f"sequence {seq} appears twice (a row was inserted)"
    if row["prev_hash"] != previous:
        return (
            "prev_hash is not the previous event's hash: an event was inserted or "
            "deleted before this one, or the rows were reordered"
        )
    if event_hash(row) != row["hash"]:
        return "hash does not match the event's fields: the event was edited"
    return ""


def _checkpoint_problem(checkpoints: list, row_hash: str | None, signature_ok) -> str:
    for checkpoint in checkpoints:
        day = checkpoint.day.isoformat()
        if signature_ok is not None and not signature_ok(checkpoint):
            return (
                f"the checkpoint of {day} (sequence {checkpoint.seq}) is not signed by the "
                "team key: its row was changed, or the key that signed it is not the "
                "current team key"
            )
        if row_hash is not None and checkpoint.hash != row_hash:
            return (
                f"the chain no longer passes through the signed checkpoint of {day}: it "
                "was rewritten up to here"
            )
    return ""


def _end_checked(report: ChainReport, checkpoints: dict, signature_ok) -> ChainBreak | None:
    beyond = [cp for seq, each in checkpoints.items() if seq > report.head_seq for cp in each]
    if beyond:
        first = beyond[0]
        problem = _checkpoint_problem([first], None, signature_ok) or (
            f"the chain ends at sequence {report.head_seq}, before the signed checkpoint "
            f"of {first.day.isoformat()} at sequence {first.seq}: events were deleted "
            "from the end"
        )
        return ChainBreak(first.seq, None, problem)
    head = ChainHead.objects.filter(pk=HEAD_PK).first()
    head_seq = head.seq if head is not None else 0
    if head_seq != report.head_seq or (head is not None and head.hash != report.head_hash):
        return ChainBreak(
            report.head_seq,
            None,
            f"the chain ends at sequence {report.head_seq} but the sealer's head is at "
            f"{head_seq}: events were deleted from or added at the end",
        )
    return None


def _half_sealed() -> ChainBreak | None:
    row = (
        AuditEvent.objects.filter(seq__isnull=True)
        .exclude(hash__isnull=True, prev_hash__isnull=True)
        .order_by("pk")
        .values("id")
        .first()
    )
    if row is None:
        return None
    return ChainBreak(None, row["id"], "the event has a hash but no sequence number")


def _unsealed_count(report: ChainReport, *, now: datetime, unsealed_after: timedelta) -> None:
    old = AuditEvent.objects.filter(seq__isnull=True, created_at__lt=now - unsealed_after)
    report.unsealed_old = old.count()
    if report.unsealed_old:
        report.oldest_unsealed = old.order_by("created_at").values_list("created_at", flat=True)[0]
        report.warnings.append(
            f"{report.unsealed_old} event(s) have waited more than "
            f"{int(unsealed_after.total_seconds() // 60)} minutes to be sealed (the oldest "
            f"since {report.oldest_unsealed:%Y-%m-%d %H:%M:%S} UTC): is celery beat running?"
        )
