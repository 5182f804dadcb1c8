"""The admin: criteria are editable wording; the audit log cannot be touched."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEvent
from distributors.models import Application, Criterion
from distributors.services import organization_apply
from tests.conftest import enable_totp
from tests.factories import StaffFactory, UserFactory


@pytest.fixture
def admin_client(mfa_client, db):
    superuser = StaffFactory(username="root", is_superuser=True)
    enable_totp(superuser)
    return mfa_client(superuser)


def test_the_admin_lists_every_registered_model(admin_client):
    organization_apply(actor=UserFactory(), name="Orca OS", website="https://orca.example")
    names = ["distributors_organization", "distributors_teammember", "distributors_criterion"]
    names += ["distributors_application", "core_auditevent", "core_auditcheckpoint"]
    for name in names:
        response = admin_client.get(reverse(f"admin:{name}_changelist"))
        assert response.status_code == 200, name


def test_staff_edit_a_criterions_wording(admin_client):
    item = Criterion.objects.get(number=2)
    response = admin_client.post(
        reverse("admin:distributors_criterion_change", args=[item.pk]),
        {
            "number": 2,
            "title": "Your users are outside your organisation",
            "guidance": "Tell us who uses it.",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.guidance == "Tell us who uses it."
    assert item.key == "user-base"


def test_the_audit_log_cannot_be_added_changed_or_deleted_in_the_admin(admin_client):
    application = organization_apply(
        actor=UserFactory(), name="Orca OS", website="https://orca.example"
    )
    event = AuditEvent.objects.get(action="application.created")
    count = AuditEvent.objects.count()
    assert admin_client.get(reverse("admin:core_auditevent_add")).status_code == 403
    change_url = reverse("admin:core_auditevent_change", args=[event.pk])
    page = admin_client.get(change_url)
    assert page.status_code == 200
    assert b'type="submit"' not in page.content.split(b'id="content-main"')[1]
    admin_client.post(change_url, {"action": "forged"})
    delete_url = reverse("admin:core_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.action == "application.created"
    assert AuditEvent.objects.count() == count
    # Applications are read-only too: their state moves only through the review pages.
    app_url = reverse("admin:distributors_application_change", args=[application.pk])
    admin_client.post(app_url, {"state": "approved"})
    application.refresh_from_db()
    assert application.state == Application.State.DRAFT


def test_a_staff_member_without_mfa_cannot_open_the_admin(client, staff_without_mfa):
    client.force_login(staff_without_mfa)
    response = client.get(reverse("admin:core_auditevent_changelist"))
    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")
