"""One copy of a notice as mail: the text inside the encryption, the PGP/MIME bytes around
it, and the SMTP connection a worker reuses for every copy it sends (smtp_send also sends
the reporter's encrypted updates, services/reporter.py).

Nothing here writes to the database except the tracing record of a copy's wording.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from datetime import UTC

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.utils import timezone

from embargo.delivery.variants import delivery_variant
from embargo.models import Delivery
from embargo.tracing import body_render
from pgpmail import HandoffUncertain, message_send, pgp_mime_wire_start, protected_entity

logger = logging.getLogger(__name__)


def _utc(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def notice_plaintext(*, delivery: Delivery, variant=None) -> str:
    """The text inside the encryption; nothing of it appears anywhere else. `variant` is
    the copy's (Variant, ParsedBody) when the caller already has it (a batch reads them
    all at once); otherwise it is read, or derived and recorded, here."""
    notice = delivery.notice
    case = notice.vulnerability
    ack_url = f"{settings.SITE_URL}{delivery.acknowledgement_path}"
    # Each copy words its framing and the author's marked alternatives in its own way,
    # so a leaked copy can be traced to its recipient (embargo/tracing.py).
    variant, parsed = variant or delivery_variant(delivery=delivery)
    lines = [
        notice.subject,
        "",
        variant.wording("greeting"),
        "",
        variant.wording("intro"),
        "",
        f"Case: {case.public_id}" + (f" ({case.cve_id})" if case.cve_id else ""),
        f"Disclosure: {_utc(case.disclosure_at)} ({case.disclosure_at.isoformat()})",
        # The fix's state as it stood when the copy was written (a case row field: no query).
        f"Fix: {case.fix_summary}",
        f"Your reference: {delivery.reference_code}",
        f"{variant.wording('ack_prompt')}: {ack_url}",
    ]
    if notice.revises_id:
        lines.append(f"This updates notice #{notice.revises_id}.")
    lines += [
        "",
        variant.wording("body_lead"),
        "",
        body_render(parsed, variant.body),
        "",
        "-- ",
        variant.wording("closing_embargo"),
        variant.wording("closing_share"),
        "",
        variant.wording("signoff"),
        "The security team",
    ]
    return "\n".join(lines) + "\n"


def notice_wire_start(*, delivery: Delivery, armored: str, variant=None):
    """The copy as it goes on the wire (RFC 3156 PGP/MIME, CRLF line ends), with gpg
    started: the returned PendingWire's result() waits for it, abandon() stops it."""
    from email.utils import format_datetime, formataddr

    from_email = formataddr((settings.SITE_NAME, settings.SECURITY_TEAM_EMAIL))
    entity = protected_entity(
        subject=delivery.notice.subject,
        from_email=from_email,
        to_email=delivery.email,
        message_id=delivery.message_id,
        text=notice_plaintext(delivery=delivery, variant=variant),
    )
    return pgp_mime_wire_start(
        recipient_armored=armored,
        fingerprint=delivery.fingerprint,
        entity=entity,
        outer_subject=delivery.notice.outer_subject,
        from_email=from_email,
        to_email=delivery.email,
        message_id=delivery.message_id,
        headers={"Date": format_datetime(timezone.now())},
    )


def wire_is_encrypted(wire: bytes, *, reference_code: str) -> bool:
    """Fail closed on anything that does not look like an encrypted message, and on any
    sign of the clear text (the reference code is only ever inside the encryption)."""
    head = wire.split(b"\r\n\r\n", 1)[0]
    return (
        b"\r\nContent-Type: multipart/encrypted;" in head
        and b"-----BEGIN PGP MESSAGE-----" in wire
        and reference_code.encode() not in wire
    )


# ---------------------------------------------------------------- SMTP


class _Prebuilt(EmailMessage):
    """Lets Django's mail backends send a message we built ourselves."""

    def __init__(self, wire: bytes, *, from_email: str, to: str):
        super().__init__(from_email=from_email, to=[to])
        self._wire = wire

    def message(self, *args, **kwargs):
        return _Wire(self._wire)


class _Wire:
    """What Django's backends serialise: our bytes, with the line ends they ask for."""

    def __init__(self, wire: bytes):
        self._bytes = wire

    def as_bytes(self, linesep: str = "\n", **kwargs) -> bytes:
        if linesep == "\r\n":
            return self._bytes
        return self._bytes.replace(b"\r\n", linesep.encode())

    def as_string(self, linesep: str = "\n", **kwargs) -> str:
        return self.as_bytes(linesep).decode("ascii", "replace")

    def get_content_type(self) -> str:
        from email.parser import BytesHeaderParser

        return BytesHeaderParser().parsebytes(self._bytes).get_content_type()


_smtp = threading.local()


def _connection():
    # One SMTP connection per worker process (thread), reused across copies and tasks:
    # the handshake costs more than a small message.
    key = (settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT)
    if getattr(_smtp, "key", None) != key or _smtp.connection is None:
        _smtp.connection = get_connection(fail_silently=False)
        _smtp.key = key
    return _smtp.connection


def connection_drop() -> None:
    connection = getattr(_smtp, "connection", None)
    _smtp.connection = None
    if connection is not None:
        try:
            connection.close()
        except Exception:  # already broken; nothing to save
            logger.debug("SMTP connection close failed", exc_info=True)


def smtp_send(wire: bytes, *, from_email: str, to: str, deadline: float | None = None) -> None:
    """Hands one message to the SMTP server. Raises smtplib's errors, OSError, or
    HandoffUncertain when the server may have the message although it never said so.
    `deadline` (time.monotonic()) bounds the whole hand-off."""
    wrapped = _Prebuilt(wire, from_email=from_email, to=to)
    # Plain ASCII addresses need none of the backend's address rewriting, whose parsing
    # cost a tenth of a worker's time per copy: straight onto its open connection,
    # pipelined where the server allows (pgpmail/smtp.py).
    direct = from_email.isascii() and to.isascii()
    for attempt in (1, 2):
        connection = _connection()
        reused = getattr(connection, "connection", None) is not None
        if isinstance(connection, SmtpBackend):
            # A server that does not answer at all must not hold the connect past the
            # deadline either: a timed-out connect is a temporary failure, and counts.
            connection.timeout = settings.EMAIL_TIMEOUT
            if deadline is not None:
                left = deadline - time.monotonic()
                connection.timeout = max(0.5, min(settings.EMAIL_TIMEOUT or left, left))
        try:
            connection.open()
            if direct and isinstance(connection, SmtpBackend):
                message_send(
                    connection.connection,
                    from_addr=from_email,
                    to_addr=to,
                    message=wire,
                    deadline=deadline,
                )
            else:
                _send_through_backend(connection, wrapped)
            return
        except HandoffUncertain:
            connection_drop()
            raise  # never again here: the server may have it
        except smtplib.SMTPServerDisconnected:
            connection_drop()
            # A reused connection the server had closed while idle, noticed before any of
            # the message went out: one fresh try now.
            if not (reused and attempt == 1):
                raise
        except (smtplib.SMTPException, OSError):
            connection_drop()
            raise


def _send_through_backend(connection, message: EmailMessage) -> None:
    """Django's backend (addresses that need its rewriting). It cannot say how far a
    lost connection got, so a lost connection here is taken as possibly delivered."""
    try:
        connection.send_messages([message])
    except smtplib.SMTPServerDisconnected as error:
        raise HandoffUncertain(f"connection lost during the hand-off: {error}") from None


def smtp_code(error: Exception) -> int | None:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return max(codes) if codes else None
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return None  # our configuration, not the recipient: retry, staff fix it
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code
    return None


def smtp_reason(error: Exception) -> str:
    code = smtp_code(error)
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        text = "; ".join(
            f"{code} {message.decode(errors='replace') if isinstance(message, bytes) else message}"
            for code, message in error.recipients.values()
        )
        return f"SMTP refused the recipient: {text}"
    if isinstance(error, smtplib.SMTPResponseException):
        message = error.smtp_error
        if isinstance(message, bytes):
            message = message.decode(errors="replace")
        return f"SMTP {code} {message}"
    return f"SMTP connection problem: {type(error).__name__}"
