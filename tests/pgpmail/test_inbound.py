"""Mail reaching the team (pgpmail.inbound, pgpmail.inbound_mail), with the real gpg: a
message encrypted to the team key opens with it, signers are recorded, and mail that
must not become a report (auto-replies, bounces, loops) is recognised from its headers.

The builders here are the reporter's side, also used by tests/intake/test_mail_in.py."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from pgpmail import (
    GpgEnvironmentError,
    MailRejected,
    UndecryptableError,
    mail_message_parse,
    signature_verify,
    team_key_generate,
    team_message_decrypt,
    worker_home_close,
)
from tests.keys import GPG, gpg_home_close, gpg_home_new, gpg_home_run
from tests.keys.person import PersonKey

TEAM_EMAIL = "security@example.org"
SECRET = "Walrus canary: the TIFF decoder overflows on tag 0x0111"


@dataclass(frozen=True)
class TeamKeyFiles:
    key_file: Path
    passphrase_file: Path
    fingerprint: str
    public: str


@pytest.fixture(scope="module")
def team_key_files():
    """A real team key with an encryption subkey, made by team_key_generate itself."""
    folder = Path(tempfile.mkdtemp(prefix="hin-"))
    key_file, passphrase_file = folder / "team.asc", folder / "team.passphrase"
    fingerprint = team_key_generate(
        name="Example Security Team", email=TEAM_EMAIL, path=key_file,
        passphrase_path=passphrase_file,
    )  # fmt: skip
    public = (folder / "team.pub.asc").read_text()
    yield TeamKeyFiles(key_file, passphrase_file, fingerprint, public)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def mail_team(settings, team_key_files):
    """The team key in the settings, a fresh gpg home root, and our own addresses."""
    root = tempfile.mkdtemp(prefix="hmi-")  # short: gpg-agent's socket lives in the home
    settings.HAULOUT_TEAM_KEY_FILE = team_key_files.key_file
    settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE = team_key_files.passphrase_file
    settings.GPG_HOME_ROOT = Path(root)
    settings.SECURITY_TEAM_EMAIL = TEAM_EMAIL
    settings.DEFAULT_FROM_EMAIL = "Haulout <haulout@example.org>"
    worker_home_close()
    yield team_key_files
    worker_home_close()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def reporter(team_key_files):
    """A reporter with a key pair of their own and the team's published public key."""
    person = PersonKey("rosa@example.net")
    gpg_home_run(person.home, "--import", stdin=team_key_files.public.encode())
    yield person
    person.close()


# ---------------------------------------------------------------- the reporter's side


def encrypt_to_team(person: PersonKey, team: TeamKeyFiles, data: bytes, *, sign=False) -> str:
    args = ["--armor", "--trust-model", "always", "--encrypt", "--recipient", team.fingerprint]
    if sign:
        args += ["--sign", "--local-user", person.fingerprint]
    return gpg_home_run(person.home, *args, stdin=data).decode()


def encrypt_to_other(data: bytes) -> str:
    other = PersonKey("other@example.net")
    try:
        return gpg_home_run(other.home, "--armor", "--trust-model", "always", "--encrypt",
                            "--recipient", other.fingerprint, stdin=data).decode()  # fmt: skip
    finally:
        other.close()


def team_sign(team: TeamKeyFiles, data: bytes) -> bytes:
    """A detached signature by the team key itself: a key the team's gpg home has."""
    home = gpg_home_new("hts-")
    try:
        base = [GPG, "--homedir", home, "--batch", "--no-tty", "--pinentry-mode", "loopback",
                "--passphrase-file", str(team.passphrase_file)]  # fmt: skip
        subprocess.run([*base, "--import", str(team.key_file)], capture_output=True, check=True)
        sign = [*base, "--armor", "--detach-sign", "--local-user", team.fingerprint]
        return subprocess.run(sign, input=data, capture_output=True, check=True).stdout
    finally:
        gpg_home_close(home)


def headers(*, subject: str, message_id: str, sender: str, extra: dict | None = None) -> bytes:
    lines = {
        "From": sender,
        "To": TEAM_EMAIL,
        "Subject": subject,
        "Date": "Thu, 26 Nov 2026 20:00:00 +0000",
        "Message-ID": message_id,
        "MIME-Version": "1.0",
        **(extra or {}),
    }
    return b"".join(f"{name}: {value}\r\n".encode() for name, value in lines.items())


def plain_mail(
    text: str = SECRET,
    *,
    subject: str = "Heap overflow in the TIFF decoder",
    message_id: str = "<plain-1@example.net>",
    sender: str = "Rosa Reporter <rosa@example.net>",
    extra: dict | None = None,
    files: tuple[tuple[str, bytes], ...] = (),
) -> bytes:
    message = EmailMessage()
    message.set_content(text)
    for name, data in files:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    body = message.as_bytes(policy=SMTP)
    return headers(subject=subject, message_id=message_id, sender=sender, extra=extra) + body


def inner_entity(text: str, *, subject: str, files: tuple[tuple[str, bytes], ...] = ()) -> bytes:
    """What a PGP/MIME client encrypts: the real Subject as a protected header, the text
    and the files."""
    inner = EmailMessage()
    inner["Subject"] = subject
    inner.set_content(text)
    for name, data in files:
        inner.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    inner.set_param("protected-headers", "v1")
    return inner.as_bytes(policy=SMTP)


def pgp_mime_mail(
    armored: str,
    *,
    message_id: str = "<pgpmime-1@example.net>",
    sender: str = "Rosa Reporter <rosa@example.net>",
) -> bytes:
    """RFC 3156 multipart/encrypted, the outer Subject a placeholder."""
    boundary = b"outer-boundary-7a1c"
    return b"".join(
        (
            headers(subject="...", message_id=message_id, sender=sender),
            b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\r\n'
            b' boundary="' + boundary + b'"\r\n\r\n',
            b"This is an OpenPGP/MIME encrypted message (RFC 3156).\r\n",
            b"--" + boundary + b"\r\nContent-Type: application/pgp-encrypted\r\n\r\n",
            b"Version: 1\r\n\r\n",
            b"--" + boundary + b"\r\n",
            b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n\r\n',
            armored.replace("\n", "\r\n").encode(),
            b"\r\n--" + boundary + b"--\r\n",
        )
    )


def signed_mail(sign, text: str = SECRET, *, message_id: str = "<signed-1@example.net>") -> bytes:
    """RFC 3156 multipart/signed; `sign(canonical bytes)` returns the detached signature."""
    boundary = b"signed-boundary-33f0"
    part = (
        b'Content-Type: text/plain; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: 7bit\r\n\r\n" + text.encode() + b"\r\n"
    )
    signature = sign(part)
    return b"".join(
        (
            headers(
                subject="Signed report",
                message_id=message_id,
                sender="Rosa Reporter <rosa@example.net>",
            ),
            b'Content-Type: multipart/signed; micalg="pgp-sha512";\r\n'
            b' protocol="application/pgp-signature"; boundary="' + boundary + b'"\r\n\r\n',
            b"--" + boundary + b"\r\n" + part,
            b"\r\n--" + boundary + b"\r\n",
            b'Content-Type: application/pgp-signature; name="signature.asc"\r\n\r\n',
            signature.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
            b"\r\n--" + boundary + b"--\r\n",
        )
    )


def reporter_sign(person: PersonKey):
    return lambda data: gpg_home_run(
        person.home, "--armor", "--detach-sign", "--local-user", person.fingerprint, stdin=data
    )


# ---------------------------------------------------------------- decrypting


def test_a_message_encrypted_to_the_team_key_opens_with_it(mail_team, reporter):
    armored = encrypt_to_team(reporter, mail_team, SECRET.encode())
    opened = team_message_decrypt(armored=armored)
    assert (opened.text, opened.signer_fingerprint) == (SECRET, "")
    assert SECRET not in repr(opened)


def test_a_signed_and_encrypted_message_names_the_signers_fingerprint(mail_team, reporter):
    armored = encrypt_to_team(reporter, mail_team, SECRET.encode(), sign=True)
    opened = team_message_decrypt(armored=armored)
    assert (opened.text, opened.signer_fingerprint) == (SECRET, reporter.fingerprint)


def test_a_message_for_another_key_is_undecryptable(mail_team):
    with pytest.raises(UndecryptableError, match="not encrypted to the team key") as raised:
        team_message_decrypt(armored=encrypt_to_other(SECRET.encode()))
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    "armored",
    ["", "just text", "-----BEGIN PGP MESSAGE-----\n\nbm9wZQ==\n-----END PGP MESSAGE-----"],
)
def test_something_that_is_no_message_for_the_team_is_undecryptable(mail_team, armored):
    with pytest.raises(UndecryptableError):
        team_message_decrypt(armored=armored)


def test_a_message_that_unpacks_beyond_the_size_limit_is_undecryptable(
    mail_team, reporter, settings
):
    settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES, settings.HAULOUT_REPORT_ATTACHMENTS_MAX = 1000, 1
    # Three MiB of zeros compress to a few kilobytes: a small message, a large plaintext.
    armored = encrypt_to_team(reporter, mail_team, b"\0" * (3 * 1024 * 1024))
    assert len(armored) < 100_000
    with pytest.raises(UndecryptableError, match="larger"):
        team_message_decrypt(armored=armored)


def test_a_missing_gpg_is_an_environment_error(mail_team, reporter, settings):
    armored = encrypt_to_team(reporter, mail_team, SECRET.encode())
    settings.GPG_BINARY = "/nonexistent/gpg"
    with pytest.raises(GpgEnvironmentError):
        team_message_decrypt(armored=armored)


def test_a_good_signature_by_a_key_gpg_has_names_its_primary_key_and_a_bad_one_nobody(mail_team):
    data = b"Content-Type: text/plain\r\n\r\nsigned text\r\n"
    signature = team_sign(mail_team, data)
    assert signature_verify(data=data, signature=signature) == mail_team.fingerprint
    assert signature_verify(data=data.replace(b"signed", b"forged"), signature=signature) == ""


# ---------------------------------------------------------------- reading mail


def test_a_pgp_mime_message_opens_with_its_protected_subject_text_and_files(mail_team, reporter):
    entity = inner_entity(SECRET, subject="Heap overflow", files=(("poc.tiff", b"II*\0crash"),))
    raw = pgp_mime_mail(encrypt_to_team(reporter, mail_team, entity))

    mail = mail_message_parse(raw)

    assert (mail.kind, mail.subject, mail.body_text) == ("report", "Heap overflow", SECRET)
    assert (mail.from_address, mail.from_name) == ("rosa@example.net", "Rosa Reporter")
    assert mail.attachments == [("poc.tiff", b"II*\0crash")]
    assert (
        mail.encrypted and not mail.undecryptable and mail.message_id == "<pgpmime-1@example.net>"
    )
    assert mail.encrypted_original.startswith("-----BEGIN PGP MESSAGE-----")


def test_a_pgp_mime_message_signed_inside_names_the_signer(mail_team, reporter):
    entity = inner_entity(SECRET, subject="Heap overflow")
    mail = mail_message_parse(
        pgp_mime_mail(encrypt_to_team(reporter, mail_team, entity, sign=True))
    )
    assert mail.signer_fingerprint == reporter.fingerprint


def test_an_inline_pgp_message_is_decrypted_in_place(mail_team, reporter):
    armored = encrypt_to_team(reporter, mail_team, SECRET.encode())
    mail = mail_message_parse(plain_mail(f"Hello team,\n\n{armored}\nRosa"))
    assert mail.body_text == f"Hello team,\n\n{SECRET}\n\nRosa"
    assert mail.encrypted and mail.encrypted_original == armored.strip()


def test_a_message_for_another_key_keeps_its_armor_and_says_it_is_undecryptable(mail_team):
    raw = pgp_mime_mail(encrypt_to_other(SECRET.encode()))
    mail = mail_message_parse(raw)
    assert (mail.kind, mail.encrypted, mail.undecryptable) == ("report", True, True)
    assert "-----BEGIN PGP MESSAGE-----" in mail.encrypted_original and mail.body_text == ""


def test_a_multipart_signed_message_records_the_signer(mail_team, reporter):
    mail = mail_message_parse(signed_mail(reporter_sign(reporter)))
    assert (mail.body_text, mail.signer_fingerprint) == (SECRET, reporter.fingerprint)
    assert not mail.encrypted and mail.attachments == []


def test_a_multipart_signed_message_by_a_known_key_is_verified_over_its_exact_bytes(mail_team):
    mail = mail_message_parse(signed_mail(lambda data: team_sign(mail_team, data)))
    assert mail.signer_fingerprint == mail_team.fingerprint


def test_mail_piped_in_with_unix_line_ends_still_verifies_and_decrypts(mail_team, reporter):
    # Many MTAs hand a pipe the message with LF line ends; RFC 3156 signs CRLF.
    signed = signed_mail(lambda data: team_sign(mail_team, data)).replace(b"\r\n", b"\n")
    assert mail_message_parse(signed).signer_fingerprint == mail_team.fingerprint
    entity = inner_entity(SECRET, subject="Heap overflow")
    encrypted = pgp_mime_mail(encrypt_to_team(reporter, mail_team, entity)).replace(b"\r\n", b"\n")
    assert mail_message_parse(encrypted).body_text == SECRET


def test_a_clearsigned_text_records_the_signer(mail_team, reporter):
    clear = gpg_home_run(reporter.home, "--clearsign", "--local-user", reporter.fingerprint,
                         stdin=SECRET.encode()).decode()  # fmt: skip
    mail = mail_message_parse(plain_mail(clear))
    assert mail.signer_fingerprint == reporter.fingerprint and SECRET in mail.body_text


def test_a_plain_message_with_files_is_a_report(mail_team):
    mail = mail_message_parse(plain_mail(files=(("log.txt", b"trace"),)))
    assert (mail.kind, mail.body_text, mail.attachments) == (
        "report",
        SECRET,
        [("log.txt", b"trace")],
    )
    assert not mail.encrypted and mail.signer_fingerprint == ""


def test_a_message_without_a_message_id_gets_one_from_its_bytes(mail_team):
    raw = plain_mail().replace(b"Message-ID: <plain-1@example.net>\r\n", b"")
    first, again = mail_message_parse(raw), mail_message_parse(raw)
    assert first.message_id == again.message_id and first.message_id.startswith("<sha256-")


def test_a_message_over_the_size_limit_is_rejected_before_it_is_read(mail_team, settings):
    settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES, settings.HAULOUT_REPORT_ATTACHMENTS_MAX = 10, 1
    with pytest.raises(MailRejected):
        mail_message_parse(plain_mail("x" * (1024 * 1024 + 100)))


# ---------------------------------------------------------------- what is not a report

AUTO_REPLIES = [
    {"Auto-Submitted": "auto-replied"},
    {"Auto-Submitted": "auto-generated; owner-email=x@example.net"},
    {"X-Autoreply": "yes"},
    {"X-Autorespond": "Out of office"},
    {"Precedence": "bulk"},
    {"Precedence": "auto_reply"},
    {"X-Auto-Response-Suppress": "All", "Subject": "Automatic reply: Heap overflow"},
]


@pytest.mark.parametrize("extra", AUTO_REPLIES)
def test_auto_replies_are_recognised(mail_team, extra):
    subject = extra.pop("Subject", "Re: Heap overflow")
    assert mail_message_parse(plain_mail(subject=subject, extra=extra)).kind == "auto_reply"


@pytest.mark.parametrize(
    "extra",
    [{"Auto-Submitted": "no"}, {"X-Auto-Response-Suppress": "All"}, {"Precedence": "first-class"}],
)
def test_ordinary_mail_with_look_alike_headers_is_still_a_report(mail_team, extra):
    assert mail_message_parse(plain_mail(extra=extra)).kind == "report"


def dsn() -> bytes:
    return (
        headers(
            subject="Undelivered Mail Returned to Sender",
            message_id="<dsn-1@mx.example>",
            sender="MAILER-DAEMON@mx.example.net (Mail Delivery System)",
        )
        + b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"--b--\r\n"
    )


@pytest.mark.parametrize(
    "raw",
    [
        dsn(),
        plain_mail(sender="postmaster@example.net"),
        plain_mail(extra={"Return-Path": "<>"}),
        plain_mail(extra={"X-Failed-Recipients": "someone@example.net"}),
    ],
    ids=["delivery-status", "postmaster", "null-return-path", "x-failed-recipients"],
)
def test_bounces_are_recognised(mail_team, raw):
    assert mail_message_parse(raw).kind == "bounce"


@pytest.mark.parametrize(
    "raw",
    [
        plain_mail(extra={"X-Loop": TEAM_EMAIL}),
        plain_mail(sender=f"Security team <{TEAM_EMAIL}>"),
        plain_mail(sender="Haulout <haulout@example.org>"),
        plain_mail(message_id="<intake-receipt-7@testserver>"),
    ],
    ids=["x-loop", "from-the-team", "from-haulout", "our-message-id"],
)
def test_our_own_mail_coming_back_is_a_loop(mail_team, settings, raw):
    settings.HAULOUT_MESSAGE_ID_DOMAIN = "testserver"
    assert mail_message_parse(raw).kind == "loop"


def test_mail_that_is_dropped_is_not_decrypted(mail_team, settings):
    settings.GPG_BINARY = "/nonexistent/gpg"  # any gpg run would fail
    raw = pgp_mime_mail("-----BEGIN PGP MESSAGE-----\n...\n-----END PGP MESSAGE-----")
    raw = raw.replace(
        b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n"
    )
    mail = mail_message_parse(raw)
    assert (mail.kind, mail.body_text, mail.encrypted) == ("auto_reply", "", False)
