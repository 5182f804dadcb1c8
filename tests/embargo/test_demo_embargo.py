"""The embargo half of `manage.py demo` (team key, recipients who can decrypt, a case with
a draft notice) and `manage.py demo_decrypt`, which reads a sent copy back."""

from __future__ import annotations

import stat
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from core.models import AuditEvent
from distributors.demo import FOUNDER, MEMBER_ADMIN
from distributors.eligibility import eligibility_for_audience
from distributors.models import PgpKey
from embargo.delivery.mail import connection_drop
from embargo.demo import (
    DEMO_ADVISORY_TITLE,
    DEMO_CASE_TITLE,
    DEMO_NOTICE_BODY,
    DEMO_NOTICE_SUBJECT,
)
from embargo.models import AdvisoryRevision, Delivery, Notice, Vulnerability
from embargo.services import notice_send
from leaks.selectors import notice_trace_capacity
from pgpmail import crypto
from pgpmail import keys as pgp
from pgpmail.gpg import Gpg, throwaway_home
from tests.embargo.demo_world import (  # noqa: F401 (fixtures)
    TEAM_FILES,
    demo_files_fixture,
    demo_team_key_cached_fixture,
)

pytestmark = pytest.mark.django_db
RECIPIENTS = (FOUNDER.email, MEMBER_ADMIN.email)


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def secret_key_fingerprints(path) -> list[str]:
    with throwaway_home() as home:
        gpg = Gpg(home=home, timeout=30)
        gpg.import_keys(path.read_text())
        return [key["fingerprint"] for key in gpg.list_keys(secret=True)]


def test_demo_makes_the_team_key_and_publishes_only_its_public_half(demo_files, settings):
    for name in TEAM_FILES:
        (demo_files / name).unlink()

    output = run("demo")

    assert stat.S_IMODE((demo_files / "team-key.asc").stat().st_mode) == 0o600
    assert stat.S_IMODE((demo_files / "team-key.passphrase").stat().st_mode) == 0o600
    published = crypto.team_public_key_armored()
    assert published == (demo_files / "team-key.pub.asc").read_text()
    assert "PRIVATE KEY" not in published
    fingerprint = pgp.key_inspect(armored=published).fingerprint
    assert fingerprint in output
    assert secret_key_fingerprints(demo_files / "team-key.asc") == [fingerprint]


def test_demo_keeps_an_existing_team_key(demo_files):
    before = (demo_files / "team-key.asc").read_bytes()

    run("demo")

    assert (demo_files / "team-key.asc").read_bytes() == before


def test_demo_recipients_can_receive_a_notice_about_the_demo_case(demo_files):
    run("demo")

    case = Vulnerability.objects.get(title=DEMO_CASE_TITLE)
    eligible = {
        item.member.user.email: item
        for item in eligibility_for_audience(disclosure_at=case.disclosure_at)
        if item.eligible
    }
    assert set(RECIPIENTS) <= set(eligible)
    assert {eligible[e].member.organization.name for e in RECIPIENTS} == {
        "Walrus Linux",
        "Selkie BSD",
    }
    for address in RECIPIENTS:
        secret_file = demo_files / "demo-keys" / f"{address}.asc"
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        # The secret half on disk belongs to the pinned, verified key.
        assert secret_key_fingerprints(secret_file) == [eligible[address].key.fingerprint]
    assert stat.S_IMODE((demo_files / "demo-keys").stat().st_mode) == 0o700


def test_demo_keys_are_verified_through_upload_and_possession_proof(demo_files):
    run("demo")

    for address in RECIPIENTS:
        key = PgpKey.objects.get(user__email=address, state=PgpKey.State.ACTIVE)
        actions = set(
            AuditEvent.objects.filter(target_id=key.pk, action__startswith="pgp_key.").values_list(
                "action", flat=True
            )
        )
        assert {"pgp_key.uploaded", "pgp_key.verified"} <= actions
        assert key.verified_at is not None
        assert key.expires_at is not None and key.expires_at > timezone.now() + timedelta(days=300)


def test_demo_case_is_being_fixed_with_a_draft_notice_ten_days_before_disclosure(demo_files):
    output = run("demo")

    case = Vulnerability.objects.get(title=DEMO_CASE_TITLE)
    assert case.public_id.startswith("HAUL-") and case.public_id in output
    assert case.state == Vulnerability.State.FIXING
    ahead = case.disclosure_at - timezone.now()
    assert timedelta(days=9) < ahead < timedelta(days=11)
    notice = case.notices.get()
    assert notice.state == Notice.State.DRAFT
    assert notice.subject == DEMO_NOTICE_SUBJECT and notice.body == DEMO_NOTICE_BODY.strip()
    assert "canary" not in notice.body.lower()
    assert DEMO_CASE_TITLE.lower() not in notice.outer_subject.lower()


@pytest.mark.parametrize("audience", [2, 20])
def test_any_two_sections_of_a_leaked_demo_notice_name_its_recipient(demo_files, audience):
    """The demo shows tracing at its best: its notice needs no warning on its tracing
    capacity page, for the demo's two recipients or a list of twenty."""
    run("demo")
    notice = Vulnerability.objects.get(title=DEMO_CASE_TITLE).notices.get()
    found = notice_trace_capacity(notice=notice, audience=audience)
    assert found.warnings == ()
    assert found.density.paragraphs is not None and found.density.paragraphs <= 2
    assert found.body_distinguishes_audience


def test_the_demo_has_a_published_advisory_with_its_package_and_released_fix(demo_files):
    output = run("demo")

    advisory = Vulnerability.objects.get(title=DEMO_ADVISORY_TITLE)
    assert advisory.state == Vulnerability.State.DISCLOSED and advisory.disclosed_at
    assert advisory.fix_summary.startswith("Released in 2.6.3 on ")
    package = advisory.packages.get()
    assert (package.ecosystem, package.name, package.purl) == (
        "PyPI",
        "example-pkg",
        "pkg:pypi/example-pkg",
    )
    assert [(r.introduced, r.fixed) for r in package.ranges.all()] == [("2.0.0", "2.6.3")]
    assert advisory.get_advisory_url() in output and "/advisories/feed.atom" in output
    assert list(advisory.advisory_revisions.values_list("number", flat=True)) == [1]


def test_running_demo_twice_makes_no_second_case_key_or_notice(demo_files):
    run("demo")
    keys = sorted(PgpKey.objects.values_list("fingerprint", "state"))
    files = {p.name: p.read_bytes() for p in (demo_files / "demo-keys").iterdir()}

    run("demo")

    # The case to work on and the published advisory, once each.
    assert Vulnerability.objects.count() == 2 and Notice.objects.count() == 1
    assert AdvisoryRevision.objects.count() == 1
    assert sorted(PgpKey.objects.values_list("fingerprint", "state")) == keys
    assert {p.name: p.read_bytes() for p in (demo_files / "demo-keys").iterdir()} == files


def test_a_lost_demo_secret_key_is_replaced_by_a_new_verified_key(demo_files):
    run("demo")
    lost = demo_files / "demo-keys" / f"{FOUNDER.email}.asc"
    old = PgpKey.objects.get(user__email=FOUNDER.email, state=PgpKey.State.ACTIVE)
    lost.unlink()

    run("demo")

    new = PgpKey.objects.get(user__email=FOUNDER.email, state=PgpKey.State.ACTIVE)
    assert new.fingerprint != old.fingerprint
    assert secret_key_fingerprints(lost) == [new.fingerprint]


def send_demo_notice(settings, capture):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    notice = Notice.objects.get(vulnerability__title=DEMO_CASE_TITLE)
    with capture(execute=True):
        notice_send(notice=notice, actor=notice.author)
    return notice


@pytest.fixture
def fresh_mail_connection():
    # The send path keeps one mail connection per thread; a file backend connection
    # from an earlier test would write into that test's folder.
    connection_drop()
    yield
    connection_drop()


def test_a_sent_demo_notice_decrypts_with_each_recipients_demo_key(
    demo_files, settings, django_capture_on_commit_callbacks, fresh_mail_connection
):
    run("demo")
    notice = send_demo_notice(settings, django_capture_on_commit_callbacks)
    assert set(
        Delivery.objects.filter(notice=notice, state=Delivery.State.SENT).values_list(
            "email", flat=True
        )
    ) == set(RECIPIENTS)
    written = b"".join(p.read_bytes() for p in (demo_files / "mail").glob("*.log"))
    assert b"-----BEGIN PGP MESSAGE-----" in written
    assert DEMO_NOTICE_SUBJECT.encode() not in written and b"pkg verify" not in written

    for address in RECIPIENTS:
        output = run("demo_decrypt", "--to", address)

        fingerprint = pgp.key_inspect(armored=crypto.team_public_key_armored()).fingerprint
        assert f"Good signature from the security team's key {fingerprint}" in output
        assert f"Subject: {DEMO_NOTICE_SUBJECT}" in output
        assert f"To: {address}" in output
        assert "signed manifest" in output  # from the body
        reference = Delivery.objects.get(notice=notice, email=address).reference_code
        assert reference in output


def test_demo_decrypt_refuses_a_production_configuration(settings):
    settings.SECURE = True
    with pytest.raises(CommandError, match="DJANGO_SECURE=0"):
        run("demo_decrypt", "--to", FOUNDER.email)


def test_demo_decrypt_says_so_when_no_copy_was_sent(demo_files):
    run("demo")
    with pytest.raises(CommandError, match="No encrypted message"):
        run("demo_decrypt", "--to", FOUNDER.email)


def test_demo_decrypt_refuses_an_address_without_a_demo_key(
    demo_files, settings, django_capture_on_commit_callbacks, fresh_mail_connection
):
    run("demo")
    send_demo_notice(settings, django_capture_on_commit_callbacks)
    (demo_files / "demo-keys" / f"{MEMBER_ADMIN.email}.asc").unlink()
    with pytest.raises(CommandError, match="No demo secret key"):
        run("demo_decrypt", "--to", MEMBER_ADMIN.email)


def test_demo_decrypt_refuses_a_copy_not_signed_by_the_team(
    demo_files, settings, django_capture_on_commit_callbacks, fresh_mail_connection
):
    run("demo")
    send_demo_notice(settings, django_capture_on_commit_callbacks)
    # Another team key is now the published one: the signature no longer counts.
    other = demo_files / "other"
    crypto.team_key_generate(
        name="Someone else",
        email="else@example.org",
        path=other / "k.asc",
        passphrase_path=other / "k.pass",
    )
    settings.HAULOUT_TEAM_PUBLIC_KEY_FILE = other / "k.pub.asc"
    with pytest.raises(CommandError, match="not signed by the security team"):
        run("demo_decrypt", "--to", FOUNDER.email)
