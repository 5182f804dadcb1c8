"""Small helpers the embargo pages share: the same ones the membership pages use."""

from __future__ import annotations

from distributors.views.common import mfa_required, service_run, staff_required
from distributors.views.common import service_error_report as report

__all__ = ["mfa_required", "report", "service_run", "staff_required"]
