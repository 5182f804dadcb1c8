"""The data step of migration 0008: a case scored before ratings existed keeps its score
as the rating of its version."""

from __future__ import annotations

import importlib
from decimal import Decimal

import pytest
from django.apps import apps

from embargo.models import CvssRating
from tests.factories import VulnerabilityFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("embargo.migrations.0008_cvss_rating")

VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"


def test_a_scored_case_gets_the_rating_of_its_version_and_an_unscored_one_none():
    scored = VulnerabilityFactory(
        cvss_vector=VECTOR, cvss_version="3.1", cvss_score=Decimal("9.8"), cvss_severity="Critical"
    )
    VulnerabilityFactory(cvss_vector="", cvss_score=None)

    migration.ratings_from_cases(apps, None)

    rating = CvssRating.objects.get()
    assert (rating.vulnerability_id, rating.version, rating.vector) == (scored.pk, "3.1", VECTOR)
    assert (rating.score, rating.severity) == (Decimal("9.8"), "Critical")
    assert rating.set_by_id == scored.created_by_id and rating.set_at == scored.updated_at
