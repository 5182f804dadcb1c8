"""The feedback reads: statuses_publishable (for the exports) and the matrix selector's
query count at two sizes."""

from __future__ import annotations

import pytest

from embargo.models import Vulnerability
from feedback.selectors import feedback_matrix, member_feedback_get, statuses_publishable
from tests.factories import OrganizationStatusFactory, PatchTestFactory
from tests.feedback.conftest import eligible_person, told

pytestmark = pytest.mark.django_db


def test_publishable_statuses_are_none_before_disclosure(world):
    OrganizationStatusFactory(
        vulnerability=world.case,
        organization=world.owner.organization,
        status="fixed",
        fixed_version="2.4.1",
        publish_after_disclosure=True,
    )
    assert list(statuses_publishable(vulnerability=world.case)) == []


def test_publishable_statuses_after_disclosure_are_those_consented_only(world):
    consented = OrganizationStatusFactory(
        vulnerability=world.case,
        organization=world.owner.organization,
        status="fixed",
        fixed_version="2.4.1",
        publish_after_disclosure=True,
    )
    OrganizationStatusFactory(
        vulnerability=world.case, organization=world.other.organization, status="affected"
    )
    Vulnerability.objects.filter(pk=world.case.pk).update(state="disclosed")
    # The caller's copy of the case may be stale: the database decides.
    assert list(statuses_publishable(vulnerability=world.case)) == [consented]


def test_a_rejected_case_publishes_nothing(world):
    OrganizationStatusFactory(
        vulnerability=world.case,
        organization=world.owner.organization,
        publish_after_disclosure=True,
    )
    Vulnerability.objects.filter(pk=world.case.pk).update(state="rejected")
    assert not statuses_publishable(vulnerability=world.case).exists()


@pytest.mark.parametrize("organisations", [2, 6])
def test_the_matrix_reads_in_eight_queries(organisations, django_assert_max_num_queries):
    case = told(eligible_person("First Distro"))
    for n in range(organisations - 1):
        person = eligible_person(f"Distro {n}")
        told(person, case=case)
        OrganizationStatusFactory(vulnerability=case, organization=person.organization)
        PatchTestFactory(vulnerability=case, organization=person.organization)
    with django_assert_max_num_queries(8):
        matrix = feedback_matrix(vulnerability=case)
        assert [row.patch_tests for row in matrix.rows].count(1) == organisations - 1
        assert matrix.counts["none"] == 1
        assert matrix.counts["under_investigation"] == organisations - 1


def test_a_member_reads_only_their_organisations_rows(world):
    PatchTestFactory(vulnerability=world.case, organization=world.other.organization)
    item = member_feedback_get(user=world.owner.user, vulnerability_id=world.case.pk)
    assert item.organization == world.owner.organization
    assert item.patch_tests == [] and item.status is None
    assert item.organizations == [world.owner.organization]
    assert (
        member_feedback_get(
            user=world.owner.user,
            vulnerability_id=world.case.pk,
            organization_id=world.other.organization.pk,
        )
        is None
    )
