"""The data steps of migration 0007: people of organisations removed before personal bars
existed get account bars, and stored names are normalised."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from distributors.models import BlockedIdentity, Organization
from distributors.services.bars import person_barred
from tests.factories import MemberOrganizationFactory, OrganizationFactory, TeamMemberFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("distributors.migrations.0007_personal_bars")


def test_people_of_an_organisation_removed_earlier_get_account_bars_once():
    gone = OrganizationFactory(status=Organization.Status.REMOVED)
    person = TeamMemberFactory(organization=gone).user
    bystander = TeamMemberFactory(organization=MemberOrganizationFactory()).user

    migration._bar_people_of_removed_organisations(apps, None)
    migration._bar_people_of_removed_organisations(apps, None)

    bars = BlockedIdentity.objects.filter(kind="account")
    assert list(bars.values_list("user_id", flat=True)) == [person.pk]
    assert person_barred(user=person) and not person_barred(user=bystander)


def test_stored_names_are_normalised_unless_that_would_collide():
    messy = MemberOrganizationFactory(name="  Walrus\u200b   Linux ")
    twin = MemberOrganizationFactory(name="Selkie\tBSD")
    MemberOrganizationFactory(name="Selkie BSD")

    migration._normalise_names(apps, None)

    messy.refresh_from_db()
    twin.refresh_from_db()
    assert messy.name == "Walrus Linux"
    assert twin.name == "Selkie\tBSD"  # left for staff to rename
