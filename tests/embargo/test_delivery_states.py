"""The transition table is the only way a copy's state changes."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from embargo.delivery import states
from embargo.delivery.states import CANCEL_WAITING, CLAIM, RETRY, delivery_move, move_allowed
from embargo.models import Delivery
from tests.factories import DeliveryFactory

ROOT = Path(__file__).resolve().parents[2]
State = Delivery.State


@pytest.mark.parametrize("move", states.MOVES, ids=lambda move: move.name)
def test_every_move_in_the_table_is_allowed_from_each_of_its_sources(move):
    assert all(move_allowed(source=source, target=move.target) for source in move.sources)


@pytest.mark.parametrize(
    "source, target",
    [
        (State.SENT, State.PENDING),  # a sent copy is never sent again
        (State.UNCERTAIN, State.PENDING),  # staff decide; no loop
        (State.PENDING, State.SENT),  # only a claimed copy is handed off
        (State.WITHHELD, State.SENDING),
        (State.CANCELLED, State.SENT),
    ],
)
def test_a_move_outside_the_table_is_not_allowed(source, target):
    assert not move_allowed(source=source, target=target)


@pytest.mark.django_db
def test_a_move_changes_only_rows_still_in_one_of_its_sources():
    first, second = DeliveryFactory.create_batch(2, state=states.initial_state(eligible=True))
    assert delivery_move(CLAIM, rows=Delivery.objects.filter(pk=first.pk)) == 1
    # The second is still pending: a retry (sending -> pending) does not touch it, and a
    # cancel of waiting copies does not touch the first, which a worker holds.
    assert delivery_move(RETRY, rows=Delivery.objects.filter(pk=second.pk)) == 0
    assert delivery_move(CANCEL_WAITING, rows=Delivery.objects.all()) == 1
    assert dict(Delivery.objects.values_list("pk", "state")) == {
        first.pk: State.SENDING,
        second.pk: State.CANCELLED,
    }


# ------------------------------------------------------------------ the only writer

STATE_NAMES = {member.name for member in State}


def _is_delivery_state(node: ast.AST) -> bool:
    """`Delivery.State.X` or `Delivery.State.X.value`."""
    if isinstance(node, ast.Attribute) and node.attr == "value":
        node = node.value
    return (
        isinstance(node, ast.Attribute)
        and node.attr in STATE_NAMES
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "State"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "Delivery"
    )


def state_writes(source: str) -> list[int]:
    """Lines that write a Delivery state value: `state=Delivery.State.X` as a keyword
    (update(), create(), a constructor), `{"state": Delivery.State.X}`, or
    `something.state = Delivery.State.X`."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and _writes_rows(node):
            lines += [
                node.lineno
                for keyword in node.keywords
                if keyword.arg == "state" and _is_delivery_state(keyword.value)
            ]
        elif isinstance(node, ast.Dict):
            lines += [
                node.lineno
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value == "state"
                if _is_delivery_state(value)
            ]
        elif isinstance(node, ast.Assign):
            lines += [
                node.lineno
                for target in node.targets
                if isinstance(target, ast.Attribute) and target.attr == "state"
                if _is_delivery_state(node.value)
            ]
    return sorted(lines)


def _writes_rows(call: ast.Call) -> bool:
    """update(), create() and friends, or a model's constructor; not filter() or Q()."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in {"update", "create", "get_or_create", "update_or_create", "Delivery"}


def test_the_check_finds_each_kind_of_write():
    source = (
        "Delivery.objects.filter(pk=1).update(state=Delivery.State.SENT)\n"
        "values = {'state': Delivery.State.PENDING.value}\n"
        "row.state = Delivery.State.CANCELLED\n"
        "Delivery.objects.filter(state=Delivery.State.SENT)\n"
    )
    assert state_writes(source) == [1, 2, 3]


def test_no_code_but_the_transition_table_writes_a_delivery_state():
    writes = {}
    for package in ("core", "distributors", "embargo", "leaks"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or path == ROOT / "embargo/delivery/states.py":
                continue
            found = state_writes(path.read_text())
            if found:
                writes[str(path.relative_to(ROOT))] = found
    assert writes == {}
