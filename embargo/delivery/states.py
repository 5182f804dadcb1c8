"""Every move a copy's state can make, on one screen, and the guarded UPDATE that makes
it. Nothing else writes Delivery.state (tests/embargo/test_delivery_states.py checks):

    created  -> pending | withheld          initial_state(): eligible or not, with reasons
    pending  -> sending                     CLAIM: a worker takes it, under a lease
    sending  -> sent | failed | cancelled   SEND_*: the outcome of one hand-off
              | uncertain                   (cancelled: eligibility lost just before)
    sending  -> pending                     RETRY: a temporary failure, a released or
                                            lost lease, or one more try after an
                                            ambiguous hand-off (same Message-ID)
    pending  -> cancelled                   CANCEL_WAITING: the organisation was
                                            suspended or removed before any worker came
    failed | withheld | cancelled -> pending  REOPEN: a notice's catch-up, for a person
                                            who became eligible since

A move is a conditional UPDATE: it changes a row only while the row is still in one of
the move's source states (and, on the send path, still carries this claim's number), so
of two writers racing for a row exactly one wins and the other changes nothing.
"""

from __future__ import annotations

from typing import NamedTuple

from django.db.models import QuerySet

from embargo.models import Delivery

State = Delivery.State


class Move(NamedTuple):
    name: str
    sources: tuple[str, ...]
    target: str


CLAIM = Move("claim", (State.PENDING,), State.SENDING)
SEND_SENT = Move("sent", (State.SENDING,), State.SENT)
SEND_FAILED = Move("failed", (State.SENDING,), State.FAILED)
SEND_CANCELLED = Move("cancelled", (State.SENDING,), State.CANCELLED)
SEND_UNCERTAIN = Move("uncertain", (State.SENDING,), State.UNCERTAIN)
RETRY = Move("retry", (State.SENDING,), State.PENDING)
CANCEL_WAITING = Move("cancel_waiting", (State.PENDING,), State.CANCELLED)
REOPEN = Move("reopen", (State.FAILED, State.WITHHELD, State.CANCELLED), State.PENDING)

MOVES = (
    CLAIM,
    SEND_SENT,
    SEND_FAILED,
    SEND_CANCELLED,
    SEND_UNCERTAIN,
    RETRY,
    CANCEL_WAITING,
    REOPEN,
)
# What a hand-off ends in, by the state it reports.
SEND_OUTCOMES = {
    move.target: move for move in (SEND_SENT, SEND_FAILED, SEND_CANCELLED, SEND_UNCERTAIN)
}


def initial_state(*, eligible: bool) -> str:
    """A new copy waits to be sent, or is withheld (with its reasons) from a person who
    may not receive it now."""
    return State.PENDING.value if eligible else State.WITHHELD.value


def move_allowed(*, source: str, target: str) -> bool:
    return any(source in move.sources and target == move.target for move in MOVES)


def delivery_move(move: Move, *, rows: QuerySet, **values) -> int:
    """Moves those of `rows` still in one of the move's source states; returns how many
    moved. `values` are the other columns the move sets (times, reasons, the lease)."""
    return rows.filter(state__in=move.sources).update(state=move.target, **values)


def reopen(row: Delivery) -> bool:
    """REOPEN on an object about to be saved with others (a catch-up's bulk update):
    True if the row could move, and then it has."""
    if row.state not in REOPEN.sources:
        return False
    row.state = REOPEN.target
    return True
