"""From sign-up to membership, through the real pages: allauth's sign-up, email
confirmation and login with a second factor, then the applicant and review pages."""

from __future__ import annotations

import re
import time

from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from distributors.models import (
    Application,
    Criterion,
    CriterionAnswer,
    Organization,
    PolicyVersion,
    Vouch,
)
from tests.conftest import enable_totp, sign_in_with_mfa
from tests.factories import (
    PASSWORD,
    MemberOrganizationFactory,
    StaffFactory,
    TeamMemberFactory,
)

APPLICANT_EMAIL = "release-lead@harbour.example"
APPLICANT_PASSWORD = "a long and unusual passphrase 7"


def current_totp(secret: str) -> str:
    period = mfa_settings.TOTP_PERIOD
    # A code computed in the last second of its period may be stale when it is checked.
    if period - time.time() % period < 1.5:
        time.sleep(1.5)
    return format_hotp_value(hotp_value(secret, int(time.time()) // period))


def sign_in(client: Client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_a_new_distributor_signs_up_applies_and_is_approved(
    db, mailoutbox, django_capture_on_commit_callbacks
):
    # 1. Sign up through allauth's form; a confirmation mail arrives.
    applicant = Client()
    response = applicant.post(
        reverse("account_signup"),
        {
            "email": APPLICANT_EMAIL,
            "password1": APPLICANT_PASSWORD,
            "password2": APPLICANT_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert [message.to for message in mailoutbox] == [[APPLICANT_EMAIL]]
    link = re.search(r"https?://testserver(/accounts/confirm-email/[^\s]+/)", mailoutbox[0].body)
    assert link, mailoutbox[0].body

    # Mandatory verification: an unconfirmed address cannot sign in yet.
    fresh = Client()
    response = sign_in(fresh, APPLICANT_EMAIL, APPLICANT_PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in fresh.session

    # 2. Follow the link from the mail and confirm.
    confirm_url = link.group(1)
    assert applicant.get(confirm_url).status_code == 200
    assert applicant.post(confirm_url).status_code == 302
    user = get_user_model().objects.get(email=APPLICANT_EMAIL)
    assert user.emailaddress_set.get(email=APPLICANT_EMAIL).verified

    # 3. Sign in with the password, register the organisation.
    applicant = Client()
    response = sign_in(applicant, APPLICANT_EMAIL, APPLICANT_PASSWORD)
    assert response.status_code == 302
    assert applicant.session["_auth_user_id"] == str(user.pk)
    response = applicant.post(
        reverse("distributors:apply"), {"name": "Harbour Linux", "website": "harbour.example"}
    )
    application = Application.objects.get(organization__name="Harbour Linux")
    assert response.url == application.get_absolute_url()
    assert application.organization.website == "https://harbour.example"

    # 4. Answer the seven criteria one at a time: written evidence for 1-5, the policy
    # accepted on its page for 6, a vouch from a member for 7.
    evidence_numbers = list(
        Criterion.objects.filter(is_active=True, kind=Criterion.Kind.EVIDENCE).values_list(
            "number", flat=True
        )
    )
    assert evidence_numbers == [1, 2, 3, 4, 5]
    for number in evidence_numbers:
        response = applicant.post(
            reverse("distributors:criterion_answer", args=[application.pk, number]),
            {
                "evidence": f"Our evidence for criterion {number}.",
                "links": f"https://harbour.example/evidence/{number}",
                "then": "next",
            },
        )
        assert response.status_code == 302, response.content
    assert CriterionAnswer.objects.filter(application=application).count() == 5

    policy_page = reverse("distributors:criterion_answer", args=[application.pk, 6])
    assert b"Read and accept the embargo policy" in applicant.get(policy_page).content
    policy = PolicyVersion.objects.order_by("-number").first()
    response = applicant.post(
        reverse("distributors:policy"), {"version": policy.number, "next": policy_page}
    )
    assert response.url == policy_page
    assert b"Accepted" in applicant.get(policy_page).content

    voucher = TeamMemberFactory(organization=MemberOrganizationFactory()).user
    response = applicant.post(
        reverse("distributors:vouch_request", args=[application.pk]),
        {"voucher_email": voucher.email},
    )
    assert response.status_code == 302
    vouch = Vouch.objects.get(application=application, voucher=voucher)
    voucher_client = sign_in_with_mfa(Client(), voucher)  # answering a vouch needs it
    response = voucher_client.post(
        reverse("distributors:vouch_detail", args=[vouch.pk]),
        {"action": "confirm", "statement": "I have worked with their security team."},
    )
    assert response.status_code == 302
    vouch.refresh_from_db()
    assert vouch.state == Vouch.State.CONFIRMED

    reviewer = StaffFactory(username="lead-reviewer", email="lead@security.example")
    secret = enable_totp(reviewer)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = applicant.post(reverse("distributors:application_submit", args=[application.pk]))
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.state == Application.State.SUBMITTED
    assert reviewer.email in {address for message in mailoutbox for address in message.to}

    # 5. The reviewer signs in with the password and a real TOTP code.
    staff = Client()
    response = sign_in(staff, reviewer.email, PASSWORD)
    assert response.status_code == 302
    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in staff.session
    assert staff.get(reverse("distributors:review_queue")).status_code == 302
    response = staff.post(reverse("mfa_authenticate"), {"code": current_totp(secret)})
    assert response.status_code == 302
    assert staff.session["_auth_user_id"] == str(reviewer.pk)

    response = staff.get(reverse("distributors:review_queue"))
    assert response.status_code == 200
    assert [row["application"].pk for row in response.context["rows"]] == [application.pk]
    assert b"Our evidence for criterion 3." in staff.get(application.get_review_url()).content

    # 6. Every criterion met, then approval.
    for number in range(1, 8):
        response = staff.post(
            reverse("distributors:criterion_review", args=[application.pk, number]),
            {f"c{number}-verdict": "met", f"c{number}-note": ""},
        )
        assert response.status_code == 302, response.content
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(
            reverse("distributors:application_decide", args=[application.pk]),
            {"decision": "approve", "reason": "All seven criteria met."},
        )
    assert response.status_code == 302

    application.refresh_from_db()
    assert application.state == Application.State.APPROVED
    assert application.decided_by == reviewer
    assert application.organization.status == Organization.Status.MEMBER
    assert [message.to for message in mailoutbox] == [[APPLICANT_EMAIL]]

    # 7. The applicant sees the outcome.
    response = applicant.get(application.get_absolute_url())
    assert b"Approved" in response.content
    assert b"All seven criteria met." in response.content
