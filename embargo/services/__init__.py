"""Writes, one module per concept. Import from here: `from embargo.services import x`."""

from embargo.delivery.queue import deliveries_enqueue, deliveries_sweep
from embargo.delivery.send import DeliveryDeferred, delivery_send
from embargo.services.cases import (
    embargo_lift_due,
    vulnerability_create,
    vulnerability_disclose,
    vulnerability_disclosure_move,
    vulnerability_next_states,
    vulnerability_reject,
    vulnerability_transition,
    vulnerability_update,
)
from embargo.services.followup import (
    acknowledgement_reminders_send,
    delivery_acknowledge,
    embargo_lifted_mail,
)
from embargo.services.negotiation import (
    disclosure_date_set,
    disclosure_proposal_make,
    proposal_answer,
)
from embargo.services.notices import notice_catch_up, notice_create, notice_send, notice_update
from embargo.services.packages import (
    affected_package_add,
    affected_package_remove,
    affected_package_update,
    fix_reference_add,
    fix_reference_remove,
    version_range_add,
    version_range_remove,
    vulnerability_fix_set,
)
from embargo.services.ratings import cvss_rating_clear, cvss_rating_set
from embargo.services.revisions import advisory_revision_add
from embargo.services.variation import notice_variation_set

__all__ = [
    "DeliveryDeferred",
    "acknowledgement_reminders_send",
    "advisory_revision_add",
    "affected_package_add",
    "affected_package_remove",
    "affected_package_update",
    "cvss_rating_clear",
    "cvss_rating_set",
    "deliveries_enqueue",
    "deliveries_sweep",
    "delivery_acknowledge",
    "delivery_send",
    "disclosure_date_set",
    "disclosure_proposal_make",
    "embargo_lift_due",
    "embargo_lifted_mail",
    "fix_reference_add",
    "fix_reference_remove",
    "notice_catch_up",
    "notice_create",
    "notice_send",
    "notice_update",
    "notice_variation_set",
    "proposal_answer",
    "version_range_add",
    "version_range_remove",
    "vulnerability_create",
    "vulnerability_disclose",
    "vulnerability_disclosure_move",
    "vulnerability_fix_set",
    "vulnerability_next_states",
    "vulnerability_reject",
    "vulnerability_transition",
    "vulnerability_update",
]
