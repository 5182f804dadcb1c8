"""Small helpers the embargo pages share: the same ones the membership pages use."""

from __future__ import annotations

from distributors.views.common import service_error_report as report
from distributors.views.common import service_run, staff_required

__all__ = ["report", "service_run", "staff_required"]
