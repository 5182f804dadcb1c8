"""pgpmail.keys: every bad key is refused with its own message, quickly, storing
nothing; good keys come back as the report we store."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta

import pytest

from distributors.models import PgpKey
from pgpmail import keys as pgp
from pgpmail import packets as openpgp
from tests.keys import (
    EXPIRING_SOON_NOW,
    GOOD_EMAIL,
    gpg_decrypt,
    gpg_list_packets,
    load,
    recipients_listed,
    subkey_ids,
)
from tests.keys.make_keys import Home

# fixture -> (message template, refused before gpg ever runs)
BAD_KEYS = {
    "garbage": (pgp.DAMAGED, True),
    "good-cv25519.secret": (pgp.PRIVATE_KEY, True),
    "two-keys": (pgp.SEVERAL_KEYS, True),
    "many-uids": (pgp.TOO_MANY_USER_IDS, True),
    "many-signatures": (pgp.TOO_MANY_SIGNATURES, True),
    "oversized": (pgp.TOO_LARGE, True),
    "expired": (pgp.EXPIRED, False),
    "revoked": (pgp.REVOKED, False),
    "revoked-subkey": (pgp.ENCRYPTION_KEY_REVOKED, False),
    "sign-only": (pgp.NO_ENCRYPTION_KEY, False),
}


def matches(message: str, template: str) -> bool:
    pattern = re.escape(template)
    pattern = re.sub(r"\\\{[a-z_]+\\\}", ".+", pattern)
    return re.fullmatch(pattern, message) is not None


@pytest.fixture
def isolated_gpg(settings, monkeypatch):
    """Throwaway homes under a temp dir of our own, a GPG_HOME_ROOT we can inspect, and
    a gpg wrapper that logs every run."""
    root = tempfile.mkdtemp(prefix="hp-")  # short: gpg-agent sockets live in homes
    temp = os.path.join(root, "t")
    os.mkdir(temp)
    monkeypatch.setattr(tempfile, "tempdir", temp)
    settings.GPG_HOME_ROOT = os.path.join(root, "shared")
    os.mkdir(settings.GPG_HOME_ROOT)
    log = os.path.join(root, "gpg.log")
    wrapper = os.path.join(root, "gpg")
    real = shutil.which(settings.GPG_BINARY)
    with open(wrapper, "w") as handle:
        handle.write(f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n')
    os.chmod(wrapper, stat.S_IRWXU)
    settings.GPG_BINARY = wrapper

    class Paths:
        shared = settings.GPG_HOME_ROOT
        tempdir = temp

        @staticmethod
        def gpg_runs() -> list[str]:
            return open(log).read().splitlines() if os.path.exists(log) else []

    yield Paths
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.django_db
@pytest.mark.parametrize("name", list(BAD_KEYS))
def test_each_bad_key_is_refused_with_its_own_message_quickly_storing_nothing(name, isolated_gpg):
    template, before_gpg = BAD_KEYS[name]
    started = time.monotonic()
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=load(name), account_email=GOOD_EMAIL)
    elapsed = time.monotonic() - started

    assert matches(refused.value.message, template), refused.value.message
    assert elapsed < pgp.PARSE_TIME_LIMIT
    assert PgpKey.objects.count() == 0
    assert os.listdir(isolated_gpg.shared) == []
    assert os.listdir(isolated_gpg.tempdir) == []  # the throwaway home is gone
    if before_gpg:
        assert isolated_gpg.gpg_runs() == []
    else:
        # gpg only ever read the key with --dry-run: it was never imported.
        runs = [run for run in isolated_gpg.gpg_runs() if "--list-config" not in run]
        assert runs and all("--dry-run" in run for run in runs)


def test_every_refusal_message_is_distinct():
    messages = [
        value
        for name, value in vars(pgp).items()
        if name.isupper() and isinstance(value, str) and name != "MINIMAL_EXPORT"
    ]
    assert len(messages) > 15
    assert len(set(messages)) == len(messages)


def test_a_good_cv25519_key_is_accepted_and_reported(isolated_gpg):
    report = pgp.key_inspect(armored=load("good-cv25519"), account_email=GOOD_EMAIL)

    assert re.fullmatch(r"[0-9A-F]{40}", report.fingerprint)
    assert report.algorithm == "ed25519/cv25519"
    assert report.uids == ["Good Person <good@example.org>"]
    assert report.emails == ["good@example.org"]
    assert report.created_at.tzinfo is not None
    assert report.expires_at == datetime(2046, 1, 1, 12, tzinfo=UTC)
    assert report.warnings == []
    assert report.armored.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert os.listdir(isolated_gpg.shared) == []
    assert os.listdir(isolated_gpg.tempdir) == []


def test_the_stored_armor_inspects_to_the_same_key():
    first = pgp.key_inspect(armored=load("good-cv25519"))
    again = pgp.key_inspect(armored=first.armored)
    assert (again.fingerprint, again.expires_at, again.uids) == (
        first.fingerprint,
        first.expires_at,
        first.uids,
    )


def test_a_good_rsa3072_key_is_accepted():
    report = pgp.key_inspect(armored=load("good-rsa3072"))
    assert report.algorithm == "rsa3072"
    assert report.emails == ["rsa@example.org"]


def test_a_key_for_another_address_is_accepted_with_a_warning():
    report = pgp.key_inspect(armored=load("other-email"), account_email="carol@example.org")
    assert report.emails == ["carol@elsewhere.example"]
    assert report.warnings == [pgp.WARN_EMAIL_DIFFERS.format(email="carol@example.org")]


def test_the_account_address_matches_whatever_its_case():
    report = pgp.key_inspect(armored=load("good-cv25519"), account_email="Good@Example.ORG")
    assert report.warnings == []


def test_user_ids_in_utf8_or_with_invalid_bytes_are_read_safely():
    with Home() as home:
        fpr = home.person("Jürgen Ölmann (Paketbau) <jurgen@example.org>")
        subprocess.run(
            [part.encode() for part in [
                "gpg", "--homedir", home.path, "--batch", "--passphrase", "",
                "--pinentry-mode", "loopback", "--quick-add-uid", fpr,
            ]] + [b"Bad \xff\xfe <bad@example.org>"],
            check=True, capture_output=True,
        )  # fmt: skip
        armored = home.export(fpr)
    report = pgp.key_inspect(armored=armored, account_email="Jurgen@Example.org")
    # Which user ID comes first depends on self-signature times; compare as sets.
    assert "Jürgen Ölmann (Paketbau) <jurgen@example.org>" in report.uids
    assert sorted(report.emails) == ["bad@example.org", "jurgen@example.org"]
    assert report.warnings == []


def test_a_key_whose_only_user_id_is_not_utf8_is_still_read():
    # gpg prints the primary user ID raw in its import status line; a strict decoder in
    # python-gnupg's reader thread used to die on it and the key came back "unreadable".
    with Home() as home:
        subprocess.run(
            [b"gpg", b"--homedir", home.path.encode(), b"--batch", b"--passphrase", b"",
             b"--pinentry-mode", b"loopback", b"--quick-gen-key",
             b"Bad \xff\xfe <bad@example.org>", b"ed25519", b"cert,sign", b"never"],
            check=True, capture_output=True,
        )  # fmt: skip
        listing = home.gpg("--with-colons", "--list-keys").decode("utf-8", "replace")
        fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
        home.add_encryption_subkey(fpr)
        armored = home.export(fpr)
    report = pgp.key_inspect(armored=armored, account_email="bad@example.org")
    assert report.fingerprint == fpr
    assert report.emails == ["bad@example.org"]
    assert report.uids[0].startswith("Bad ")


def test_a_key_expiring_within_30_days_is_accepted_with_a_warning():
    report = pgp.key_inspect(armored=load("expiring-soon"), now=EXPIRING_SOON_NOW)
    assert report.expires_at == datetime(2045, 6, 1, 12, tzinfo=UTC)
    assert len(report.warnings) == 1
    assert matches(report.warnings[0], pgp.WARN_EXPIRES_SOON)
    assert "in 12 days" in report.warnings[0]


def test_a_key_expiring_in_more_than_30_days_has_no_warning():
    now = EXPIRING_SOON_NOW - timedelta(days=31)
    assert pgp.key_inspect(armored=load("expiring-soon"), now=now).warnings == []


def test_the_same_key_is_refused_once_its_expiry_has_passed():
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=load("expiring-soon"), now=datetime(2045, 6, 2, tzinfo=UTC))
    assert refused.value.message == pgp.EXPIRED.format(date="2045-06-01 12:00 UTC")


@pytest.mark.parametrize(
    ("text", "template"),
    [
        ("hello, here is my key: 0x1234", pgp.NOT_ARMOR),
        ("", pgp.NOT_ARMOR),
        (
            "-----BEGIN PGP MESSAGE-----\n\nhF4DAAAAAAAAAAA=\n-----END PGP MESSAGE-----\n",
            pgp.NOT_A_KEY_BLOCK,
        ),
        ("x" * (pgp.MAX_KEY_BYTES + 1), pgp.TOO_LARGE),
        ("-----BEGIN PGP PRIVATE KEY BLOCK-----\n(broken)\n", pgp.PRIVATE_KEY),
    ],
)
def test_text_that_is_not_a_public_key_gets_its_own_message(text, template, isolated_gpg):
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=text)
    assert matches(refused.value.message, template)
    assert isolated_gpg.gpg_runs() == []


def test_the_size_cap_comes_before_any_parsing(isolated_gpg):
    # Over the cap and also garbage: the size message wins, and nothing was parsed.
    text = load("garbage") + "\n" * pgp.MAX_KEY_BYTES
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=text)
    assert refused.value.message == pgp.TOO_LARGE


def rearmor(data: bytes) -> str:
    return openpgp.armor(data, "PUBLIC KEY BLOCK")


def test_secret_packets_under_a_public_header_are_refused_before_gpg(isolated_gpg):
    secret = openpgp.dearmor(load("good-cv25519.secret"))[0].data
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=rearmor(secret))
    assert refused.value.message == pgp.PRIVATE_KEY
    assert isolated_gpg.gpg_runs() == []


def test_a_public_block_followed_by_a_secret_block_is_refused():
    text = load("good-cv25519") + load("good-cv25519.secret")
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=text)
    assert refused.value.message == pgp.PRIVATE_KEY


def test_two_armor_blocks_count_as_two_keys():
    text = load("good-cv25519") + load("good-rsa3072")
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=text)
    assert refused.value.message == pgp.SEVERAL_KEYS.format(count=2)


def test_truncated_packets_are_reported_as_damaged():
    data = openpgp.dearmor(load("good-cv25519"))[0].data
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=rearmor(data[:-20]))
    assert refused.value.message == pgp.DAMAGED


def test_a_bad_armor_checksum_is_reported_as_damaged():
    text = re.sub(r"\n=(....)\n", "\n=AAAA\n", load("good-cv25519"))
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=text)
    assert refused.value.message == pgp.DAMAGED


def packet(tag: int, body: bytes) -> bytes:
    """A new-format packet (RFC 4880 4.2.2)."""
    if len(body) < 192:
        return bytes([0xC0 | tag, len(body)]) + body
    length = len(body) - 192
    return bytes([0xC0 | tag, (length >> 8) + 192, length & 0xFF]) + body


def test_a_block_with_signatures_but_no_key_is_refused():
    data = openpgp.dearmor(load("good-cv25519"))[0].data
    kept = b"".join(
        packet(tag, body)
        for tag, body in openpgp.packets(data)
        if tag in (openpgp.USER_ID, openpgp.SIGNATURE)
    )
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=rearmor(kept))
    assert refused.value.message == pgp.NO_KEY


def test_repacked_packets_of_a_good_key_are_still_accepted():
    # Proves the packet() helper above builds what gpg reads.
    data = openpgp.dearmor(load("good-cv25519"))[0].data
    repacked = b"".join(packet(tag, body) for tag, body in openpgp.packets(data))
    assert pgp.key_inspect(armored=rearmor(repacked)).algorithm == "ed25519/cv25519"


def test_a_weak_rsa_encryption_key_is_refused():
    with Home() as home:
        fpr = home.gen("Weak <weak@example.org>", algo="rsa1024", usage="cert,sign")
        home.add_encryption_subkey(fpr, algo="rsa1024")
        armored = home.export(fpr)
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=armored)
    assert refused.value.message == pgp.WEAK_KEY.format(
        part="primary key", algorithm="RSA", bits=1024
    )


def test_a_gpg_that_hangs_is_killed_at_the_time_limit(settings, monkeypatch, tmp_path):
    fake = tmp_path / "gpg"
    fake.write_text(
        "#!/bin/sh\n"
        'case "$*" in *--list-config*) echo "cfg:version:2.2.40"; exit 0;; esac\n'
        f"echo $$ > {tmp_path}/pid\nexec sleep 30\n"
    )
    fake.chmod(0o700)
    settings.GPG_BINARY = str(fake)
    monkeypatch.setattr(pgp, "PARSE_TIME_LIMIT", 1.0)

    started = time.monotonic()
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=load("good-cv25519"))
    elapsed = time.monotonic() - started

    assert refused.value.message == pgp.TOO_SLOW
    assert 1.0 <= elapsed < 3.0
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_missing_gpg_binary_refuses_the_key_with_a_try_later_message(settings):
    settings.GPG_BINARY = "/nonexistent/gpg"
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_inspect(armored=load("good-cv25519"))
    assert refused.value.message == pgp.GPG_BROKEN


def test_key_status_confirms_the_pinned_fingerprint():
    report = pgp.key_inspect(armored=load("good-cv25519"))
    assert pgp.key_status(armored=report.armored, fingerprint=report.fingerprint.lower()) == report


def test_key_status_refuses_a_key_that_is_not_the_pinned_one():
    other = pgp.key_inspect(armored=load("good-rsa3072")).fingerprint
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_status(armored=load("good-cv25519"), fingerprint=other)
    assert refused.value.message == pgp.FINGERPRINT_MISMATCH.format(fingerprint=other)


def test_the_possession_proof_decrypts_with_the_keys_secret(isolated_gpg):
    report = pgp.key_inspect(armored=load("good-cv25519"))
    ciphertext = pgp.key_encrypt_to(
        armored=report.armored, fingerprint=report.fingerprint, plaintext="proof 913-447"
    )

    assert ciphertext.startswith("-----BEGIN PGP MESSAGE-----")
    assert "913-447" not in ciphertext
    code, plaintext, status = gpg_decrypt(ciphertext, secret=load("good-cv25519.secret"))
    assert code == 0, status
    assert plaintext == b"proof 913-447"
    assert os.listdir(isolated_gpg.shared) == []
    assert os.listdir(isolated_gpg.tempdir) == []


def test_the_possession_proof_has_exactly_one_recipient_the_encryption_subkey():
    report = pgp.key_inspect(armored=load("good-cv25519"))
    ciphertext = pgp.key_encrypt_to(
        armored=report.armored, fingerprint=report.fingerprint, plaintext="proof"
    )
    assert recipients_listed(ciphertext) == subkey_ids(report.armored)
    assert ":symkey enc packet:" not in gpg_list_packets(ciphertext)


def _colons(armored: str) -> str:
    with Home() as home:
        home.gpg("--import", stdin=armored.encode())
        return home.gpg("--with-colons", "--fingerprint", "--list-keys").decode()


def test_the_possession_proof_refuses_a_fingerprint_that_is_not_the_keys():
    other = pgp.key_inspect(armored=load("good-rsa3072")).fingerprint
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_encrypt_to(armored=load("good-cv25519"), fingerprint=other, plaintext="proof")
    assert refused.value.message == pgp.FINGERPRINT_MISMATCH.format(fingerprint=other)


def test_the_possession_proof_fails_closed_when_gpg_cannot_encrypt():
    # key_encrypt_to trusts gpg's own checks: an expired key imports but cannot be used.
    fingerprint = re.search(r"^fpr:+([0-9A-F]{40}):", _colons(load("expired")), re.M).group(1)
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_encrypt_to(armored=load("expired"), fingerprint=fingerprint, plaintext="proof")
    assert refused.value.message == pgp.ENCRYPTION_FAILED


def test_the_possession_proof_refuses_a_missing_gpg(settings):
    report = pgp.key_inspect(armored=load("good-cv25519"))
    settings.GPG_BINARY = "/nonexistent/gpg"
    with pytest.raises(pgp.KeyRejected) as refused:
        pgp.key_encrypt_to(armored=report.armored, fingerprint=report.fingerprint, plaintext="x")
    assert refused.value.message == pgp.GPG_BROKEN
