"""Weak and odd keys (issue 15, item 7): a size rule on every part of a key, warnings for
deprecated algorithms and for user IDs with markup, what gpg would silently drop refused
in our own packet reading, and a precise reason for each refusal."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from core.models import AuditEvent
from distributors.eligibility import eligibility_for_member
from distributors.models import PgpKey
from distributors.services.keys import key_prove, keys_stored_recheck
from pgpmail import keys as pgp
from pgpmail import packets as openpgp
from tests.factories import PgpKeyFactory, TeamMemberFactory, make_eligible
from tests.keys import load
from tests.keys.make_keys import Home


def packet(tag: int, body: bytes) -> bytes:
    """A new-format packet (RFC 4880 4.2.2), any length."""
    if len(body) < 192:
        return bytes([0xC0 | tag, len(body)]) + body
    if len(body) < 8384:
        length = len(body) - 192
        return bytes([0xC0 | tag, (length >> 8) + 192, length & 0xFF]) + body
    return bytes([0xC0 | tag, 255]) + len(body).to_bytes(4, "big") + body


def good_packets() -> list[tuple[int, bytes]]:
    # primary key, user ID, its self-signature, encryption subkey, its binding signature
    return list(openpgp.packets(openpgp.dearmor(load("good-cv25519"))[0].data))


def rearmor(packets: list[tuple[int, bytes]]) -> str:
    return openpgp.armor(b"".join(packet(tag, body) for tag, body in packets), "PUBLIC KEY BLOCK")


@pytest.fixture
def no_gpg(monkeypatch):
    """Fails the test if any gpg process would start: the check must come before gpg."""

    def refuse(*args, **kwargs):
        raise AssertionError("gpg was started")

    monkeypatch.setattr(pgp, "_gpg", refuse)


def refused(armored: str) -> str:
    with pytest.raises(pgp.KeyRejected) as caught:
        pgp.key_inspect(armored=armored)
    return caught.value.message


# --- the size rule --------------------------------------------------------------------------


def test_it_refuses_dsa_1024_with_elgamal_1024_before_gpg_runs(no_gpg):
    assert refused(load("weak-dsa1024")) == pgp.WEAK_KEY.format(
        part="primary key", algorithm="DSA", bits=1024
    )


def test_a_weak_subkey_cannot_hide_behind_a_strong_one(no_gpg):
    # RSA-3072 primary and encryption subkey, plus a newer RSA-1024 encryption subkey:
    # the newest is the one gpg would encrypt to.
    assert refused(load("weak-rsa-subkey")) == pgp.WEAK_KEY.format(
        part="subkey", algorithm="RSA", bits=1024
    )


def test_gpgs_own_reading_refuses_a_weak_encryption_subkey_too(monkeypatch):
    # The second opinion: with our packet rule switched off, gpg's listing still refuses.
    monkeypatch.setattr(pgp, "_check_strength", lambda role, part: None)
    assert refused(load("weak-dsa1024")) == pgp.WEAK_KEY.format(
        part="subkey", algorithm="ElGamal", bits=1024
    )


def test_dsa_and_elgamal_2048_are_accepted_with_a_deprecated_warning():
    report = pgp.key_inspect(armored=load("dsa2048"))
    assert report.algorithm == "dsa/elg"
    assert report.warnings == [pgp.WARN_DEPRECATED.format(algorithm="DSA and ElGamal")]
    assert "deprecated" in report.warnings[0]


def test_rsa_2048_is_accepted_with_a_note_that_3072_is_preferred():
    with Home() as home:
        fpr = home.gen("Rsa Two <rsa2048@example.org>", algo="rsa2048")
        home.add_encryption_subkey(fpr, algo="rsa2048")
        armored = home.export(fpr)
    report = pgp.key_inspect(armored=armored)
    assert report.warnings == [pgp.WARN_SMALL_RSA.format(bits=2048)]


@pytest.mark.parametrize("name", ["good-cv25519", "good-rsa3072"])
def test_preferred_algorithms_get_no_warning(name):
    assert pgp.key_inspect(armored=load(name)).warnings == []


def test_a_stored_weak_key_fails_the_recheck(db):
    # A key stored before the size rule: key_status, the re-inspection of a stored key,
    # now refuses it.
    stored = _stored(load("weak-dsa1024"), state=PgpKey.State.ACTIVE)
    with pytest.raises(pgp.KeyRejected) as caught:
        pgp.key_status(armored=stored.armored, fingerprint=stored.fingerprint)
    assert "too weak" in caught.value.message


# --- user IDs -------------------------------------------------------------------------------


def test_a_key_with_no_user_id_is_told_so(no_gpg):
    packets = [(tag, body) for tag, body in good_packets()]
    # Drop the user ID and its self-signature (the signature right after it).
    del packets[1:3]
    assert [tag for tag, _ in packets] == [openpgp.PUBLIC_KEY, openpgp.PUBLIC_SUBKEY, 2]
    assert refused(rearmor(packets)) == pgp.NO_USER_ID


@pytest.mark.parametrize("length", [2049, 5000])
def test_a_user_id_longer_than_gpg_reads_is_refused_not_dropped(no_gpg, length):
    packets = good_packets()
    packets.insert(3, (openpgp.USER_ID, b"x" * length))
    assert refused(rearmor(packets)) == pgp.USER_ID_TOO_LONG.format(length=f"{length:,}")


def test_a_user_id_of_gpgs_own_limit_passes_the_length_check():
    # 2,048 bytes is what gpg still reads (g10/parse-packet.c); this one has no
    # self-signature, so gpg leaves it out, and that is refused as damage instead.
    packets = good_packets()
    packets.insert(3, (openpgp.USER_ID, b"x" * pgp.MAX_USER_ID_BYTES))
    assert refused(rearmor(packets)) == pgp.KEY_DAMAGED.format(detail=pgp.DROPPED_USER_ID)


def test_a_user_id_with_markup_is_accepted_with_a_warning():
    report = pgp.key_inspect(armored=load("markup-uid"))
    uid = "Mallory <script>alert(1)</script> <markup@example.org>"
    assert report.uids == [uid]
    assert report.emails == ["markup@example.org"]
    assert report.warnings == [pgp.WARN_USER_ID_MARKUP.format(uid=uid)]


def test_control_characters_in_a_user_id_are_written_as_escapes():
    warnings = pgp._user_id_warnings(["Bob \u202e<gro.elpmaxe@bob>", "Tab\there <t@example.org>"])
    assert len(warnings) == 2
    assert "\u202e" not in warnings[0] and "Bob \\u202e<gro.elpmaxe@bob>" in warnings[0]
    assert "\t" not in warnings[1] and "Tab\\u0009here" in warnings[1]


@pytest.mark.parametrize(
    "uid", ["Good Person <good@example.org>", "good@example.org", "Ann (work) <a@example.org>"]
)
def test_an_ordinary_user_id_gets_no_markup_warning(uid):
    assert pgp._user_id_warnings([uid]) == []


# --- damaged keys and odd armor -----------------------------------------------------------


def test_a_damaged_subkey_is_reported_as_damage_not_as_a_missing_subkey():
    packets = good_packets()
    subkey = bytearray(packets[3][1])
    subkey[-5] ^= 0x55  # the subkey's public point: its binding signature no longer fits
    packets[3] = (openpgp.PUBLIC_SUBKEY, bytes(subkey))
    message = refused(rearmor(packets))
    assert message == pgp.KEY_DAMAGED.format(detail=pgp.DROPPED_SUBKEY)
    assert message != pgp.NO_ENCRYPTION_KEY


def test_a_user_id_without_a_self_signature_is_reported_as_damage():
    packets = good_packets()
    packets.insert(3, (openpgp.USER_ID, b"Someone Else <else@example.org>"))
    assert refused(rearmor(packets)) == pgp.KEY_DAMAGED.format(detail=pgp.DROPPED_USER_ID)


def test_a_crlf_text_with_a_message_block_before_the_key_names_that_block():
    junk = "-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAA=\n-----END PGP MESSAGE-----\n"
    text = (junk + load("good-cv25519")).replace("\n", "\r\n").strip()
    assert refused(text) == pgp.NOT_A_KEY_BLOCK.format(kind="message")


def test_a_crlf_key_alone_is_read():
    text = load("good-cv25519").replace("\n", "\r\n")
    assert pgp.key_inspect(armored=text.strip()).uids == ["Good Person <good@example.org>"]


def test_a_block_that_never_ends_is_named_not_skipped(no_gpg):
    text = load("good-cv25519") + "\n-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n"
    assert refused(text) == pgp.UNENDED_BLOCK.format(kind="PUBLIC KEY BLOCK")


# --- keys stored before the rules -----------------------------------------------------------


SOON = datetime.now(UTC) + timedelta(days=7)


def _stored(armored: str, **extra) -> PgpKey:
    primary = next(body for tag, body in openpgp.packets(openpgp.dearmor(armored)[0].data))
    digest = hashlib.sha1(
        b"\x99" + len(primary).to_bytes(2, "big") + primary, usedforsecurity=False
    )
    return PgpKeyFactory(armored=armored, fingerprint=digest.hexdigest().upper(), **extra)


def test_the_recheck_lists_a_stored_weak_key_and_changes_nothing_without_apply(db):
    weak = _stored(load("weak-dsa1024"), state=PgpKey.State.ACTIVE)
    _stored(load("good-cv25519"), state=PgpKey.State.ACTIVE)

    found = keys_stored_recheck()

    assert [(key.pk, "too weak" in reason) for key, reason in found] == [(weak.pk, True)]
    weak.refresh_from_db()
    assert weak.state == PgpKey.State.ACTIVE
    assert not AuditEvent.objects.exists()


def test_the_recheck_retires_a_stored_weak_key_so_the_person_is_no_longer_eligible(db):
    member = make_eligible(TeamMemberFactory())
    member.user.pgp_keys.update(state=PgpKey.State.REPLACED)
    weak = _stored(load("weak-dsa1024"), user=member.user, state=PgpKey.State.ACTIVE)
    good = _stored(load("good-cv25519"), state=PgpKey.State.ACTIVE)
    assert eligibility_for_member(team_member_id=member.pk, disclosure_at=SOON).eligible

    keys_stored_recheck(apply=True)
    keys_stored_recheck(apply=True)  # a second run finds nothing more to do

    weak.refresh_from_db()
    good.refresh_from_db()
    assert weak.state == PgpKey.State.REVOKED and weak.revoked_at is not None
    assert good.state == PgpKey.State.ACTIVE
    events = AuditEvent.objects.filter(action="pgp_key.retired")
    assert [event.target_id for event in events] == [str(weak.pk)]
    assert not eligibility_for_member(team_member_id=member.pk, disclosure_at=SOON).eligible


def test_the_recheck_command_lists_then_applies(db):
    weak = _stored(load("weak-dsa1024"), state=PgpKey.State.ACTIVE)
    listing = StringIO()
    call_command("pgp_keys_recheck", stdout=listing)
    assert weak.fingerprint in listing.getvalue()
    assert "1 key would be revoked" in listing.getvalue()
    weak.refresh_from_db()
    assert weak.state == PgpKey.State.ACTIVE

    call_command("pgp_keys_recheck", "--apply", stdout=StringIO())
    weak.refresh_from_db()
    assert weak.state == PgpKey.State.REVOKED


def test_a_weak_key_pending_from_before_the_rule_cannot_be_proven(db):
    code = "abcde-fghjk-mnpqr-stuvw"
    pending = _stored(
        load("weak-dsa1024"),
        state=PgpKey.State.PENDING,
        challenge_sha256=hashlib.sha256(code.replace("-", "").encode()).hexdigest(),
        challenge_created_at=datetime.now(UTC),
    )

    with pytest.raises(ValidationError, match="too weak"):
        key_prove(user=pending.user, key=pending, code=code)

    pending.refresh_from_db()
    assert pending.state == PgpKey.State.PENDING
    assert pending.challenge_attempts == 0
