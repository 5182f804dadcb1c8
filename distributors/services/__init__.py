"""Writes, one module per concept. Import from here: `from distributors.services import x`."""

from distributors.services.applications import (
    application_ask,
    application_decide,
    application_start,
    application_submit,
    application_withdraw,
    criteria_review_record,
    criterion_answer_save,
    criterion_review_record,
    organization_apply,
    question_reply,
)
from distributors.services.policy import policy_accept, policy_publish
from distributors.services.vouching import (
    organization_vouch_listing_set,
    vouch_confirm,
    vouch_decline,
    vouch_request,
    vouch_withdraw,
    vouches_flag_for_organization,
)

__all__ = [
    "application_ask",
    "application_decide",
    "application_start",
    "application_submit",
    "application_withdraw",
    "criteria_review_record",
    "criterion_answer_save",
    "criterion_review_record",
    "organization_apply",
    "question_reply",
]

__all__ += [
    "organization_vouch_listing_set",
    "policy_accept",
    "policy_publish",
    "vouch_confirm",
    "vouch_decline",
    "vouch_request",
    "vouch_withdraw",
    "vouches_flag_for_organization",
]

from distributors.services.sanctions import (  # noqa: E402
    organization_reinstate,
    organization_remove,
    organization_suspend,
)

__all__ += ["organization_reinstate", "organization_remove", "organization_suspend"]
