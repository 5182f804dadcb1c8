"""Building an embargo world quickly for tests (devsupport.world, with the tests' own
staff and policy factories)."""

from __future__ import annotations

from devsupport import world
from devsupport.keyring import PersonKey
from devsupport.world import CANARY, notice_draft
from distributors.models import Organization, TeamMember
from tests.factories import StaffFactory, policy_current_or_new

__all__ = ["CANARY", "bulk_people", "case_ready", "notice_draft"]


def case_ready(*, actor=None, **extra):
    return world.case_ready(actor=actor or StaffFactory(), **extra)


def bulk_people(
    keys: list[PersonKey], *, organizations: list[Organization] | None = None
) -> list[TeamMember]:
    return world.bulk_people(keys, organizations=organizations, policy=policy_current_or_new())
