"""Writes about reports. Views, tasks and the mail-in command import from here."""

from intake.services.conversation import (
    report_reporter_reply,
    report_team_reply,
    team_message_add,
)
from intake.services.deadlines import Sla, report_deadlines_check, report_mail_catch_up, report_sla
from intake.services.submit import (
    STRUCTURED_FIELDS,
    IncomingFile,
    file_name_clean,
    files_check,
    report_submit,
)
from intake.services.triage import (
    TRANSITIONS,
    case_summary,
    report_accept,
    report_close,
    report_defer,
    report_mark_invalid,
    report_mark_valid,
    report_next_states,
)

__all__ = [
    "STRUCTURED_FIELDS",
    "TRANSITIONS",
    "IncomingFile",
    "Sla",
    "case_summary",
    "file_name_clean",
    "files_check",
    "report_accept",
    "report_close",
    "report_deadlines_check",
    "report_defer",
    "report_mail_catch_up",
    "report_mark_invalid",
    "report_mark_valid",
    "report_next_states",
    "report_reporter_reply",
    "report_sla",
    "report_submit",
    "report_team_reply",
    "team_message_add",
]
