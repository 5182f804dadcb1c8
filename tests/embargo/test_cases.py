"""Cases: public ids, CVSS and CVE validation, states, the disclosure date."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from core.models import AuditEvent
from embargo.models import CaseSequence, Vulnerability
from embargo.services import (
    vulnerability_create,
    vulnerability_next_states,
    vulnerability_reject,
    vulnerability_transition,
    vulnerability_update,
)
from tests.embargo.helpers import case_ready
from tests.factories import StaffFactory, VulnerabilityFactory

pytestmark = pytest.mark.django_db


def _create(actor, **extra):
    fields = {"title": "Path traversal in the mirror sync", "summary": "Private details."}
    fields.update(extra)
    return vulnerability_create(actor=actor, **fields)


def test_public_ids_count_up_per_year():
    actor = StaffFactory()
    year = timezone.now().year
    CaseSequence.objects.create(year=year - 1, last_number=41)
    first, second = _create(actor), _create(actor)
    assert first.public_id == f"HAUL-{year}-0001"
    assert second.public_id == f"HAUL-{year}-0002"
    assert CaseSequence.objects.get(year=year - 1).last_number == 41


@pytest.mark.parametrize(
    ("vector", "score", "severity", "version"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "9.8", "Critical", "3.1"),
        ("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", "1.8", "Low", "3.1"),
        (
            "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
            "9.3",
            "Critical",
            "4.0",
        ),
    ],
)
def test_the_cvss_vector_is_scored_by_the_cvss_library(vector, score, severity, version):
    case = _create(StaffFactory(), cvss_vector=vector)
    assert case.cvss_score == Decimal(score)
    assert case.cvss_severity == severity
    assert case.cvss_version == version


@pytest.mark.parametrize(
    "vector",
    [
        "CVSS:3.1/AV:N/AC:L",
        "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:2.0/AV:N",
        "AV:N/AC:L/Au:N/C:P/I:P/A:P",
        "CVSS:4.0/AV:N/AC:L",
    ],
)
def test_an_invalid_cvss_vector_is_refused_and_nothing_is_created(vector):
    actor = StaffFactory()
    with pytest.raises(ValidationError) as caught:
        _create(actor, cvss_vector=vector)
    assert "cvss_vector" in caught.value.message_dict
    assert not Vulnerability.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="vulnerability.").exists()


@pytest.mark.parametrize("cve", ["CVE-26-1", "cve 2026 12345", "CVE-2026-123", "2026-12345"])
def test_a_malformed_cve_id_is_refused(cve):
    with pytest.raises(ValidationError) as caught:
        _create(StaffFactory(), cve_id=cve)
    assert "cve_id" in caught.value.message_dict
    assert not Vulnerability.objects.exists()


def test_a_cve_id_is_normalised_to_upper_case():
    assert _create(StaffFactory(), cve_id=" cve-2026-0042 ").cve_id == "CVE-2026-0042"


def test_a_case_moves_reported_triaged_fixing_and_not_backwards():
    actor = StaffFactory()
    case = _create(actor)
    case = vulnerability_transition(vulnerability=case, actor=actor, state="triaged")
    with pytest.raises(ValidationError):
        vulnerability_transition(vulnerability=case, actor=actor, state="reported")
    case = vulnerability_transition(vulnerability=case, actor=actor, state="fixing")
    assert case.state == Vulnerability.State.FIXING
    assert list(
        AuditEvent.objects.filter(action="vulnerability.state_changed").values_list(
            "data", flat=True
        )
    ) == [{"from": "reported", "to": "triaged"}, {"from": "triaged", "to": "fixing"}]


@pytest.mark.parametrize("state", Vulnerability.State.values)
def test_the_next_states_are_exactly_the_moves_the_transition_accepts(state):
    expected = {"reported": ["triaged"], "triaged": ["fixing"]}.get(state, [])
    assert vulnerability_next_states(state) == expected
    for target in Vulnerability.State.values:
        case = VulnerabilityFactory(state=state)
        if target in expected:
            actor = case.created_by
            moved = vulnerability_transition(vulnerability=case, actor=actor, state=target)
            assert moved.state == target
        else:
            with pytest.raises(ValidationError):
                vulnerability_transition(vulnerability=case, actor=case.created_by, state=target)
            case.refresh_from_db()
            assert case.state == state


def test_skipping_triage_is_refused():
    actor = StaffFactory()
    case = _create(actor)
    with pytest.raises(ValidationError):
        vulnerability_transition(vulnerability=case, actor=actor, state="fixing")
    case.refresh_from_db()
    assert case.state == Vulnerability.State.REPORTED


def test_rejecting_needs_a_reason_and_is_audited():
    actor = StaffFactory()
    case = _create(actor)
    with pytest.raises(ValidationError):
        vulnerability_reject(vulnerability=case, actor=actor, reason="   ")
    case.refresh_from_db()
    assert case.state == Vulnerability.State.REPORTED
    vulnerability_reject(vulnerability=case, actor=actor, reason="Works as documented.")
    case.refresh_from_db()
    assert case.state == Vulnerability.State.REJECTED
    assert case.rejection_reason == "Works as documented."
    assert AuditEvent.objects.filter(action="vulnerability.rejected").count() == 1


def test_an_update_audits_field_names_but_not_their_text():
    actor = StaffFactory()
    case = _create(actor)
    vulnerability_update(vulnerability=case, actor=actor, title="Secret new title", cve_id="")
    event = AuditEvent.objects.get(action="vulnerability.updated")
    assert event.data == {"fields": ["title"]}
    assert "Secret new title" not in str(event.data) + event.target_repr


def test_a_disclosed_case_keeps_its_title_fixed_but_takes_corrections():
    actor = StaffFactory()
    case = case_ready(actor=actor)
    Vulnerability.objects.filter(pk=case.pk).update(state=Vulnerability.State.DISCLOSED)
    case.refresh_from_db()
    with pytest.raises(ValidationError):
        vulnerability_update(vulnerability=case, actor=actor, title="Changed")
    vulnerability_update(vulnerability=case, actor=actor, mitigation="Upgrade to 2.4.1.")
    case.refresh_from_db()
    assert case.title == "Heap overflow in the tarball unpacker"
    assert case.mitigation == "Upgrade to 2.4.1."


def test_a_naive_disclosure_time_is_refused():
    with pytest.raises(ValidationError):
        _create(StaffFactory(), disclosure_at=timezone.now().replace(tzinfo=None))
    assert not Vulnerability.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_cases_opened_at_the_same_moment_get_distinct_numbers():
    actor = StaffFactory()
    ids: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_case():
        try:
            barrier.wait()
            ids.append(_create(actor).public_id)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=open_case) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    year = timezone.now().year
    assert sorted(ids) == [f"HAUL-{year}-{n:04d}" for n in range(1, 7)]


def test_case_str_never_shows_the_title():
    case = case_ready()
    assert str(case) == case.public_id
    assert case.title not in str(case)
    assert timedelta(days=9) < case.disclosure_at - timezone.now()
