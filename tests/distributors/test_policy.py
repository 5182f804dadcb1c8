"""The embargo policy: versions, per-person acceptance, lapsing, and safe rendering."""

from __future__ import annotations

import hashlib

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from core.markdown import markdown_render
from core.models import AuditEvent
from distributors import tasks
from distributors.models import Organization, PolicyAcceptance, PolicyVersion
from distributors.selectors import (
    policy_current,
    policy_has_accepted_current,
    users_with_current_acceptance,
)
from distributors.services import policy_accept, policy_publish
from tests.factories import (
    MemberOrganizationFactory,
    PolicyAcceptanceFactory,
    PolicyVersionFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def state() -> tuple:
    return (
        list(PolicyVersion.objects.values_list("number", "text_sha256")),
        list(PolicyAcceptance.objects.values_list("user_id", "version_id")),
        AuditEvent.objects.count(),
    )


# --- The default version -----------------------------------------------------------------


def test_the_default_policy_is_seeded_as_version_1_with_the_hash_of_its_text():
    version = policy_current()
    assert version.number == 1
    assert version.published_by is None
    assert version.text_sha256 == hashlib.sha256(version.text.encode()).hexdigest()


def test_the_default_policy_covers_embargo_need_to_know_and_leaks_in_our_words():
    text = policy_current().text.lower()
    assert "disclosure date" in text
    assert "need to know" in text
    assert "leak" in text
    assert "the security team" in text
    # Our own words, not the reference's project or company.
    assert "pinniped" not in text
    assert "vmware" not in text


# --- Acceptance ----------------------------------------------------------------------------


def test_a_person_accepts_the_current_version_with_time_ip_agent_and_hash():
    user = UserFactory()
    current = policy_current()
    acceptance = policy_accept(
        user=user, version=current, ip_address="203.0.113.7", user_agent="Firefox/140"
    )
    assert acceptance.version == current
    assert acceptance.ip_address == "203.0.113.7"
    assert acceptance.user_agent == "Firefox/140"
    assert acceptance.text_sha256 == current.text_sha256
    assert acceptance.accepted_at is not None
    assert policy_has_accepted_current(user=user)
    event = AuditEvent.objects.get(action="policy.accepted")
    assert event.actor == user
    assert event.data == {"number": current.number, "sha256": current.text_sha256}


def test_accepting_the_same_version_twice_keeps_the_first_acceptance():
    user = UserFactory()
    first = policy_accept(user=user, version=policy_current(), ip_address=None, user_agent="a")
    second = policy_accept(user=user, version=policy_current(), ip_address=None, user_agent="b")
    assert first.pk == second.pk
    assert second.user_agent == "a"
    assert PolicyAcceptance.objects.filter(user=user).count() == 1
    assert AuditEvent.objects.filter(action="policy.accepted").count() == 1


def test_accepting_a_superseded_version_is_refused_and_changes_nothing():
    user = UserFactory()
    old = policy_current()
    PolicyVersionFactory()
    before = state()
    with pytest.raises(ValidationError, match="newer version"):
        policy_accept(user=user, version=old, ip_address=None, user_agent="")
    assert state() == before
    assert not policy_has_accepted_current(user=user)


def test_an_anonymous_visitor_cannot_accept():
    from django.contrib.auth.models import AnonymousUser

    before = state()
    with pytest.raises(PermissionDenied):
        policy_accept(
            user=AnonymousUser(), version=policy_current(), ip_address=None, user_agent=""
        )
    assert state() == before


def test_a_malformed_ip_is_not_stored_and_a_long_user_agent_is_cut():
    user = UserFactory()
    acceptance = policy_accept(
        user=user, version=policy_current(), ip_address="not-an-ip", user_agent="x" * 900
    )
    assert acceptance.ip_address is None
    assert len(acceptance.user_agent) == 500


# --- Publishing ----------------------------------------------------------------------------


def test_staff_publish_the_next_version_with_its_hash_and_an_audit_event(staff_reviewer):
    version = policy_publish(actor=staff_reviewer, text="# Policy\r\n\r\nNew words.")
    assert version.number == 2
    assert version.text == "# Policy\n\nNew words.\n"
    assert version.text_sha256 == hashlib.sha256(version.text.encode()).hexdigest()
    assert version.published_by == staff_reviewer
    assert policy_current() == version
    event = AuditEvent.objects.get(action="policy.published")
    assert event.actor == staff_reviewer
    assert event.data["number"] == 2
    assert event.data["previous"] == 1


def test_only_staff_can_publish_a_policy(org_admin):
    before = state()
    with pytest.raises(PermissionDenied):
        policy_publish(actor=org_admin, text="# Anything goes")
    assert state() == before


@pytest.mark.parametrize("text", ["", "   \n  "])
def test_publishing_an_empty_policy_is_refused(staff_reviewer, text):
    before = state()
    with pytest.raises(ValidationError, match="required"):
        policy_publish(actor=staff_reviewer, text=text)
    assert state() == before


def test_publishing_the_current_text_again_is_refused(staff_reviewer):
    before = state()
    with pytest.raises(ValidationError, match="current version"):
        policy_publish(actor=staff_reviewer, text=policy_current().text.replace("\n", "\r\n"))
    assert state() == before


def test_publishing_an_oversized_policy_is_refused(staff_reviewer):
    before = state()
    with pytest.raises(ValidationError, match="limit"):
        policy_publish(actor=staff_reviewer, text="x" * 50_001)
    assert state() == before


def test_publishing_v2_lapses_every_acceptance_of_v1(staff_reviewer):
    user = UserFactory()
    policy_accept(user=user, version=policy_current(), ip_address=None, user_agent="")
    assert policy_has_accepted_current(user=user)
    assert user in users_with_current_acceptance()
    policy_publish(actor=staff_reviewer, text="# Version two")
    assert not policy_has_accepted_current(user=user)
    assert user not in users_with_current_acceptance()
    # The old acceptance is kept as evidence; it just no longer counts.
    assert PolicyAcceptance.objects.filter(user=user, version__number=1).exists()
    policy_accept(user=user, version=policy_current(), ip_address=None, user_agent="")
    assert policy_has_accepted_current(user=user)


def test_publishing_emails_everyone_whose_acceptance_lapsed_and_member_teams(
    staff_reviewer, django_capture_on_commit_callbacks
):
    accepted_v1 = PolicyAcceptanceFactory(user=UserFactory(email="accepted@example.org")).user
    member_person = TeamMemberFactory(
        organization=MemberOrganizationFactory(), user=UserFactory(email="member@example.org")
    ).user
    TeamMemberFactory(user=UserFactory(email="applicant@example.org"))  # applicant org
    TeamMemberFactory(
        organization=MemberOrganizationFactory(status=Organization.Status.REMOVED),
        user=UserFactory(email="removed@example.org"),
    )
    inactive = PolicyAcceptanceFactory(user=UserFactory(email="gone@example.org")).user
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        policy_publish(actor=staff_reviewer, text="# Version two\n\nA SECRET-LOOKING CLAUSE.")
    recipients = sorted(address for message in mail.outbox for address in message.to)
    assert recipients == sorted([accepted_v1.email, member_person.email])
    for message in mail.outbox:
        assert "/policy/" in message.body
        assert "SECRET-LOOKING CLAUSE" not in message.body
        assert "SECRET-LOOKING CLAUSE" not in message.subject


def test_the_lapse_mail_is_one_task_carrying_only_the_version_id(
    staff_reviewer, monkeypatch, django_capture_on_commit_callbacks
):
    calls = []
    monkeypatch.setattr(
        tasks.policy_lapsed_mail_task, "apply_async", lambda args=(), **k: calls.append(args)
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        version = policy_publish(actor=staff_reviewer, text="# Version two")
    assert calls == []  # nothing is queued before the commit
    for callback in callbacks:
        callback()
    assert calls == [(version.pk,)]


def test_a_lapse_task_for_a_superseded_version_sends_nothing(staff_reviewer):
    PolicyAcceptanceFactory()
    older = PolicyVersionFactory()
    PolicyVersionFactory()
    mail.outbox.clear()
    tasks.policy_lapsed_mail_task.delay(older.pk)
    assert mail.outbox == []


def test_a_person_who_accepted_the_new_version_first_is_not_asked_again(staff_reviewer):
    early = PolicyAcceptanceFactory().user
    version = PolicyVersionFactory()
    PolicyAcceptanceFactory(user=early, version=version)
    mail.outbox.clear()
    tasks.policy_lapsed_mail_task.delay(version.pk)
    assert all(early.email not in message.to for message in mail.outbox)


# --- Rendering -----------------------------------------------------------------------------


def test_markdown_rendering_keeps_headings_lists_emphasis_and_safe_links():
    html = markdown_render("# Title\n\n- *one*\n- **two**\n\n[site](https://example.org)")
    assert "<h1>Title</h1>" in html
    assert "<em>one</em>" in html
    assert "<strong>two</strong>" in html
    assert 'href="https://example.org"' in html


def test_markdown_rendering_strips_script_elements_and_their_content():
    html = markdown_render("Hello\n\n<script>alert('x')</script>\n\nWorld")
    assert "<script" not in html.lower()
    assert "alert" not in html
    assert "World" in html


def test_markdown_rendering_drops_javascript_links():
    html = markdown_render("[click](javascript:alert(1)) and <a href='javascript:evil()'>x</a>")
    assert "javascript:" not in html.lower()
    assert "click" in html


def test_markdown_rendering_strips_raw_html_tags_and_event_handlers():
    html = markdown_render(
        '<div onclick="steal()">text</div>\n\n<img src="x" onerror="steal()">\n\n'
        '<iframe src="https://evil.example"></iframe>\n\n<p style="color:red">styled</p>'
    )
    lowered = html.lower()
    for fragment in ("<div", "onclick", "<img", "onerror", "<iframe", "style=", "evil.example"):
        assert fragment not in lowered
    assert "text" in html


def test_the_policy_text_inside_a_page_starts_at_the_second_heading_level():
    html = markdown_render("# Policy\n\n## Scope\n\n###### Deepest", top_heading=2)
    assert "<h1>" not in html
    assert "<h2>Policy</h2>" in html
    assert "<h3>Scope</h3>" in html
    assert "<h6>Deepest</h6>" in html
