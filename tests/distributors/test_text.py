"""Organisation names (issue 15, item 9): normalised before they are stored and compared,
refused with control or invisible characters, and delivered verbatim in plain-text mail."""

from __future__ import annotations

import secrets

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from core.mail import plain_render
from core.models import AuditEvent
from distributors.forms.application import OrganizationApplyForm
from distributors.models import Organization
from distributors.services import organization_apply, organization_remove
from distributors.services.founding import organization_found
from distributors.services.sanctions import REMOVED_REFUSAL
from distributors.services.team import invitation_send
from distributors.text import name_fold, name_normalise, name_skeleton
from tests.conftest import enable_totp
from tests.factories import (
    InvitationFactory,
    MemberOrganizationFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SITE = "https://newcomer.test"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Rogue   OS  ", "Rogue OS"),
        ("\uff32\uff4f\uff47\uff55\uff45 \uff2f\uff33", "Rogue OS"),  # full-width forms
        ("Rogue\u00a0OS", "Rogue OS"),  # no-break space
        ("Rogue\u3000OS", "Rogue OS"),  # ideographic space
        ("O'Neil & Sons <x>", "O'Neil & Sons <x>"),
    ],
)
def test_it_normalises_a_name_to_nfkc_with_single_spaces(typed, stored):
    assert name_normalise(typed) == stored


@pytest.mark.parametrize(
    "typed",
    [
        "Rogue\nOS",
        "Rogue\r\nSubject: forged",
        "Rogue\tOS",
        "Rogue\u200bOS",  # zero-width space
        "Rogue\u202eSO",  # right-to-left override
        "Rogue\u2028OS",  # line separator
        "Rogue\x00OS",
    ],
)
def test_it_refuses_control_format_and_line_break_characters(typed):
    with pytest.raises(ValidationError) as error:
        name_normalise(typed)
    assert "invisible character" in error.value.message_dict["name"][0]


@pytest.mark.parametrize("look_alike", ["Rogue  OS", "rogue-os", "RogueOS", "ROGUE.OS"])
def test_look_alike_names_share_the_skeleton_of_the_original(look_alike):
    assert name_skeleton(look_alike) == name_skeleton("Rogue OS") == "rogueos"


def test_folding_drops_invisible_characters_of_a_name_stored_before_normalisation():
    assert name_fold("Rogue\u200b OS") == name_fold("ROGUE os")


@pytest.mark.parametrize(
    "look_alike",
    ["Rogue  OS", "Rogue-OS", "RogueOS", "rogue os", "\uff32\uff4f\uff47\uff55\uff45 OS"],
)
def test_a_look_alike_of_a_removed_name_cannot_apply(look_alike):
    rogue = MemberOrganizationFactory(name="Rogue OS")
    organization_remove(organization=rogue, actor=StaffFactory(), reason="Repeated leaks.")
    applicant = UserFactory(email="someone.new@example.org")
    before = Organization.objects.count()

    with pytest.raises(ValidationError) as error:
        organization_apply(actor=applicant, name=look_alike, website=SITE)

    assert REMOVED_REFUSAL in error.value.messages
    assert Organization.objects.count() == before


def test_a_name_with_a_zero_width_space_is_refused_and_nothing_is_stored():
    applicant = UserFactory()
    events = AuditEvent.objects.count()

    with pytest.raises(ValidationError) as error:
        organization_apply(actor=applicant, name="Rogue\u200bOS", website=SITE)

    assert "name" in error.value.message_dict
    assert not Organization.objects.exists()
    assert AuditEvent.objects.count() == events


def test_an_application_stores_the_normalised_name():
    application = organization_apply(
        actor=UserFactory(), name="  Harbour \u00a0 Linux ", website=SITE
    )
    assert application.organization.name == "Harbour Linux"


def test_a_name_differing_only_in_spacing_from_an_existing_one_is_taken():
    MemberOrganizationFactory(name="Harbour Linux")
    with pytest.raises(ValidationError) as error:
        organization_apply(actor=UserFactory(), name="harbour   LINUX", website=SITE)
    assert error.value.message_dict == {"name": ["An organisation with this name already exists."]}


def test_a_founding_member_name_is_normalised_and_refused_with_a_line_break():
    admin = UserFactory(email="sec@walrus.test")
    with pytest.raises(ValidationError) as error:
        organization_found(
            actor=None, name="Walrus\nLinux", website="https://walrus.test", admin_email=admin.email
        )
    assert "name" in error.value.message_dict
    organization = organization_found(
        actor=None, name=" Walrus   Linux ", website="https://walrus.test", admin_email=admin.email
    )
    assert organization.name == "Walrus Linux"


def test_the_apply_form_shows_the_refusal_beside_the_name():
    form = OrganizationApplyForm(data={"name": "Rogue\u202eSO", "website": SITE})
    assert not form.is_valid()
    assert "invisible character" in form.errors["name"][0]


def test_the_apply_page_refuses_an_invisible_character_without_an_error_page(client):
    client.force_login(UserFactory())
    response = client.post(reverse("distributors:apply"), {"name": "A\u200bB", "website": SITE})
    assert response.status_code in (200, 400)
    assert "invisible character" in response.content.decode()
    assert not Organization.objects.exists()


# --- plain-text mail ------------------------------------------------------------------------


def test_an_organisation_name_arrives_verbatim_in_a_plain_text_mail():
    organization = MemberOrganizationFactory(name="O'Neil & Sons <x>")
    invitation = InvitationFactory(
        organization=organization, email="new@example.org", token=secrets.token_urlsafe(32)
    )

    assert invitation_send(invitation_id=invitation.pk) == 1

    body = mail.outbox[0].body
    assert "an admin of O'Neil & Sons <x>, invited you" in body
    assert mail.outbox[0].subject == (
        f"O'Neil & Sons <x> invites you to its team on {settings.SITE_NAME}"
    )
    assert "&amp;" not in body and "&#x27;" not in body and "&lt;" not in body


def test_plain_render_never_escapes():
    text = plain_render(
        "distributors/email/invitation.txt",
        {"organization": {"name": '"Quoted" & <b>'}, "url": "https://x.test/?a=1&b=2"},
    )
    assert '"Quoted" & <b>' in text and "https://x.test/?a=1&b=2" in text


def test_the_admin_refuses_a_name_with_a_line_break(mfa_client):
    superuser = StaffFactory(username="root", is_superuser=True)
    enable_totp(superuser)
    admin_client = mfa_client(superuser)
    organization = MemberOrganizationFactory(name="Orca OS", website="https://orca.example")
    change_url = reverse("admin:distributors_organization_change", args=[organization.pk])
    data = {
        "name": "Orca OS\r\nBcc: everyone",
        "slug": organization.slug,
        "website": "https://orca.example",
        "people-TOTAL_FORMS": "0",
        "people-INITIAL_FORMS": "0",
        "people-MIN_NUM_FORMS": "0",
        "people-MAX_NUM_FORMS": "1000",
    }
    response = admin_client.post(change_url, data)
    assert response.status_code == 200
    assert "invisible character" in response.content.decode()
    organization.refresh_from_db()
    assert organization.name == "Orca OS"
