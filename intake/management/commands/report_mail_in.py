"""Reads one mailed report on stdin: the MTA pipes the security address into it, the way
mailing-list managers are wired, e.g. in /etc/aliases:

    security: "|/srv/haulout/.venv/bin/python /srv/haulout/manage.py report_mail_in"

The exit status is what an MTA reads from a pipe (sysexits.h):
- 0: stored, already stored (the same Message-ID), or deliberately dropped (an
  auto-reply, a bounce or our own mail coming back: one log line says which);
- 65 (EX_DATAERR): refused for good (too many files, one too large, no usable sender);
  the MTA bounces it with our one-line reason, which names no content;
- 75 (EX_TEMPFAIL): the database, gpg or the team key cannot be used right now; the
  MTA keeps the message queued and tries again, so nothing is lost.

A message encrypted to something other than the team key is kept as it arrived, with
a note, for staff to see; it is never dropped. Nothing from a message is ever logged.
"""

from __future__ import annotations

import logging
import sys
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from intake.models import Report
from intake.services import IncomingFile, report_submit
from pgpmail import CryptoError, InboundMail, MailRejected, mail_message_parse, mail_size_max

logger = logging.getLogger(__name__)

EX_DATAERR = 65
EX_TEMPFAIL = 75
_CHUNK = 1024 * 1024
NO_SUBJECT = "(no subject)"
UNDECRYPTABLE_NOTE = (
    "[Haulout] This message was encrypted, but not (all of it) to the security team's key, "
    "or it is damaged: it could not be decrypted. The message as it arrived is kept with "
    "this report."
)
NO_TEXT_NOTE = "[Haulout] The message has no text; see the attached files."
CUT_NOTE = "\n\n[Haulout] The text was longer than a report may be; all of it is attached."


class Command(BaseCommand):
    help = "Reads one RFC 5322 message on stdin (piped in by the MTA) and files it as a report."
    # Tests pass the message as call_command(..., stdin=BytesIO(raw)).
    stealth_options = ("stdin",)

    def handle(self, *args, **options) -> None:
        stream = options.get("stdin") or sys.stdin.buffer
        try:
            raw = _read_capped(stream, mail_size_max())
            mail = mail_message_parse(raw)
            if mail.kind != "report":
                logger.info("Mail-in: dropped a message of kind %s.", mail.kind)
                return
            report = report_submit(**_submission(mail))
        except (MailRejected, ValidationError) as error:
            logger.info("Mail-in: refused a message: %s", type(error).__name__)
            raise CommandError(_one_line(error), returncode=EX_DATAERR) from None
        except CryptoError as error:
            # gpg or the team key, whose errors never quote a message: each can come back.
            raise _try_later(f"{type(error).__name__}: {error}") from None
        except (DatabaseError, OSError) as error:
            # The database or the disk. A database error may quote a query: its type only.
            raise _try_later(_what(error)) from None
        except Exception as error:
            # A fault of ours: the message stays queued until it is fixed, never bounced.
            raise _try_later(f"unexpected: {_what(error)}") from None
        logger.info("Mail-in: report %s (%s).", report.reference, _how(mail))


def _try_later(reason: str) -> CommandError:
    logger.error("Mail-in: cannot take mail now (%s); the MTA will retry.", reason)
    return CommandError("Temporary failure; please try again later.", returncode=EX_TEMPFAIL)


def _read_capped(stream: BinaryIO, limit: int) -> bytes:
    """At most `limit` bytes; a longer message is read to its end (so the MTA sees it
    taken, not a broken pipe) and refused without keeping the rest in memory."""
    data = stream.read(limit + 1)
    if len(data) <= limit:
        return data
    while stream.read(_CHUNK):
        pass
    raise MailRejected(f"The message is larger than {limit // (1024 * 1024)} MiB.")


def _submission(mail: InboundMail) -> dict:
    body = mail.body_text
    if mail.undecryptable:
        body = "\n\n".join(part for part in (UNDECRYPTABLE_NOTE, body) if part)
    files = [IncomingFile(name=name, content=content) for name, content in mail.attachments]
    limit = settings.HAULOUT_REPORT_TEXT_MAX_CHARS
    if len(body) > limit:
        # Kept whole as a file, rather than the report refused for its length.
        files.append(IncomingFile(name="message.txt", content=body.encode("utf-8")))
        body = body[: limit - len(CUT_NOTE)] + CUT_NOTE
    if not body.strip() and files:
        body = NO_TEXT_NOTE
    return {
        "channel": Report.Channel.MAIL,
        "reporter_email": mail.from_address,
        "reporter_name": " ".join(mail.from_name.split())[:200],
        "subject": " ".join(mail.subject.split())[:200] or NO_SUBJECT,
        "body": body,
        "encrypted_original": mail.encrypted_original,
        "signer_fingerprint": mail.signer_fingerprint,
        "mail_message_id": mail.message_id,
        "files": files,
    }


def _one_line(error: Exception) -> str:
    messages = error.messages if isinstance(error, ValidationError) else [str(error)]
    return " ".join(" ".join(messages).split()) or "The message was refused."


def _what(error: BaseException) -> str:
    """The error's type and where it was raised: enough to look into, no content."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f" at {frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else ""
    return f"{type(error).__name__}{where}"


def _how(mail: InboundMail) -> str:
    if mail.undecryptable:
        return "encrypted, not decryptable"
    return "encrypted" if mail.encrypted else "plain"
