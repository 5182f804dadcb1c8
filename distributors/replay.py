"""Rebuild an application's state from its audit events alone.

The audit log is the record we trust when the tables are in doubt (a bad migration, a
disputed decision). Replaying it must give the same answer as the database; a test keeps
the services honest about writing every fact a replay needs."""

from __future__ import annotations

from collections.abc import Iterable

from core.models import AuditEvent
from distributors.models import Application

STATE_VALUES = set(Application.State.values)
FINAL_STATES = {str(state) for state in Application.FINAL_STATES}
DECISION_STATES = {str(Application.State.APPROVED), str(Application.State.REJECTED)}


class ReplayError(ValueError):
    """The events do not describe one consistent history."""


def application_replay(*, events: Iterable[AuditEvent]) -> dict:
    """The application's state as its audit events tell it.

    Returns a dict with: state, submitted, decided, verdicts ({criterion number: verdict}),
    answered (sorted criterion numbers), open_questions (sorted question ids) and
    decision_reason."""
    ordered = sorted(events, key=lambda event: (event.created_at, event.pk))
    targets = {(event.target_type_id, event.target_id) for event in ordered}
    if len(targets) > 1:
        raise ReplayError("The events belong to more than one object.")
    state: str | None = None
    submitted = decided = False
    verdicts: dict[int, str] = {}
    answered: set[int] = set()
    open_questions: set[int] = set()
    decision_reason = ""
    for event in ordered:
        data = event.data or {}
        if "to" in data:
            target_state = data["to"]
            if target_state not in STATE_VALUES:
                raise ReplayError(f"Event {event.pk} moves to an unknown state {target_state!r}.")
            if "from" in data and data["from"] != state:
                raise ReplayError(
                    f"Event {event.pk} moves from {data['from']!r}, but the replay is at {state!r}."
                )
            state = target_state
            if state in FINAL_STATES:
                decided = True
            if state in DECISION_STATES:
                # A withdrawal's reason stays in the log only; the application keeps the
                # security team's reason for its decision.
                decision_reason = data.get("reason", "")
        action = event.action
        if action == "application.submitted":
            submitted = True
        elif action == "application.answer_saved":
            answered.add(_required(event, data, "criterion"))
        elif action == "application.criterion_reviewed":
            verdicts[_required(event, data, "criterion")] = _required(event, data, "verdict")
        elif action == "application.question_asked":
            open_questions.add(_required(event, data, "question"))
        elif action == "application.question_answered":
            open_questions.discard(_required(event, data, "question"))
    if state is None:
        raise ReplayError("No event records the application's creation.")
    return {
        "state": state,
        "submitted": submitted,
        "decided": decided,
        "verdicts": verdicts,
        "answered": sorted(answered),
        "open_questions": sorted(open_questions),
        "decision_reason": decision_reason,
    }


def _required(event: AuditEvent, data: dict, key: str):
    if data.get(key) is None:
        raise ReplayError(f"Event {event.pk} ({event.action}) lacks {key!r}.")
    return data[key]
