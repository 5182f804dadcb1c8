"""Mail-in (issue 17): the MTA pipes the security address into `manage.py
report_mail_in`. A message encrypted to the team key becomes a report with its text, its
files and a receipt to the sender; auto-replies, bounces and loops create nothing; the
exit status tells the MTA to bounce (65) or to try again later (75)."""

from __future__ import annotations

import io
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection

from core.models import AuditEvent
from intake.management.commands import report_mail_in
from intake.models import Report, ReportAttachment
from tests.pgpmail import test_inbound as reporter_side
from tests.pgpmail.test_inbound import (
    SECRET,
    dsn,
    encrypt_to_other,
    encrypt_to_team,
    inner_entity,
    pgp_mime_mail,
    plain_mail,
    reporter_sign,
    signed_mail,
)

ROOT = Path(__file__).resolve().parents[2]
COMMAND_LOG = "intake.management.commands.report_mail_in"
# The reporter's side and the team key, as the pgpmail tests make them.
team_key_files = reporter_side.team_key_files
mail_team = reporter_side.mail_team
reporter = reporter_side.reporter


@pytest.fixture(autouse=True)
def _report_files(settings, tmp_path):
    settings.HAULOUT_REPORT_FILES_DIR = tmp_path / "report-files"


def pipe_in(raw: bytes) -> None:
    """What the MTA does: the message on the command's stdin."""
    call_command("report_mail_in", stdin=io.BytesIO(raw))


def exit_status(raw: bytes) -> int:
    try:
        pipe_in(raw)
    except CommandError as error:
        return error.returncode
    return 0


def nothing_changed() -> tuple:
    return (Report.objects.count(), ReportAttachment.objects.count(), AuditEvent.objects.count())


@pytest.mark.django_db
def test_a_pgp_mime_report_becomes_a_report_whose_text_matches_and_the_sender_gets_a_receipt(
    mail_team, reporter, django_capture_on_commit_callbacks
):
    entity = inner_entity(SECRET, subject="Heap overflow in the TIFF decoder")
    raw = pgp_mime_mail(encrypt_to_team(reporter, mail_team, entity))

    with django_capture_on_commit_callbacks(execute=True):
        assert exit_status(raw) == 0

    report = Report.objects.get()
    assert (report.channel, report.state, report.body) == ("mail", "received", SECRET)
    assert report.subject == "Heap overflow in the TIFF decoder"
    assert (report.reporter_email, report.reporter_name) == ("rosa@example.net", "Rosa Reporter")
    assert report.encrypted_original.startswith("-----BEGIN PGP MESSAGE-----")
    assert report.mail_message_id == "<pgpmime-1@example.net>"
    [receipt] = mail.outbox
    assert receipt.to == ["rosa@example.net"] and report.reference in receipt.subject
    assert SECRET not in receipt.body


@pytest.mark.django_db
def test_an_inline_pgp_report_is_decrypted_with_the_team_key(mail_team, reporter):
    armored = encrypt_to_team(reporter, mail_team, SECRET.encode())
    assert exit_status(plain_mail(f"Hello,\n\n{armored}", message_id="<inline-1@example.net>")) == 0
    report = Report.objects.get()
    assert report.body == f"Hello,\n\n{SECRET}" and report.encrypted_original == armored.strip()


@pytest.mark.django_db
def test_a_signed_report_records_the_signers_fingerprint(mail_team, reporter):
    assert exit_status(signed_mail(reporter_sign(reporter))) == 0
    report = Report.objects.get()
    assert (report.body, report.signer_fingerprint) == (SECRET, reporter.fingerprint)


@pytest.mark.django_db
def test_a_signed_and_encrypted_report_records_the_signers_fingerprint(mail_team, reporter):
    entity = inner_entity(SECRET, subject="Heap overflow")
    assert exit_status(pgp_mime_mail(encrypt_to_team(reporter, mail_team, entity, sign=True))) == 0
    assert Report.objects.get().signer_fingerprint == reporter.fingerprint


@pytest.mark.django_db
def test_a_plain_report_is_accepted_too(mail_team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert exit_status(plain_mail()) == 0
    report = Report.objects.get()
    assert (report.body, report.encrypted_original, report.signer_fingerprint) == (SECRET, "", "")
    assert [message.to for message in mail.outbox] == [["rosa@example.net"]]


def auto_reply() -> bytes:
    return plain_mail(subject="Out of office", extra={"Auto-Submitted": "auto-replied"})


def loop() -> bytes:
    return plain_mail(extra={"X-Loop": "security@example.org"})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("build", "kind"), [(auto_reply, "auto_reply"), (dsn, "bounce"), (loop, "loop")]
)
def test_an_auto_reply_a_bounce_and_a_loop_create_nothing(
    mail_team, caplog, django_capture_on_commit_callbacks, build, kind
):
    before = nothing_changed()
    with (
        caplog.at_level(logging.INFO, logger=COMMAND_LOG),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert exit_status(build()) == 0
    assert nothing_changed() == before and mail.outbox == []
    [line] = [record.getMessage() for record in caplog.records if record.name == COMMAND_LOG]
    assert kind in line and SECRET not in line


@pytest.mark.django_db
def test_the_same_message_id_twice_makes_one_report(mail_team, reporter):
    entity = inner_entity(SECRET, subject="Heap overflow")
    raw = pgp_mime_mail(encrypt_to_team(reporter, mail_team, entity))
    assert exit_status(raw) == 0
    assert exit_status(raw) == 0
    assert Report.objects.count() == 1


@pytest.mark.django_db
def test_attachments_arrive_as_report_attachments(mail_team, reporter):
    files = (("poc.tiff", b"II*\0crash"), ("trace.log", b"#0 decode_tag"))
    entity = inner_entity(SECRET, subject="Heap overflow", files=files)
    assert exit_status(pgp_mime_mail(encrypt_to_team(reporter, mail_team, entity))) == 0
    report = Report.objects.get()
    stored = [(item.name, item.size, item.file.read()) for item in report.attachments.all()]
    assert stored == [("poc.tiff", 9, b"II*\0crash"), ("trace.log", 13, b"#0 decode_tag")]


@pytest.mark.django_db
def test_too_many_attachments_exit_65_and_create_nothing(mail_team, settings):
    settings.HAULOUT_REPORT_ATTACHMENTS_MAX = 2
    files = tuple((f"file{n}.txt", b"x") for n in range(3))
    before = nothing_changed()
    with pytest.raises(CommandError) as raised:
        pipe_in(plain_mail(files=files))
    assert raised.value.returncode == report_mail_in.EX_DATAERR == 65
    assert "At most 2 files" in str(raised.value) and "\n" not in str(raised.value)
    assert nothing_changed() == before and mail.outbox == []


@pytest.mark.django_db
def test_a_message_larger_than_the_limit_exits_65_and_creates_nothing(mail_team, settings):
    settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES, settings.HAULOUT_REPORT_ATTACHMENTS_MAX = 10, 1
    assert exit_status(plain_mail("x" * (1024 * 1024 + 100))) == 65
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_a_report_encrypted_to_another_key_is_kept_with_its_armor_for_staff(mail_team):
    assert exit_status(pgp_mime_mail(encrypt_to_other(SECRET.encode()))) == 0
    report = Report.objects.get()
    assert report.body == report_mail_in.UNDECRYPTABLE_NOTE
    assert "-----BEGIN PGP MESSAGE-----" in report.encrypted_original


@pytest.mark.django_db
def test_a_missing_gpg_exits_75_so_the_mta_tries_again(mail_team, reporter, settings):
    entity = inner_entity(SECRET, subject="Heap overflow")
    raw = pgp_mime_mail(encrypt_to_team(reporter, mail_team, entity))
    settings.GPG_BINARY = "/nonexistent/gpg"
    assert exit_status(raw) == report_mail_in.EX_TEMPFAIL == 75
    assert Report.objects.count() == 0


@pytest.mark.django_db
def test_a_database_that_is_down_exits_75_and_logs_no_content(mail_team, monkeypatch, caplog):
    def down(**kwargs):
        raise OperationalError(f"connection refused {kwargs['body']}")

    monkeypatch.setattr(report_mail_in, "report_submit", down)
    with caplog.at_level(logging.INFO, logger=COMMAND_LOG):
        assert exit_status(plain_mail()) == 75
    assert "OperationalError" in caplog.text and SECRET not in caplog.text


def _database_url() -> str:
    config = connection.settings_dict
    if config["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{config['NAME']}"
    return (
        f"postgres://{config['USER']}:{config['PASSWORD']}@{config['HOST'] or 'localhost'}:"
        f"{config['PORT'] or 5432}/{config['NAME']}"
    )


@pytest.mark.django_db(transaction=True)
def test_the_command_run_as_the_mta_runs_it_stores_the_report(mail_team, reporter, tmp_path):
    message = tmp_path / "message.eml"
    gpg_root = tempfile.mkdtemp(prefix="hmp-")  # short: gpg-agent's socket lives in the home
    entity = inner_entity(SECRET, subject="Heap overflow")
    message.write_bytes(pgp_mime_mail(encrypt_to_team(reporter, mail_team, entity)))
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "HAULOUT_TEAM_KEY_FILE": str(mail_team.key_file),
        "HAULOUT_TEAM_KEY_PASSPHRASE_FILE": str(mail_team.passphrase_file),
        "HAULOUT_GPG_HOME_ROOT": gpg_root,
        "HAULOUT_REPORT_FILES_DIR": str(tmp_path / "files"),
        "HAULOUT_SECURITY_TEAM_EMAIL": "security@example.org",
    }
    with message.open("rb") as stdin:  # python manage.py report_mail_in < message.eml
        done = subprocess.run(
            [sys.executable, "manage.py", "report_mail_in"],
            stdin=stdin, capture_output=True, cwd=ROOT, env=env, timeout=120, check=False,
        )  # fmt: skip
    shutil.rmtree(gpg_root, ignore_errors=True)  # its agent exits when its socket goes
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert Report.objects.get().body == SECRET
    assert SECRET.encode() not in done.stdout + done.stderr
