"""Intake's health check for the staff health page (ops/ lists it): reports waiting past
the first-response deadline (3 business days by default), which the process promises."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from health_check.exceptions import ServiceUnavailable

from core.health import DatabaseReadCheck
from intake.selectors import report_counts


@dataclasses.dataclass
class FirstResponseDeadline(DatabaseReadCheck):
    title: ClassVar[str] = "First response to reporters"

    def check(self) -> None:
        counts = report_counts()
        if counts.overdue:
            raise ServiceUnavailable(
                f"{counts.overdue} report(s) are past the first-response deadline unanswered."
            )
        self.detail = f"None overdue; {counts.due_soon} due soon."
