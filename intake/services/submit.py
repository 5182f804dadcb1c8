"""Receiving a report, through either door (the form or mail piped in)."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audit_record
from core.calendar import business_days_add
from core.queue import task_queue_after_commit
from intake.models import Report, ReportAttachment, ReportMessage, attachment_storage
from intake.tokens import reference_new, secret_new
from pgpmail import CryptoError, key_inspect, team_message_decrypt

logger = logging.getLogger(__name__)

# The structured questions of the form; a mailed report has its text in `body`.
STRUCTURED_FIELDS = (
    "reporter_affiliation",
    "reproduce",
    "effects",
    "impact",
    "others_involved",
    "disclosure_plans",
    "credit_as",
)
_SHORT = {"reporter_name": 200, "reporter_affiliation": 200, "subject": 200, "credit_as": 200}
NOT_DECRYPTED = (
    "We could not decrypt this message with the security team's key. Check that it was "
    "encrypted to the key published on this site, or send the report unencrypted."
)


@dataclass(frozen=True)
class IncomingFile:
    name: str
    content: bytes

    @property
    def size(self) -> int:
        return len(self.content)


def report_submit(
    *,
    channel: str,
    reporter_email: str,
    subject: str,
    reporter_name: str = "",
    body: str = "",
    encrypted_message: str = "",
    encrypted_original: str = "",
    signer_fingerprint: str = "",
    reporter_public_key: str = "",
    exposure: str = Report.Exposure.UNKNOWN,
    credit_wanted: bool = False,
    mail_message_id: str = "",
    files: Sequence[IncomingFile] = (),
    client_address: str | None = None,
    **structured: str,
) -> Report:
    """Stores a report and queues its receipt. `encrypted_message` (the form's paste) is
    decrypted with the team key here and refused if it cannot be; a mailed message was
    decrypted by the caller, which passes the text as `body` and the armor as
    `encrypted_original`. The same mail Message-ID twice returns the first report."""
    mail_message_id = (mail_message_id or "").strip()[:255]
    if mail_message_id and (
        known := Report.objects.filter(mail_message_id=mail_message_id).first()
    ):
        return known
    fields = _fields_clean(
        channel=channel,
        reporter_email=reporter_email,
        reporter_name=reporter_name,
        subject=subject,
        body=body,
        exposure=exposure,
        structured=structured,
    )
    files_check(files)
    fields.update(_key_fields(reporter_public_key, fields["reporter_email"]))
    if (encrypted_message or "").strip():
        fields.update(_decrypted(encrypted_message.strip(), fields["body"]))
    elif encrypted_original:
        fields["encrypted_original"] = encrypted_original
    if not any(fields.get(name) for name in ("body", "reproduce", "effects", "impact")):
        raise ValidationError(
            {"reproduce": ["Tell us what you found: the steps to reproduce it at least."]}
        )
    if channel == Report.Channel.WEB:
        _rate_consume(fields["reporter_email"], client_address)
    fields.setdefault("signer_fingerprint", (signer_fingerprint or "").strip().upper()[:40])
    try:
        return _store(fields, files, mail_message_id=mail_message_id, credit_wanted=credit_wanted)
    except IntegrityError:
        # The same message piped in twice at once: the other run stored it.
        known = Report.objects.filter(mail_message_id=mail_message_id).first()
        if mail_message_id and known:
            return known
        raise


def _fields_clean(
    *, channel, reporter_email, reporter_name, subject, body, exposure, structured
) -> dict:
    unknown = set(structured) - set(STRUCTURED_FIELDS)
    if unknown:
        raise TypeError(f"Unknown report fields: {sorted(unknown)}")
    if channel not in Report.Channel.values:
        raise TypeError(f"Unknown channel {channel!r}")
    errors: dict[str, list[str]] = {}
    fields = {"channel": channel}
    texts = {"reporter_name": reporter_name, "subject": subject, "body": body, **structured}
    for name, value in texts.items():
        value = (value or "").strip()
        limit = _SHORT.get(name, settings.HAULOUT_REPORT_TEXT_MAX_CHARS)
        if len(value) > limit:
            errors.setdefault(name, []).append(f"At most {limit:,} characters, please.")
        fields[name] = value
    if not fields["subject"]:
        errors.setdefault("subject", []).append("Give the report a short descriptive subject.")
    fields["reporter_email"] = (reporter_email or "").strip().lower()
    try:
        validate_email(fields["reporter_email"])
    except ValidationError:
        errors.setdefault("reporter_email", []).append(
            "Enter an address we can answer you at: the first response goes there."
        )
    if exposure not in Report.Exposure.values:
        errors.setdefault("exposure", []).append("Choose one of the answers.")
    fields["exposure"] = exposure
    if errors:
        raise ValidationError(errors)
    return fields


def files_check(files: Sequence) -> None:
    """Refuses too many files or one too large, naming the limit; nothing is stored.
    Anything with a `name` and a `size` will do: the form checks its uploads before
    reading them."""
    most, largest = (
        settings.HAULOUT_REPORT_ATTACHMENTS_MAX,
        settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES,
    )
    if len(files) > most:
        raise ValidationError(
            {"attachments": [f"At most {most} files at a time, please; you sent {len(files)}."]}
        )
    for incoming in files:
        if incoming.size > largest:
            raise ValidationError(
                {
                    "attachments": [
                        f"{file_name_clean(incoming.name)} is larger than "
                        f"{largest // (1024 * 1024)} MiB. Nothing was stored; send a smaller "
                        "file or a link to it."
                    ]
                }
            )


def file_name_clean(name: str) -> str:
    """The last part of the name the sender gave, printable, at most 200 characters."""
    base = PurePath((name or "").replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '"<>')
    return base.strip()[:200] or "attachment"


def _key_fields(armored: str, email: str) -> dict:
    armored = (armored or "").strip()
    if not armored:
        return {}
    try:
        report = key_inspect(armored=armored, account_email=email or None)
    except ValidationError as error:
        raise ValidationError({"reporter_public_key": error.messages}) from None
    return {"reporter_public_key": report.armored, "reporter_key_fingerprint": report.fingerprint}


def _decrypted(armored: str, body: str) -> dict:
    if "-----BEGIN PGP MESSAGE-----" not in armored:
        raise ValidationError({"encrypted_message": ["Paste the whole armored PGP message."]})
    if len(armored) > settings.HAULOUT_REPORT_TEXT_MAX_CHARS * 2:
        raise ValidationError({"encrypted_message": ["This message is too long to paste."]})
    try:
        opened = team_message_decrypt(armored=armored)
    except CryptoError as error:
        logger.info("A pasted report could not be decrypted: %s", type(error).__name__)
        raise ValidationError({"encrypted_message": [NOT_DECRYPTED]}) from None
    text = "\n\n".join(part for part in (body, opened.text.strip()) if part)
    return {
        "body": text,
        "encrypted_original": armored,
        "signer_fingerprint": opened.signer_fingerprint,
    }


def _rate_consume(email: str, client_address: str | None) -> None:
    """At most HAULOUT_REPORTS_PER_HOUR reports an hour from one contact address and from
    one client address (a fixed clock hour, in the shared cache). Counted only for reports
    that passed every other check, so a typo does not use up a reporter's allowance."""
    limit = settings.HAULOUT_REPORTS_PER_HOUR
    window = int(time.time() // 3600)
    for kind, value in (("email", email), ("client", client_address)):
        if not value:
            continue
        digest = hashlib.sha256(value.encode()).hexdigest()[:32]
        name = f"haulout:reports:{kind}:{digest}:{window}"
        cache.add(name, 0, timeout=3600 + 60)
        try:
            count = cache.incr(name)
        except ValueError:
            cache.set(name, 1, timeout=3600 + 60)
            count = 1
        if count > limit:
            raise ValidationError(
                f"Too many reports from you in the last hour (at most {limit}). Nothing was "
                f"stored. Please try again later, or write to {settings.SECURITY_TEAM_EMAIL}."
            )


def _store(fields: dict, files, *, mail_message_id: str, credit_wanted: bool) -> Report:
    saved: list[str] = []
    try:
        with transaction.atomic():
            now = timezone.now()
            report = Report.objects.create(
                reference=reference_new(),
                secret=secret_new(),
                mail_message_id=mail_message_id,
                credit_wanted=credit_wanted,
                received_at=now,
                first_response_warn_at=business_days_add(
                    start=now, days=settings.HAULOUT_REPORT_WARN_BUSINESS_DAYS
                ),
                first_response_due_at=business_days_add(
                    start=now, days=settings.HAULOUT_REPORT_ANSWER_BUSINESS_DAYS
                ),
                **fields,
            )
            attachments_store(report=report, message=None, files=files, saved=saved)
            audit_record(
                actor=None,
                action="report.received",
                target=report,
                data={"channel": report.channel, "files": len(files)},
            )
            task_queue_after_commit("intake.tasks.report_receipt_task", report.pk)
    except BaseException:
        # The row is gone with the transaction; so must be its files.
        for name in saved:
            attachment_storage.delete(name)
        raise
    return report


def attachments_store(
    *, report: Report, message: ReportMessage | None, files, saved: list[str]
) -> None:
    """Writes each file under a random name (never the sender's) and records it; the
    names written are appended to `saved` so a failed transaction can remove them."""
    for incoming in files:
        stored_name = attachment_storage.save(
            f"{report.pk}/{uuid.uuid4().hex}", ContentFile(incoming.content)
        )
        saved.append(stored_name)
        ReportAttachment.objects.create(
            report=report,
            message=message,
            name=file_name_clean(incoming.name),
            file=stored_name,
            size=len(incoming.content),
            sha256=hashlib.sha256(incoming.content).hexdigest(),
        )
