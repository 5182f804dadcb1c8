"""A safety net over every URL of the project, so a new page cannot forget its guard.

It walks the URL configuration (allauth's own pages and the Django admin excepted: they
have their own tests and allauth's rate limits), fills each pattern's arguments with real
objects that belong to one organisation (Acme) where it knows the route, or with dummy
values where it does not, and asserts:

- under /staff/: anonymous people are sent to sign in, an admin of the very organisation
  the objects belong to gets a 404 (the page does not admit to existing), a staff member
  without a second factor is sent to set one up, and the view is wrapped by
  core.views.staff_required;
- everywhere else except the public pages listed below: anonymous people never get a
  page, and a person of another organisation gets a 404 for an object of Acme's;
- no request by an outsider changes anything (the audit log is unchanged);
- every answer to a signed-in person is sent with Cache-Control: no-store;
- no pattern carries anything but ids, slugs and codes (embargoed text never goes in a URL).

Every request test runs twice: with the site at the root, and served under a path prefix
(SCRIPT_NAME=/haulout, as behind a proxy that mounts it there), where request.path and
request.path_info differ and a guard that reads the wrong one lets people through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from core.models import AuditEvent
from distributors.models import Application, BlockedIdentity, TeamMember
from distributors.selectors import policy_versions
from distributors.services import organization_remove
from embargo.services import notice_send
from embargo.tasks import delivery_send_task
from intake.models import ReportAttachment, attachment_storage
from leaks.models import LeakReport, Sanction
from leaks.services import leak_report_confirm, leak_report_file
from tests.conftest import enable_totp
from tests.embargo.helpers import case_ready, notice_draft
from tests.factories import (
    ApplicationFactory,
    DeliveryFactory,
    InvitationFactory,
    MemberOrganizationFactory,
    NoticeFactory,
    QuestionFactory,
    ReportFactory,
    StaffFactory,
    TeamMemberFactory,
    VouchFactory,
    VulnerabilityFactory,
    make_eligible,
)
from tests.prefix import SCRIPT_NAME, PrefixedClient, served_under

pytestmark = pytest.mark.django_db

# Pages anyone may open, and why.
PUBLIC = {
    # The dashboard: a welcome for anonymous people, their own applications otherwise.
    "home",
    # Advisories exist publicly only after disclosure (the selector returns disclosed cases).
    "embargo:advisory_list",
    "embargo:advisory_detail",
    # The same advisories for machines (advisories.selectors reads only disclosed cases;
    # tests/advisories/test_views.py: an undisclosed id is the same 404 as a missing one).
    "advisories:feed",
    "advisories:osv_index",
    "advisories:osv_all",
    "advisories:osv",
    "advisories:csaf",
    # The security team's public key, for reporters to encrypt to.
    "embargo:team_key",
    # The emailed invitation link: whoever holds the secret token may read what it is for;
    # accepting it needs a signed-in account with the invited, verified address.
    "distributors:invitation",
    # The report form needs no account, by design; a report's page opens for whoever
    # holds its link's token (tests/intake/test_views_report_form.py: a wrong token is
    # 404, the page is no-store).
    "intake:report_new",
    "intake:report_track",
    # For load balancers: "ok" or "failing", nothing else (tests/ops/test_health.py).
    "ops:healthz",
}
# Pages that answer 503 when something they check is unhealthy, as the staff health page
# is in this test world (no beat heartbeat, no team key): 503 is their answer, not a fault.
HEALTH_PAGES = {"ops:staff_health"}

# Every argument a URL may carry. Free text (a subject, a title, a pasted leak) never goes
# in a URL: addresses end up in logs, browser history and Referer headers.
ALLOWED_KWARGS = {
    "pk",
    "number",
    "question_pk",
    "vouch_pk",
    "slug",
    "token",
    "reference_code",
    "public_id",
    # A report's random reference and one of its files.
    "reference",
    "attachment_pk",
    # Member feedback: the organisation a staff feedback page is about.
    "organization_pk",
}
DUMMY = {
    "int": 1,
    "slug": "x",
    "reference_code": "ABCDEFGHIJ",
    "public_id": "HAUL-2026-0001",
    "token": "not-a-real-token",
}
PARAMETER = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>")


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, e.g. "embargo:case_detail"
    route: str  # e.g. "staff/cases/<int:pk>/"
    callback: object

    @property
    def is_staff(self) -> bool:
        return self.route.startswith("staff/")

    @property
    def kwargs(self) -> list[tuple[str, str]]:
        return [
            (match["converter"] or "str", match["name"]) for match in PARAMETER.finditer(self.route)
        ]

    def __str__(self) -> str:
        return self.name


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            module = getattr(entry.urlconf_module, "__name__", "")
            if entry.namespace == "admin" or module.startswith("allauth"):
                continue
            space = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), space)
        elif isinstance(entry, URLPattern):
            yield Route(
                name=f"{namespace}{entry.name}",
                route=prefix + str(entry.pattern),
                callback=entry.callback,
            )


ROUTES = sorted(_walk(get_resolver().url_patterns), key=lambda r: r.route)
STAFF_ROUTES = [r for r in ROUTES if r.is_staff]
OTHER_ROUTES = [r for r in ROUTES if not r.is_staff and r.name not in PUBLIC]
OBJECT_ROUTES = [r for r in OTHER_ROUTES if r.kwargs]


# ---------------------------------------------------------------- the world


@pytest.fixture(params=["", SCRIPT_NAME], ids=["at-the-root", "under-a-prefix"])
def client(request):
    """Replaces pytest-django's client (mfa_client uses it too): at the root, or under a
    path prefix, where the URLs the tests build with reverse() carry the prefix as well."""
    if not request.param:
        yield Client()
        return
    with served_under(request.param):
        yield PrefixedClient(request.param)


def _no_store(response) -> bool:
    directives = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    return {"no-store", "private"} <= directives


@pytest.fixture
def world(monkeypatch):
    """Acme (a member) owns every object; Other is another member organisation."""
    monkeypatch.setattr(delivery_send_task, "apply_async", lambda *a, **k: None)
    acme = MemberOrganizationFactory(name="Acme Safety", slug="acme-safety")
    owner_membership = make_eligible(TeamMemberFactory(organization=acme, is_admin=True))
    owner = owner_membership.user
    other_org = MemberOrganizationFactory(name="Other Safety", slug="other-safety")
    outsider = make_eligible(TeamMemberFactory(organization=other_org, is_admin=True)).user
    staff = StaffFactory()
    enable_totp(staff)

    application = ApplicationFactory(
        organization=acme, created_by=owner, state=Application.State.NEEDS_INFO
    )
    question = QuestionFactory(application=application, asked_by=staff)
    vouch = VouchFactory(application=application, requested_by=owner)
    # A vouch is the voucher's to answer: one addressed to Acme's admin.
    vouch_to_owner = VouchFactory(voucher=owner, voucher_organization=acme)
    invitation = InvitationFactory(organization=acme, invited_by=owner, token="safety-token")
    teammate = TeamMemberFactory(organization=acme)

    case = case_ready(actor=staff)
    notice = notice_draft(case=case, actor=staff)
    notice_send(notice=notice, actor=staff)
    delivery = notice.deliveries.get(user=owner)
    report = leak_report_file(
        actor=staff,
        organization=acme,
        vulnerability=case,
        notice=notice,
        source=LeakReport.Source.FOUND,
        what_leaked="The patch.",
        leaked_to="A forum.",
        how="Unknown.",
    )
    leak_report_confirm(report=report, actor=staff, reason="Traced.")
    sanction = Sanction.objects.get(leak_report=report)
    # A personal bar of a removed organisation's person, for the staff bar pages.
    gone = MemberOrganizationFactory(name="Removed Safety", slug="removed-safety")
    TeamMemberFactory(organization=gone)
    organization_remove(organization=gone, actor=staff, reason="Removed for the safety net.")
    bar = BlockedIdentity.objects.get(kind=BlockedIdentity.Kind.ACCOUNT, organization=gone)
    private_report = ReportFactory()
    attachment = ReportAttachment.objects.create(
        report=private_report,
        name="poc.txt",
        file=attachment_storage.save(f"{private_report.pk}/poc", ContentFile(b"poc")),
        size=3,
        sha256="0" * 64,
    )

    # Member feedback: a case Acme was sent a copy about (the copies above stay queued).
    feedback_case = VulnerabilityFactory(state="notified")
    feedback_notice = NoticeFactory(vulnerability=feedback_case, state="sent")
    DeliveryFactory(notice=feedback_notice, member=owner_membership)

    # The most specific route prefix names the object a `pk` stands for.
    pks = {
        "applications/": application.pk,
        "staff/applications/": application.pk,
        "vouches/": vouch_to_owner.pk,
        "me/keys/": owner.pgp_keys.get(state="active").pk,
        "organizations/<slug:slug>/team/": teammate.pk,
        "organizations/<slug:slug>/team/invitations/": invitation.pk,
        "staff/cases/": case.pk,
        "staff/notices/": notice.pk,
        "leaks/": report.pk,
        "staff/leaks/": report.pk,
        "leaks/sanctions/": sanction.pk,
        "staff/sanctions/": sanction.pk,
        "staff/bars/": bar.pk,
        "staff/reports/": private_report.pk,
        "notices/feedback/": feedback_case.pk,
        "staff/cases/<int:pk>/feedback/": feedback_case.pk,
    }
    values = {
        "slug": acme.slug,
        "question_pk": question.pk,
        "vouch_pk": vouch.pk,
        "token": "safety-token",
        "reference_code": delivery.reference_code,
        "public_id": case.public_id,
        "reference": private_report.reference,
        "attachment_pk": attachment.pk,
        "organization_pk": acme.pk,
    }

    def kwargs_for(route: Route) -> dict:
        result = {}
        for converter, name in route.kwargs:
            if name == "pk":
                prefix = max((p for p in pks if route.route.startswith(p)), key=len, default=None)
                result[name] = pks[prefix] if prefix else DUMMY["int"]
            elif name == "number":
                policy = route.route.startswith("staff/policy/")
                result[name] = policy_versions().first().number if policy else 1
            elif name in values:
                result[name] = values[name]
            else:
                result[name] = DUMMY.get(name, DUMMY.get(converter, "x"))
        return result

    def url(route: Route) -> str:
        return reverse(route.name, kwargs=kwargs_for(route))

    assert TeamMember.objects.filter(pk=teammate.pk, organization=acme).exists()
    return _World(owner=owner, outsider=outsider, staff=staff, url=url)


@dataclass
class _World:
    owner: object
    outsider: object
    staff: object
    url: object


def _audit_count() -> int:
    return AuditEvent.objects.count()


# ---------------------------------------------------------------- the shape of the URLs


def test_the_walk_finds_the_pages_of_both_apps():
    names = {route.name for route in ROUTES}
    assert {"distributors:review_detail", "embargo:case_detail", "leaks:leak_detail"} <= names
    assert len(STAFF_ROUTES) > 20
    # allauth's and the admin's own views are left out; ours under accounts/ (the
    # redirect of allauth's bare key list) are walked like every other page.
    assert not any(
        route.callback.__module__.startswith(("allauth", "django.contrib.admin"))
        for route in ROUTES
    )
    assert "security_keys_list" in names


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_urls_carry_only_ids_slugs_and_codes(route):
    names = {name for _, name in route.kwargs}
    assert names <= ALLOWED_KWARGS, f"{route.route} takes {names - ALLOWED_KWARGS}"


@pytest.mark.parametrize("route", STAFF_ROUTES, ids=str)
def test_every_staff_view_is_wrapped_by_staff_required(route):
    assert getattr(route.callback, "haulout_staff_required", False), (
        f"{route.route} ({route.callback.__module__}.{route.callback.__name__}) "
        "is not decorated with core.views.staff_required"
    )


# A member admin's actions and the pages with leak reports: a password alone is not enough.
MFA_ROUTES = {
    "distributors:invitation_create",
    "distributors:invitation_revoke",
    "distributors:team_member_update",
    "distributors:team_member_remove",
    "distributors:vouch_detail",
    "leaks:leak_list",
    "leaks:leak_create",
    "leaks:leak_detail",
    "leaks:retrospective",
}


@pytest.mark.parametrize("route", [r for r in ROUTES if r.name in MFA_ROUTES], ids=str)
def test_every_member_action_and_leak_page_is_wrapped_by_mfa_required(route):
    assert getattr(route.callback, "haulout_mfa_required", False), (
        f"{route.route} is not decorated with core.views.mfa_required"
    )


def test_the_mfa_routes_exist():
    assert {route.name for route in ROUTES} >= MFA_ROUTES


def test_the_staff_marker_is_set_by_staff_required_only():
    from core.views import staff_required

    def plain_view(request):
        raise AssertionError("never called")

    assert not getattr(plain_view, "haulout_staff_required", False)
    assert staff_required(plain_view).haulout_staff_required is True


# ---------------------------------------------------------------- staff pages


@pytest.mark.parametrize("route", STAFF_ROUTES, ids=str)
def test_staff_pages_send_anonymous_people_to_sign_in(route, world, client):
    url = world.url(route)
    before = _audit_count()
    for response in (client.get(url), client.post(url, {})):
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"].startswith(reverse("account_login"))
    assert _audit_count() == before


@pytest.mark.parametrize("route", STAFF_ROUTES, ids=str)
def test_staff_pages_do_not_exist_for_the_admin_of_the_organisation_concerned(
    route, world, mfa_client
):
    url = world.url(route)
    client = mfa_client(world.owner)
    before = _audit_count()
    assert client.get(url).status_code in (404, 405), url
    assert client.post(url, {}).status_code == 404, url
    assert _audit_count() == before


@pytest.mark.parametrize("route", STAFF_ROUTES, ids=str)
def test_staff_pages_send_staff_without_a_second_factor_to_set_one_up(
    route, world, client, staff_without_mfa
):
    url = world.url(route)
    client.force_login(staff_without_mfa)
    before = _audit_count()
    for response in (client.get(url), client.post(url, {})):
        assert response.status_code == 302, (url, response.status_code)
        assert response["Location"] == reverse("mfa_activate_totp")
    assert _audit_count() == before


@pytest.mark.parametrize("route", STAFF_ROUTES, ids=str)
def test_staff_pages_open_for_staff_on_real_objects_and_never_fail(route, world, mfa_client):
    """The objects above are the right ones (so the 404s before are the guard's, not a
    missing row's), and a dummy id is a plain 404, never a 500."""
    url = world.url(route)
    response = mfa_client(world.staff).get(url)
    answers = (200, 302, 405, 503) if route.name in HEALTH_PAGES else (200, 302, 405)
    assert response.status_code in answers, (url, response.status_code)
    assert _no_store(response), url
    dummy = {name: DUMMY.get(name, DUMMY.get(conv, "x")) for conv, name in route.kwargs}
    if dummy:
        dummy = {k: (987654 if v == 1 else v) for k, v in dummy.items()}
        response = mfa_client(world.staff).get(reverse(route.name, kwargs=dummy))
        assert response.status_code in (404, 405), (route.name, response.status_code)
        assert _no_store(response), route.name


# ---------------------------------------------------------------- everything else


@pytest.mark.parametrize("route", OTHER_ROUTES, ids=str)
def test_anonymous_people_never_get_a_private_page(route, world, client):
    url = world.url(route)
    before = _audit_count()
    for response in (client.get(url), client.post(url, {})):
        assert response.status_code != 200, url
        assert response.status_code in (302, 404, 405), (url, response.status_code)
        if response.status_code == 302:
            assert response["Location"].startswith(reverse("account_login"))
    assert _audit_count() == before


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_another_organisation_gets_404_for_acmes_objects(route, world, mfa_client):
    url = world.url(route)
    client = mfa_client(world.outsider)
    before = _audit_count()
    response = client.get(url)
    assert response.status_code in (404, 405), url
    assert _no_store(response), url
    assert client.post(url, {}).status_code == 404, url
    assert _audit_count() == before


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_the_owner_opens_acmes_objects(route, world, mfa_client):
    """The same URLs work for their owner: the outsider's 404 above is the scoping."""
    response = mfa_client(world.owner).get(world.url(route))
    assert response.status_code in (200, 302, 405), (route.name, response.status_code)
    assert _no_store(response), route.name
    if response.status_code == 302:
        assert not response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("route", [r for r in ROUTES if not r.kwargs], ids=str)
def test_every_page_without_arguments_is_sent_with_no_store_to_a_signed_in_person(
    route, world, mfa_client
):
    """Together with the object pages above and the staff pages: every signed-in page."""
    for user in (world.owner, world.staff):
        response = mfa_client(user).get(world.url(route))
        answers = (200, 302, 404, 405, 503) if route.name in HEALTH_PAGES else (200, 302, 404, 405)
        assert response.status_code in answers, (route.name, response.status_code)
        assert _no_store(response), (route.name, user)


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=str)
def test_staff_without_a_second_factor_never_open_an_organisations_objects(
    route, world, client, staff_without_mfa
):
    """Staff read every organisation's objects, so wherever they do it a second factor is
    required, not only under /staff/."""
    client.force_login(staff_without_mfa)
    url = world.url(route)
    before = _audit_count()
    for response in (client.get(url), client.post(url, {})):
        assert response.status_code in (302, 404, 405), (url, response.status_code)
        if response.status_code == 302 and response["Location"] != reverse("mfa_activate_totp"):
            # Sent on to the staff page (an application goes to its review page).
            target = client.get(response["Location"])
            assert target.status_code in (302, 404), (url, response["Location"])
            if target.status_code == 302:
                assert target["Location"] == reverse("mfa_activate_totp"), url
    assert _audit_count() == before
