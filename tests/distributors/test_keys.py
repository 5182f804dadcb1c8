"""PGP key services: upload, proof of possession, replacement, revocation, expiry warnings.

These run the real gpg: the person's key pair lives in a throwaway home that decrypts the
challenge the way the person would on their own computer."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from core.models import AuditEvent
from distributors.eligibility import Reason, eligibility_for_member
from distributors.models import PgpKey
from distributors.services import keys as key_services
from distributors.services.keys import (
    CHALLENGE_MAX_ATTEMPTS,
    key_challenge_renew,
    key_prove,
    key_revoke,
    key_upload,
)
from distributors.services.reminders import key_expiry_warnings_send
from pgpmail.keys import KeyRejected
from tests.factories import (
    MemberOrganizationFactory,
    PgpKeyFactory,
    TeamMemberFactory,
    UserFactory,
    make_eligible,
)
from tests.keys import load
from tests.keys.person import PersonKey

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def alice_key():
    key = PersonKey("alice@example.org")
    yield key
    key.close()


@pytest.fixture(scope="module")
def alice_second_key():
    key = PersonKey("alice@example.org")
    yield key
    key.close()


@pytest.fixture(scope="module")
def expired_key():
    return load("expired")  # B's fixture: made by gpg "in" 2020, expired since 2021


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", email="alice@example.org")


def _state():
    return (
        AuditEvent.objects.count(),
        list(
            PgpKey.objects.values_list(
                "pk", "state", "challenge_sha256", "challenge_attempts"
            ).order_by("pk")
        ),
    )


def _proven(user, person_key) -> PgpKey:
    upload = key_upload(user=user, armored=person_key.public)
    return key_prove(user=user, key=upload.key, code=person_key.code_from(upload.challenge_armored))


# --- upload ----------------------------------------------------------------------------------


def test_an_uploaded_key_is_pending_pinned_and_challenged(alice, alice_key):
    upload = key_upload(user=alice, armored=alice_key.public)

    key = PgpKey.objects.get(pk=upload.key.pk)
    assert key.state == PgpKey.State.PENDING
    assert key.fingerprint == alice_key.fingerprint.upper()
    assert len(key.fingerprint) == 40
    assert "BEGIN PGP PUBLIC KEY BLOCK" in key.armored
    assert key.expires_at is not None
    assert upload.warnings == []
    code = alice_key.code_from(upload.challenge_armored)
    # Only the hash of the code is kept; the code itself appears nowhere in the database.
    assert key.challenge_sha256 == hashlib.sha256(code.replace("-", "").encode()).hexdigest()
    assert code not in str(list(PgpKey.objects.values())) + str(list(AuditEvent.objects.values()))
    assert AuditEvent.objects.filter(action="pgp_key.uploaded", target_id=str(key.pk)).exists()


@pytest.mark.parametrize("kind", ["garbage", "secret", "expired", "empty"])
def test_a_refused_key_stores_nothing(alice, alice_key, expired_key, kind):
    armored = {
        "garbage": "hello, this is not a key",
        "secret": alice_key.secret,
        "expired": expired_key,
        "empty": "   ",
    }[kind]
    before = _state()

    with pytest.raises(ValidationError) as error:
        key_upload(user=alice, armored=armored)

    assert error.value.messages[0]
    if kind != "empty":
        assert isinstance(error.value, KeyRejected)
    assert _state() == before


def test_a_key_for_another_address_is_accepted_with_a_warning(alice_key):
    bob = UserFactory(email="bob@example.org")
    upload = key_upload(user=bob, armored=alice_key.public)
    assert upload.key.state == PgpKey.State.PENDING
    assert len(upload.warnings) == 1
    assert "bob@example.org" in upload.warnings[0]


def test_uploading_again_supersedes_the_unproven_key(alice, alice_key, alice_second_key):
    first = key_upload(user=alice, armored=alice_key.public).key
    second = key_upload(user=alice, armored=alice_second_key.public).key

    first.refresh_from_db()
    assert first.state == PgpKey.State.REPLACED
    assert first.challenge_sha256 == ""
    assert second.state == PgpKey.State.PENDING


def test_the_verified_key_cannot_be_uploaded_again(alice, alice_key):
    _proven(alice, alice_key)
    before = _state()
    with pytest.raises(ValidationError, match="already your verified key"):
        key_upload(user=alice, armored=alice_key.public)
    assert _state() == before


def test_a_revoked_key_cannot_come_back(alice, alice_key):
    key_revoke(user=alice, key=_proven(alice, alice_key))
    before = _state()
    with pytest.raises(ValidationError, match="revoked this key"):
        key_upload(user=alice, armored=alice_key.public)
    assert _state() == before


def test_uploading_the_pending_key_again_keeps_one_row_and_adds_no_events(alice, alice_key):
    first = key_upload(user=alice, armored=alice_key.public)
    events = AuditEvent.objects.count()

    again = [key_upload(user=alice, armored=alice_key.public) for _ in range(3)]

    assert PgpKey.objects.filter(user=alice).count() == 1
    assert {upload.key.pk for upload in again} == {first.key.pk}
    assert AuditEvent.objects.count() == events
    # Only the newest code works: each upload made a fresh challenge.
    with pytest.raises(ValidationError, match="does not match"):
        key_prove(user=alice, key=first.key, code=alice_key.code_from(first.challenge_armored))
    latest = again[-1]
    key = key_prove(user=alice, key=latest.key, code=alice_key.code_from(latest.challenge_armored))
    assert key.state == PgpKey.State.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_two_uploads_of_one_key_at_once_make_one_row():
    # With no key row yet there is no key row to lock: the person's own row makes the
    # second upload wait for the first and then find its row.
    import threading

    from django.db import connection, transaction

    from pgpmail.keys import KeyReport

    person = UserFactory(email="racer@example.org")
    report = KeyReport(
        fingerprint="A" * 40,
        uids=["Racer <racer@example.org>"],
        emails=["racer@example.org"],
        algorithm="ed25519/cv25519",
        created_at=timezone.now(),
        expires_at=None,
        armored="-----BEGIN PGP PUBLIC KEY BLOCK-----",
    )
    second_done = threading.Event()

    def second_upload():
        try:
            with transaction.atomic():
                key_services._store_upload(
                    user=person, report=report, digest="b" * 64, now=timezone.now()
                )
        finally:
            second_done.set()
            connection.close()

    with transaction.atomic():
        key_services._store_upload(user=person, report=report, digest="a" * 64, now=timezone.now())
        racer = threading.Thread(target=second_upload)
        racer.start()
        # The second upload must wait for this transaction rather than add its own row.
        assert not second_done.wait(1.0)
    racer.join(10)

    assert second_done.is_set()
    keys = list(PgpKey.objects.filter(user=person))
    assert len(keys) == 1
    assert keys[0].state == PgpKey.State.PENDING
    assert keys[0].challenge_sha256 == "b" * 64
    assert AuditEvent.objects.filter(action="pgp_key.uploaded").count() == 1


def test_uploads_beyond_the_hourly_limit_are_refused_and_store_nothing(alice, alice_key, settings):
    settings.HAULOUT_KEY_UPLOADS_PER_HOUR = 2
    # Refused uploads count too: the limit is on the gpg work, whatever its outcome.
    with pytest.raises(ValidationError):
        key_upload(user=alice, armored="not a key")
    key_upload(user=alice, armored=alice_key.public)
    before = _state()

    with pytest.raises(ValidationError, match="at most 2 uploads an hour") as error:
        key_upload(user=alice, armored=alice_key.public)

    assert not isinstance(error.value, KeyRejected)
    assert _state() == before
    # The count is the person's own: someone else still uploads.
    bob = UserFactory(email="bob@example.org")
    assert key_upload(user=bob, armored=alice_key.public).key.user == bob


# --- proof ---------------------------------------------------------------------------------


def test_the_right_code_activates_the_key(alice, alice_key):
    key = _proven(alice, alice_key)

    key.refresh_from_db()
    assert key.state == PgpKey.State.ACTIVE
    assert key.verified_at is not None
    assert key.challenge_sha256 == ""
    assert AuditEvent.objects.filter(action="pgp_key.verified").count() == 1


def test_the_code_is_accepted_with_spaces_and_capitals(alice, alice_key):
    upload = key_upload(user=alice, armored=alice_key.public)
    code = alice_key.code_from(upload.challenge_armored)
    key = key_prove(user=alice, key=upload.key, code=f"  {code.upper().replace('-', ' ')}\n")
    assert key.state == PgpKey.State.ACTIVE


def test_the_code_is_compared_in_constant_time(alice, alice_key, monkeypatch):
    calls = []
    real = key_services.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(key_services.hmac, "compare_digest", spy)
    upload = key_upload(user=alice, armored=alice_key.public)
    with pytest.raises(ValidationError):
        key_prove(user=alice, key=upload.key, code="wrong")
    assert len(calls) == 1


def test_a_wrong_code_is_counted_and_the_key_stays_pending(alice, alice_key):
    upload = key_upload(user=alice, armored=alice_key.public)

    with pytest.raises(ValidationError, match="4 attempts left"):
        key_prove(user=alice, key=upload.key, code="aaaaa-bbbbb-ccccc-ddddd")

    key = PgpKey.objects.get(pk=upload.key.pk)
    assert key.state == PgpKey.State.PENDING
    assert key.challenge_attempts == 1
    assert AuditEvent.objects.filter(action="pgp_key.proof_failed").count() == 1


def test_after_too_many_wrong_codes_even_the_right_one_needs_a_new_challenge(alice, alice_key):
    upload = key_upload(user=alice, armored=alice_key.public)
    code = alice_key.code_from(upload.challenge_armored)
    for _ in range(CHALLENGE_MAX_ATTEMPTS):
        with pytest.raises(ValidationError):
            key_prove(user=alice, key=upload.key, code="wrong")
    before = _state()

    with pytest.raises(ValidationError, match="Too many wrong codes"):
        key_prove(user=alice, key=upload.key, code=code)

    assert _state() == before
    fresh = key_challenge_renew(user=alice, key=upload.key)
    key = key_prove(user=alice, key=upload.key, code=alice_key.code_from(fresh))
    assert key.state == PgpKey.State.ACTIVE


def test_a_renewed_challenge_makes_the_old_code_useless(alice, alice_key):
    upload = key_upload(user=alice, armored=alice_key.public)
    old_code = alice_key.code_from(upload.challenge_armored)
    key_challenge_renew(user=alice, key=upload.key)
    with pytest.raises(ValidationError, match="does not match"):
        key_prove(user=alice, key=upload.key, code=old_code)


def test_an_expired_challenge_is_refused(alice, alice_key):
    upload = key_upload(user=alice, armored=alice_key.public)
    code = alice_key.code_from(upload.challenge_armored)
    PgpKey.objects.filter(pk=upload.key.pk).update(
        challenge_created_at=timezone.now() - timedelta(hours=25)
    )
    before = _state()
    with pytest.raises(ValidationError, match="expired"):
        key_prove(user=alice, key=upload.key, code=code)
    assert _state() == before


def test_nobody_else_can_prove_renew_or_revoke_a_key(alice, alice_key):
    upload = key_upload(user=alice, armored=alice_key.public)
    code = alice_key.code_from(upload.challenge_armored)
    mallory = UserFactory()
    before = _state()
    with pytest.raises(PermissionDenied):
        key_prove(user=mallory, key=upload.key, code=code)
    with pytest.raises(PermissionDenied):
        key_challenge_renew(user=mallory, key=upload.key)
    with pytest.raises(PermissionDenied):
        key_revoke(user=mallory, key=upload.key)
    assert _state() == before


# --- replacement and revocation -----------------------------------------------------------------


def test_a_new_key_replaces_the_old_one_only_once_proven(alice, alice_key, alice_second_key):
    member = TeamMemberFactory(user=alice, organization=MemberOrganizationFactory())
    PgpKey.objects.filter(user=alice).delete()
    old = _proven(alice, alice_key)
    make_eligible(member)
    upload = key_upload(user=alice, armored=alice_second_key.public)

    # Until the new key is proven, notices still go to the old one.
    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now())
    assert row.eligible and row.key.pk == old.pk

    new = key_prove(
        user=alice, key=upload.key, code=alice_second_key.code_from(upload.challenge_armored)
    )

    old.refresh_from_db()
    assert old.state == PgpKey.State.REPLACED
    assert new.state == PgpKey.State.ACTIVE
    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now())
    assert row.key.fingerprint == alice_second_key.fingerprint.upper()
    event = AuditEvent.objects.get(action="pgp_key.replaced")
    assert event.data["replaced_by"] == new.fingerprint


def test_revoking_the_key_makes_the_person_ineligible(alice, alice_key):
    member = TeamMemberFactory(user=alice, organization=MemberOrganizationFactory())
    key = _proven(alice, alice_key)
    make_eligible(member)
    assert eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now()).eligible

    key_revoke(user=alice, key=key)

    key.refresh_from_db()
    assert key.state == PgpKey.State.REVOKED and key.revoked_at is not None
    row = eligibility_for_member(team_member_id=member.pk, disclosure_at=timezone.now())
    assert Reason.KEY_REVOKED in row.reasons
    assert AuditEvent.objects.filter(action="pgp_key.revoked").count() == 1


def test_a_replaced_key_cannot_be_revoked(alice):
    key = PgpKeyFactory(user=alice, state=PgpKey.State.REPLACED)
    before = _state()
    with pytest.raises(ValidationError):
        key_revoke(user=alice, key=key)
    assert _state() == before


# --- expiry warnings ------------------------------------------------------------------------


def test_key_expiry_is_warned_at_30_and_7_days_once_each(django_capture_on_commit_callbacks):
    now = timezone.now()
    key = PgpKeyFactory(expires_at=now + timedelta(days=29))
    PgpKeyFactory(expires_at=now + timedelta(days=60))  # too far
    PgpKeyFactory(expires_at=now + timedelta(days=5), state=PgpKey.State.REPLACED)

    def warn(at):
        with django_capture_on_commit_callbacks(execute=True):
            return key_expiry_warnings_send(now=at)

    assert warn(now) == 1
    assert warn(now + timedelta(days=1)) == 0
    key.refresh_from_db()
    assert key.expiry_warned_days == 30

    assert warn(now + timedelta(days=23)) == 1
    assert warn(now + timedelta(days=24)) == 0
    key.refresh_from_db()
    assert key.expiry_warned_days == 7

    assert [m.to for m in mail.outbox] == [[key.user.email], [key.user.email]]
    assert "30 days" in mail.outbox[0].subject and "7 days" in mail.outbox[1].subject
    assert key.fingerprint not in mail.outbox[0].body + mail.outbox[0].subject
    assert "BEGIN PGP" not in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="pgp_key.expiry_warned").count() == 2


def test_a_key_found_late_gets_only_the_closest_warning(django_capture_on_commit_callbacks):
    now = timezone.now()
    key = PgpKeyFactory(expires_at=now + timedelta(days=3))
    with django_capture_on_commit_callbacks(execute=True):
        assert key_expiry_warnings_send(now=now) == 1
        assert key_expiry_warnings_send(now=now) == 0
    key.refresh_from_db()
    assert key.expiry_warned_days == 7
    assert len(mail.outbox) == 1


def test_the_warning_is_queued_after_the_commit_not_mailed_inside_the_claim(
    django_capture_on_commit_callbacks,
):
    now = timezone.now()
    key = PgpKeyFactory(expires_at=now + timedelta(days=20))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert key_expiry_warnings_send(now=now) == 1
    # Claimed and audited, but nothing mailed while the claim's transaction was open.
    assert mail.outbox == []
    assert PgpKey.objects.get(pk=key.pk).expiry_warned_days == 30
    assert len(callbacks) == 1
    callbacks[0]()
    assert [m.to for m in mail.outbox] == [[key.user.email]]


def test_a_failed_mail_is_retried_by_its_task_and_the_warning_is_not_repeated(
    monkeypatch, django_capture_on_commit_callbacks
):
    now = timezone.now()
    key = PgpKeyFactory(expires_at=now + timedelta(days=20))
    from distributors.services import reminders

    real_mail, failures = reminders.plain_mail, []

    def flaky(**kwargs):
        if not failures:
            failures.append(1)
            raise OSError("smtp down")
        return real_mail(**kwargs)

    monkeypatch.setattr(reminders, "plain_mail", flaky)
    with django_capture_on_commit_callbacks(execute=True):
        assert key_expiry_warnings_send(now=now) == 1
    assert failures == [1]
    assert [m.to for m in mail.outbox] == [[key.user.email]]
    key.refresh_from_db()
    assert key.expiry_warned_days == 30
    assert AuditEvent.objects.filter(action="pgp_key.expiry_warned").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert key_expiry_warnings_send(now=now) == 0
    assert len(mail.outbox) == 1


def test_a_key_replaced_before_its_warning_goes_out_gets_no_mail(
    django_capture_on_commit_callbacks,
):
    now = timezone.now()
    key = PgpKeyFactory(expires_at=now + timedelta(days=20))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert key_expiry_warnings_send(now=now) == 1
    PgpKey.objects.filter(pk=key.pk).update(state=PgpKey.State.REPLACED)
    for callback in callbacks:
        callback()
    assert mail.outbox == []
