"""Writes, one module per concept. Import from here: `from distributors.services import x`."""

from .applications import (
    application_ask,
    application_decide,
    application_start,
    application_submit,
    application_withdraw,
    criterion_answer_save,
    criterion_review_record,
    organization_apply,
    question_reply,
)

__all__ = [
    "application_ask",
    "application_decide",
    "application_start",
    "application_submit",
    "application_withdraw",
    "criterion_answer_save",
    "criterion_review_record",
    "organization_apply",
    "question_reply",
]
