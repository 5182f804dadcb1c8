"""Team pages and actions for anonymous visitors, the organisation's people, other
organisations and staff; invitation links; the staff list of organisations."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from allauth.mfa.totp.internal.auth import (
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from distributors.models import Invitation, TeamMember
from tests.conftest import enable_totp, sign_in_with_mfa
from tests.factories import (
    InvitationFactory,
    MemberOrganizationFactory,
    TeamMemberFactory,
    UserFactory,
    make_eligible,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    """A member organisation with an admin, a need-to-know person and a plain person."""
    organization = MemberOrganizationFactory(name="Acme Linux", slug="acme")
    admin = TeamMemberFactory(organization=organization, is_admin=True)
    ready = make_eligible(TeamMemberFactory(organization=organization, is_need_to_know=True))
    plain = TeamMemberFactory(organization=organization)
    return {"org": organization, "admin": admin, "ready": ready, "plain": plain}


def _state():
    return (
        AuditEvent.objects.count(),
        list(Invitation.objects.values_list("pk", "revoked_at", "accepted_at").order_by("pk")),
        list(TeamMember.objects.values_list("pk", "is_admin", "is_need_to_know").order_by("pk")),
    )


def _url(name, team, **kwargs):
    return reverse(f"distributors:{name}", kwargs={"slug": team["org"].slug, **kwargs})


def _invite(**kwargs):
    token = secrets.token_urlsafe(32)
    return InvitationFactory(token=token, **kwargs), token


# --- the team page ------------------------------------------------------------------------


def test_an_anonymous_visitor_is_sent_to_sign_in(client, team):
    response = client.get(_url("team", team))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_an_admin_sees_eligibility_reasons_invitations_and_actions(client, team):
    invitation, _token = _invite(organization=team["org"], email="pending@example.org")
    client.force_login(team["admin"].user)

    response = client.get(_url("team", team))

    assert response.status_code == 200
    body = response.content.decode()
    assert team["ready"].user.email in body and team["plain"].user.email in body
    assert "Eligible" in body
    assert "Not marked as need-to-know." in body
    assert "Two-factor authentication is not set up." in body
    assert invitation.email in body
    assert _url("invitation_create", team) in body
    assert _url("team_member_remove", team, pk=team["plain"].pk) in body


def test_a_person_who_is_not_an_admin_reads_the_team_without_actions(client, team):
    _invite(organization=team["org"], email="pending@example.org")
    client.force_login(team["plain"].user)

    response = client.get(_url("team", team))

    assert response.status_code == 200
    body = response.content.decode()
    assert team["admin"].user.email in body
    assert "pending@example.org" not in body
    assert _url("invitation_create", team) not in body
    assert "/remove/" not in body


def test_another_organisation_gets_404(client, team, outsider):
    client.force_login(outsider)
    assert client.get(_url("team", team)).status_code == 404


def test_staff_read_teams_only_under_the_staff_pages(mfa_client, team, staff_reviewer):
    client = mfa_client(staff_reviewer)
    assert client.get(_url("team", team)).status_code == 404

    response = client.get(_url("staff_team", team))

    assert response.status_code == 200
    body = response.content.decode()
    assert team["plain"].user.email in body
    assert "/remove/" not in body


def test_the_team_page_query_count_is_bounded(client, team, django_assert_max_num_queries):
    for _ in range(15):
        make_eligible(TeamMemberFactory(organization=team["org"]))
    for _ in range(5):
        _invite(organization=team["org"])
    client.force_login(team["admin"].user)
    # 11: the page's count and the admins' count (the last-admin rule spans every page)
    # come on top of the 8 of an unpaginated team, and the vouching form's choice of
    # contact reads the whole team once.
    with django_assert_max_num_queries(11):
        response = client.get(_url("team", team))
    assert response.status_code == 200


# --- staff list -----------------------------------------------------------------------------


def test_the_staff_list_of_organisations(client, mfa_client, team, staff_reviewer, outsider):
    url = reverse("distributors:staff_organizations")
    assert reverse("account_login") in client.get(url)["Location"]
    client.force_login(team["admin"].user)
    assert client.get(url).status_code == 404
    client.force_login(outsider)
    assert client.get(url).status_code == 404

    response = mfa_client(staff_reviewer).get(url)

    assert response.status_code == 200
    assert "Acme Linux" in response.content.decode()
    assert _url("staff_team", team) in response.content.decode()


def test_staff_without_mfa_are_sent_to_enrol_first(client, team, staff_without_mfa):
    client.force_login(staff_without_mfa)
    response = client.get(_url("staff_team", team))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")


def test_a_person_who_is_not_staff_gets_404_on_a_staff_team_page(client, team):
    client.force_login(team["admin"].user)
    assert client.get(_url("staff_team", team)).status_code == 404


# --- inviting -------------------------------------------------------------------------------


def test_an_admin_sends_an_invitation(client, team, django_capture_on_commit_callbacks):
    sign_in_with_mfa(client, team["admin"].user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _url("invitation_create", team),
            {"email": "new@example.org", "is_need_to_know": "on"},
        )
    assert response.status_code == 302
    invitation = Invitation.objects.get(email="new@example.org")
    assert invitation.is_need_to_know and not invitation.is_admin
    assert [m.to for m in mail.outbox] == [["new@example.org"]]
    assert "/invitations/" in mail.outbox[0].body


def test_a_bad_address_is_shown_and_nothing_is_stored(client, team):
    sign_in_with_mfa(client, team["admin"].user)
    before = _state()
    response = client.post(_url("invitation_create", team), {"email": "nope"})
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert _state() == before


@pytest.mark.parametrize("who", ["plain", "outsider", "staff", "anonymous"])
def test_only_an_admin_can_invite(client, mfa_client, team, outsider, staff_reviewer, who):
    if who == "plain":
        sign_in_with_mfa(client, team["plain"].user)
    elif who == "outsider":
        sign_in_with_mfa(client, outsider)
    elif who == "staff":
        client = mfa_client(staff_reviewer)
    before = _state()

    response = client.post(_url("invitation_create", team), {"email": "x@example.org"})

    expected = {"plain": 302, "outsider": 404, "staff": 404, "anonymous": 302}[who]
    assert response.status_code == expected
    assert _state() == before


def test_an_admin_revokes_an_invitation(client, team):
    invitation, _token = _invite(organization=team["org"])
    sign_in_with_mfa(client, team["admin"].user)
    response = client.post(_url("invitation_revoke", team, pk=invitation.pk))
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


@pytest.mark.parametrize("who", ["plain", "outsider", "staff", "anonymous"])
def test_only_an_admin_can_revoke(client, mfa_client, team, outsider, staff_reviewer, who):
    invitation, _token = _invite(organization=team["org"])
    if who == "plain":
        sign_in_with_mfa(client, team["plain"].user)
    elif who == "outsider":
        sign_in_with_mfa(client, outsider)
    elif who == "staff":
        client = mfa_client(staff_reviewer)
    before = _state()
    response = client.post(_url("invitation_revoke", team, pk=invitation.pk))
    assert response.status_code in (302, 404)
    assert _state() == before


def test_an_invitation_of_another_organisation_is_404(client, team, outsider):
    other_invitation, _token = _invite()
    sign_in_with_mfa(client, team["admin"].user)
    response = client.post(_url("invitation_revoke", team, pk=other_invitation.pk))
    assert response.status_code == 404


# --- roles and removal ----------------------------------------------------------------------


def test_an_admin_marks_someone_need_to_know_and_admin(client, team):
    plain = team["plain"]
    sign_in_with_mfa(client, team["admin"].user)
    response = client.post(
        _url("team_member_update", team, pk=plain.pk),
        {f"m{plain.pk}-is_need_to_know": "on", f"m{plain.pk}-is_admin": "on"},
    )
    assert response.status_code == 302
    plain.refresh_from_db()
    assert plain.is_need_to_know and plain.is_admin


def test_the_last_admin_cannot_demote_themselves(client, team):
    admin = team["admin"]
    sign_in_with_mfa(client, admin.user)
    before = _state()
    response = client.post(_url("team_member_update", team, pk=admin.pk), {})
    assert response.status_code == 302
    assert _state() == before
    page = client.get(response["Location"]).content.decode()
    assert "last admin" in page


def test_the_last_admin_cannot_be_removed(client, team):
    admin = team["admin"]
    sign_in_with_mfa(client, admin.user)
    before = _state()
    response = client.post(_url("team_member_remove", team, pk=admin.pk))
    assert _state() == before
    assert "last admin" in client.get(response["Location"]).content.decode()


LAST_ADMIN_NOTE = "The last admin cannot be removed; make someone else admin first."


def test_the_page_offers_the_last_admin_no_remove_button_and_no_admin_box_to_untick(client, team):
    admin = team["admin"]
    sign_in_with_mfa(client, admin.user)
    body = client.get(_url("team", team)).content.decode()
    assert _url("team_member_remove", team, pk=admin.pk) not in body
    assert _url("team_member_remove", team, pk=team["plain"].pk) in body
    assert body.count(LAST_ADMIN_NOTE) == 1
    assert f'<input type="checkbox" name="m{admin.pk}-is_admin"' not in body
    assert f'checked disabled aria-describedby="last-admin-{admin.pk}"' in body
    assert f'id="last-admin-{admin.pk}"' in body
    assert f'<input type="checkbox" name="m{team["plain"].pk}-is_admin"' in body


def test_with_two_admins_each_can_be_removed_or_demoted_from_the_page(client, team):
    second = TeamMemberFactory(organization=team["org"], is_admin=True)
    sign_in_with_mfa(client, team["admin"].user)
    body = client.get(_url("team", team)).content.decode()
    assert LAST_ADMIN_NOTE not in body
    for member in (team["admin"], second):
        assert _url("team_member_remove", team, pk=member.pk) in body
        assert f'<input type="checkbox" name="m{member.pk}-is_admin" checked>' in body


def test_the_last_admin_still_saves_their_other_roles_and_stays_admin(client, team):
    admin = team["admin"]
    sign_in_with_mfa(client, admin.user)
    # What the page's form sends for the last admin: the hidden admin field, need-to-know.
    response = client.post(
        _url("team_member_update", team, pk=admin.pk),
        {f"m{admin.pk}-is_admin": "on", f"m{admin.pk}-is_need_to_know": "on"},
    )
    assert response.status_code == 302
    admin.refresh_from_db()
    assert admin.is_admin and admin.is_need_to_know


def test_an_admin_removes_a_person(client, team):
    sign_in_with_mfa(client, team["admin"].user)
    response = client.post(_url("team_member_remove", team, pk=team["plain"].pk))
    assert response.status_code == 302
    assert not TeamMember.objects.filter(pk=team["plain"].pk).exists()


@pytest.mark.parametrize("action", ["team_member_update", "team_member_remove"])
@pytest.mark.parametrize("who", ["plain", "outsider", "staff", "anonymous"])
def test_only_an_admin_changes_people(
    client, mfa_client, team, outsider, staff_reviewer, who, action
):
    target = team["ready"]
    if who == "plain":
        sign_in_with_mfa(client, team["plain"].user)
    elif who == "outsider":
        sign_in_with_mfa(client, outsider)
    elif who == "staff":
        client = mfa_client(staff_reviewer)
    before = _state()
    response = client.post(_url(action, team, pk=target.pk), {})
    assert response.status_code == (404 if who in ("outsider", "staff") else 302)
    assert _state() == before


def test_a_get_on_an_action_is_refused(client, team):
    sign_in_with_mfa(client, team["admin"].user)
    response = client.get(_url("team_member_remove", team, pk=team["plain"].pk))
    assert response.status_code == 405
    assert TeamMember.objects.filter(pk=team["plain"].pk).exists()


# --- a second factor for the admins' actions ------------------------------------------------


def _action(name, team):
    """The URL and form of each admin action, on real objects of the team."""
    invitation, _token = _invite(organization=team["org"])
    plain = team["plain"]
    if name == "invitation_create":
        return _url(name, team), {"email": "x@example.org"}
    if name == "invitation_revoke":
        return _url(name, team, pk=invitation.pk), {}
    if name == "team_member_update":
        data = {f"m{plain.pk}-is_need_to_know": "on", f"m{plain.pk}-is_admin": "on"}
        return _url(name, team, pk=plain.pk), data
    return _url(name, team, pk=plain.pk), {}


ADMIN_ACTIONS = [
    "invitation_create",
    "invitation_revoke",
    "team_member_update",
    "team_member_remove",
]


@pytest.mark.parametrize("name", ADMIN_ACTIONS)
def test_an_admin_without_two_factor_is_sent_to_set_it_up_and_nothing_changes(
    client, team, name, django_capture_on_commit_callbacks
):
    url, data = _action(name, team)
    client.force_login(team["admin"].user)
    before = _state()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    assert _state() == before
    assert mail.outbox == []
    assert (
        "Set up two-factor authentication first" in client.get(_url("team", team)).content.decode()
    )


@pytest.mark.parametrize("name", ADMIN_ACTIONS)
def test_an_admin_signed_in_without_the_second_factor_confirms_it_first(client, team, name):
    url, data = _action(name, team)
    enable_totp(team["admin"].user)
    client.force_login(team["admin"].user)  # a password alone, TOTP set up afterwards
    team_page = "http://testserver" + _url("team", team)
    before = _state()
    response = client.post(url, data, HTTP_REFERER=team_page)
    assert response.status_code == 302
    assert (
        response["Location"] == f"{reverse('mfa_reauthenticate')}?{urlencode({'next': team_page})}"
    )
    assert _state() == before


def test_a_return_address_on_another_site_is_not_followed_after_confirming(client, team):
    url, data = _action("invitation_create", team)
    enable_totp(team["admin"].user)
    client.force_login(team["admin"].user)
    response = client.post(url, data, HTTP_REFERER="https://evil.example.net/team/")
    assert response["Location"] == f"{reverse('mfa_reauthenticate')}?{urlencode({'next': '/'})}"


def test_the_team_page_tells_an_admin_without_two_factor_to_set_it_up(client, team):
    note = "Changing this team needs two-factor authentication"
    client.force_login(team["admin"].user)
    assert note in client.get(_url("team", team)).content.decode()
    sign_in_with_mfa(client, team["admin"].user)
    assert note not in client.get(_url("team", team)).content.decode()
    client.force_login(team["plain"].user)
    assert note not in client.get(_url("team", team)).content.decode()


def test_after_confirming_the_second_factor_the_admin_invites(
    client, team, django_capture_on_commit_callbacks
):
    secret = enable_totp(team["admin"].user)
    client.force_login(team["admin"].user)
    team_page = _url("team", team)
    url = _url("invitation_create", team)
    confirm = client.post(url, {"email": "x@example.org"}, HTTP_REFERER=team_page)["Location"]
    assert client.get(confirm).status_code == 200
    counters = list(yield_hotp_counters_from_time())
    code = format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))
    response = client.post(confirm, {"code": code})
    assert response.status_code == 302
    assert response["Location"] == team_page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"email": "x@example.org"})
    assert response.status_code == 302
    assert Invitation.objects.filter(email="x@example.org").exists()
    assert [m.to for m in mail.outbox] == [["x@example.org"]]


# --- the invitation link ----------------------------------------------------------------------


def _link(token):
    return reverse("distributors:invitation", kwargs={"token": token})


def test_an_anonymous_visitor_sees_sign_in_and_sign_up_links_that_come_back(client):
    invitation, token = _invite(email="invitee@example.org")
    response = client.get(_link(token))
    assert response.status_code == 200
    body = response.content.decode()
    assert invitation.organization.name in body
    assert f"{reverse('account_signup')}?next=/invitations/{token}/" in body
    assert f"{reverse('account_login')}?next=/invitations/{token}/" in body


def test_an_anonymous_post_is_sent_to_sign_in(client):
    _invitation, token = _invite(email="invitee@example.org")
    response = client.post(_link(token))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    assert not TeamMember.objects.filter(user__email="invitee@example.org").exists()


def test_the_invited_person_accepts_and_lands_on_their_checklist(client):
    invitation, token = _invite(email="invitee@example.org")
    user = UserFactory(email="invitee@example.org")
    client.force_login(user)
    response = client.post(_link(token))
    assert response.status_code == 302
    assert response["Location"] == reverse("distributors:me")
    assert TeamMember.objects.filter(user=user, organization=invitation.organization).exists()


@pytest.mark.parametrize("who", ["outsider", "staff"])
def test_a_different_account_gets_a_clear_refusal(
    client, mfa_client, outsider, staff_reviewer, who
):
    _invitation, token = _invite(email="invitee@example.org")
    user = outsider if who == "outsider" else staff_reviewer
    client = mfa_client(user) if who == "staff" else client
    if who == "outsider":
        client.force_login(user)
    assert "this invitation is for invitee@example.org" in client.get(_link(token)).content.decode()
    before = _state()

    response = client.post(_link(token))

    assert response.status_code == 200
    assert "different email address" in response.content.decode()
    assert _state() == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"accepted_at": timezone.now}, "already been used"),
        ({"revoked_at": timezone.now}, "withdrawn"),
        ({"created_at": lambda: timezone.now() - timedelta(days=8)}, "has expired"),
    ],
)
def test_a_used_revoked_or_expired_link_says_so(client, change, message):
    _invitation, token = _invite(email="invitee@example.org", **{k: v() for k, v in change.items()})
    user = UserFactory(email="invitee@example.org")
    for logged_in in (False, True):
        if logged_in:
            client.force_login(user)
        response = client.get(_link(token))
        assert response.status_code == 410
        assert message in response.content.decode()
    before = _state()
    response = client.post(_link(token))
    assert response.status_code == 410
    assert _state() == before


def test_an_unknown_link_says_it_is_not_valid(client):
    response = client.get(_link("made-up-token"))
    assert response.status_code == 410
    assert "not valid" in response.content.decode()


def test_an_admin_who_leaves_goes_home(client, team):
    second = TeamMemberFactory(organization=team["org"], is_admin=True)
    sign_in_with_mfa(client, second.user)
    response = client.post(_url("team_member_remove", team, pk=second.pk))
    assert response["Location"] == reverse("home")
    assert not TeamMember.objects.filter(pk=second.pk).exists()
    assert client.get(_url("team", team)).status_code == 404
