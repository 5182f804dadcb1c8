"""Sending one person's copy of a notice, and the sweeper that makes sure every copy goes.

At-least-once without loss, and never twice at the same time:
- a task claims its row with a conditional UPDATE (pending -> sending); a second task for
  the same row, or a second worker, finds nothing to claim and stops;
- the claim number (attempts) fences a slow worker out of a row the sweeper handed on;
- a row whose task was lost (broker down, worker killed) is queued again by the sweeper,
  with the same Message-ID, so a rare duplicate is recognisable as the same message.

Logs name delivery ids and reasons only, never a subject, body or address.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from datetime import UTC, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime, formataddr

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from distributors.audit import audit_record
from distributors.eligibility import eligibility_for_member
from distributors.models import TeamMember

from ..models import Delivery, Notice, Vulnerability

logger = logging.getLogger(__name__)

# Reasons the send path adds to the eligibility selector's own.
KEY_CHANGED = "key_changed"
MEMBERSHIP_GONE = "membership_gone"
CASE_CLOSED = "case_rejected"
REASON_LABELS = {
    KEY_CHANGED: "The person's verified key changed after the notice was sent.",
    MEMBERSHIP_GONE: "The person is no longer in the organisation.",
    CASE_CLOSED: "The case was rejected before this copy went out.",
}


class DeliveryDeferred(Exception):
    """A temporary failure: the row is pending again and the task should retry soon."""


# ---------------------------------------------------------------- queueing


_PUBLISH_RETRY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}


def queue_or_log(task, *args) -> bool:
    """Queues a task; if the broker is unreachable, logs that (ids only) and carries on.
    Callers rely on the sweeper, or a later run of a periodic task, to catch up."""
    try:
        # One quick reconnect (a pooled connection may predate a broker restart), then
        # give up: with the broker down the caller must not stall.
        task.apply_async(args=args, retry=True, retry_policy=_PUBLISH_RETRY)
    except Exception as error:  # any broker or connection error
        logger.warning(
            "Could not queue %s%r: %s; a periodic task will pick it up.",
            task.name,
            args,
            type(error).__name__,
        )
        return False
    return True


def deliveries_enqueue(*, notice_id: int | None = None, delivery_ids=None) -> int:
    """Queues a send task per pending row (of a notice, or the given ids). Stops at the
    first broker error: the rows stay pending and the sweeper retries them."""
    from ..tasks import delivery_send_task

    if delivery_ids is None:
        delivery_ids = list(
            Delivery.objects.filter(notice_id=notice_id, state=Delivery.State.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    queued = 0
    for delivery_id in delivery_ids:
        if not queue_or_log(delivery_send_task, delivery_id):
            logger.warning(
                "Queued %d of %d deliveries; the rest stay pending for the sweeper.",
                queued,
                len(delivery_ids),
            )
            break
        queued += 1
    return queued


def deliveries_sweep(*, now=None) -> int:
    """Queues again every copy left behind: pending too long since it was last queued, or
    claimed by a worker that never finished (killed, or lost its connection)."""
    now = now or timezone.now()
    pending_cutoff = now - timedelta(seconds=settings.HAULOUT_DELIVERY_PENDING_TIMEOUT)
    sending_cutoff = now - timedelta(seconds=settings.HAULOUT_DELIVERY_SENDING_TIMEOUT)
    stuck = list(
        Delivery.objects.filter(state=Delivery.State.SENDING, claimed_at__lt=sending_cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    if stuck:
        # Conditional, like the claim: a worker that finishes meanwhile keeps its result.
        Delivery.objects.filter(
            pk__in=stuck, state=Delivery.State.SENDING, claimed_at__lt=sending_cutoff
        ).update(state=Delivery.State.PENDING, queued_at=pending_cutoff)
        logger.warning("Released %d deliveries whose worker never finished.", len(stuck))
    waiting = list(
        Delivery.objects.filter(state=Delivery.State.PENDING, queued_at__lte=pending_cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:5000]
    )
    if waiting:
        Delivery.objects.filter(pk__in=waiting, state=Delivery.State.PENDING).update(queued_at=now)
        deliveries_enqueue(delivery_ids=waiting)
    # A notice whose last rows were finished by this sweep, or by a worker that died just
    # before it could mark the notice, is closed here.
    for notice_id in Notice.objects.filter(state=Notice.State.SENDING).values_list("pk", flat=True):
        notice_finish_if_done(notice_id=notice_id)
    return len(waiting)


# ---------------------------------------------------------------- state changes


def _finish(delivery: Delivery, *, attempt: int, state: str, reason: str = "", reasons=()) -> bool:
    now = timezone.now()
    with transaction.atomic():
        changed = Delivery.objects.filter(
            pk=delivery.pk, state=Delivery.State.SENDING, attempts=attempt
        ).update(
            state=state,
            failure_reason=reason[:500],
            reasons=list(reasons),
            finished_at=now,
            sent_at=now if state == Delivery.State.SENT else None,
        )
        if changed:
            data = {"attempt": attempt}
            if reason:
                data["reason"] = reason[:500]
            if reasons:
                data["reasons"] = list(reasons)
            audit_record(
                actor=None,
                action=f"delivery.{state}",
                target=delivery,
                organization=delivery.organization,
                data=data,
            )
    if changed and state != Delivery.State.SENT:
        logger.info("Delivery %s %s: %s", delivery.pk, state, reason or ",".join(reasons))
    if changed:
        notice_finish_if_done(notice_id=delivery.notice_id)
    return bool(changed)


def _defer(delivery: Delivery, *, attempt: int, reason: str) -> None:
    if attempt >= settings.HAULOUT_DELIVERY_MAX_ATTEMPTS:
        _finish(
            delivery,
            attempt=attempt,
            state=Delivery.State.FAILED,
            reason=f"Gave up after {attempt} temporary failures; last: {reason}",
        )
        return
    # queued_at restarts the sweeper's clock: the retry is already on its way.
    Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING, attempts=attempt).update(
        state=Delivery.State.PENDING, queued_at=timezone.now(), failure_reason=reason[:500]
    )
    logger.info("Delivery %s deferred (attempt %d): %s", delivery.pk, attempt, reason)
    raise DeliveryDeferred(reason)


def notice_finish_if_done(*, notice_id: int) -> bool:
    # Whoever commits the last open row sees every other row final, so one caller wins.
    if Delivery.objects.filter(notice_id=notice_id, state__in=Delivery.OPEN_STATES).exists():
        return False
    with transaction.atomic():
        now = timezone.now()
        changed = Notice.objects.filter(pk=notice_id, state=Notice.State.SENDING).update(
            state=Notice.State.SENT, sent_at=now, updated_at=now
        )
        if changed:
            counts: dict[str, int] = {}
            for state in Delivery.objects.filter(notice_id=notice_id).values_list(
                "state", flat=True
            ):
                counts[state] = counts.get(state, 0) + 1
            audit_record(actor=None, action="notice.sent", target=Notice(pk=notice_id), data=counts)
    return bool(changed)


# ---------------------------------------------------------------- the message


def _utc(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def notice_plaintext(*, delivery: Delivery) -> str:
    """The text inside the encryption; nothing of it appears anywhere else."""
    from ..tracing import body_render
    from .tracing import delivery_variant

    notice = delivery.notice
    case = notice.vulnerability
    ack_url = f"{settings.SITE_URL}{delivery.acknowledgement_path}"
    # Each copy words its framing and the author's marked alternatives in its own way,
    # so a leaked copy can be traced to its recipient (embargo/tracing.py).
    variant, parsed = delivery_variant(delivery=delivery)
    lines = [
        notice.subject,
        "",
        variant.wording("greeting"),
        "",
        variant.wording("intro"),
        "",
        f"Case: {case.public_id}" + (f" ({case.cve_id})" if case.cve_id else ""),
        f"Disclosure: {_utc(case.disclosure_at)} ({case.disclosure_at.isoformat()})",
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


def notice_message(*, delivery: Delivery, armored: str) -> MimeMessage:
    from ..crypto import pgp_mime_message

    inner = MimeMessage()
    # Protected headers: mail clients that understand them show the real subject.
    inner["Subject"] = delivery.notice.subject
    inner.set_content(notice_plaintext(delivery=delivery))
    inner.set_param("protected-headers", "v1")
    return pgp_mime_message(
        recipient_armored=armored,
        fingerprint=delivery.fingerprint,
        inner=inner,
        outer_subject=delivery.notice.outer_subject,
        from_email=formataddr((settings.SITE_NAME, settings.SECURITY_TEAM_EMAIL)),
        to_email=delivery.email,
        message_id=delivery.message_id,
        headers={"Date": format_datetime(timezone.now())},
    )


class _Prebuilt(EmailMessage):
    """Lets Django's mail backends send a MIME message we built ourselves."""

    def __init__(self, mime: MimeMessage, *, from_email: str, to: str):
        super().__init__(from_email=from_email, to=[to])
        self._mime = mime

    def message(self, *args, **kwargs):
        return _Wire(self._mime)


class _Wire:
    """What Django's SMTP backend serialises: our message, with CRLF line ends."""

    def __init__(self, mime: MimeMessage):
        self._mime = mime

    def as_bytes(self, linesep: str = "\n", **kwargs) -> bytes:
        return self._mime.as_bytes(policy=self._mime.policy.clone(linesep=linesep))

    def __getattr__(self, name):
        return getattr(self._mime, name)


_smtp = threading.local()


def _connection():
    # One SMTP connection per worker process (thread), reused across tasks: the
    # handshake costs more than a small message.
    key = (settings.EMAIL_BACKEND, getattr(settings, "EMAIL_HOST", ""), settings.EMAIL_PORT)
    if getattr(_smtp, "key", None) != key or _smtp.connection is None:
        _smtp.connection = get_connection(fail_silently=False)
        _smtp.key = key
    return _smtp.connection


def _connection_drop() -> None:
    connection = getattr(_smtp, "connection", None)
    _smtp.connection = None
    if connection is not None:
        try:
            connection.close()
        except Exception:  # already broken; nothing to save
            logger.debug("SMTP connection close failed", exc_info=True)


def _smtp_send(message: MimeMessage, *, from_email: str, to: str) -> None:
    wrapped = _Prebuilt(message, from_email=from_email, to=to)
    for attempt in (1, 2):
        connection = _connection()
        reused = getattr(connection, "connection", None) is not None
        try:
            connection.open()
            connection.send_messages([wrapped])
            return
        except smtplib.SMTPServerDisconnected:
            _connection_drop()
            # A reused connection the server had closed while idle: one fresh try now.
            if not (reused and attempt == 1):
                raise
        except (smtplib.SMTPException, OSError):
            _connection_drop()
            raise


def _smtp_code(error: Exception) -> int | None:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return max(codes) if codes else None
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return None  # our configuration, not the recipient: retry, staff fix it
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code
    return None


def _smtp_reason(error: Exception) -> str:
    code = _smtp_code(error)
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


# ---------------------------------------------------------------- the send


def delivery_send(*, delivery_id: int) -> str:
    """Claims, checks, encrypts, signs and sends one copy. Returns the row's new state,
    or "skipped" when there was nothing to claim. Raises DeliveryDeferred to retry."""
    from ..crypto import CryptoError

    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, state=Delivery.State.PENDING).update(
        state=Delivery.State.SENDING, claimed_at=now, attempts=F("attempts") + 1
    )
    if not claimed:
        return "skipped"
    delivery = Delivery.objects.select_related("notice__vulnerability", "organization").get(
        pk=delivery_id
    )
    attempt = delivery.attempts
    case = delivery.notice.vulnerability

    def finish(state, reason="", reasons=()):
        _finish(delivery, attempt=attempt, state=state, reason=reason, reasons=reasons)
        return state

    if case.state == Vulnerability.State.REJECTED:
        return finish(Delivery.State.CANCELLED, reasons=[CASE_CLOSED])
    # Eligibility again, now: an organisation can be suspended, a key revoked or a
    # policy lapsed between "send" and this copy's turn.
    if delivery.member_id is None:
        return finish(Delivery.State.CANCELLED, reasons=[MEMBERSHIP_GONE])
    try:
        eligibility = eligibility_for_member(
            team_member_id=delivery.member_id, disclosure_at=case.disclosure_at
        )
    except TeamMember.DoesNotExist:
        return finish(Delivery.State.CANCELLED, reasons=[MEMBERSHIP_GONE])
    if not eligibility.eligible:
        return finish(Delivery.State.CANCELLED, reasons=eligibility.reasons)
    key = eligibility.key
    if key is None or not delivery.fingerprint or key.fingerprint != delivery.fingerprint:
        return finish(Delivery.State.CANCELLED, reasons=[KEY_CHANGED])

    try:
        message = notice_message(delivery=delivery, armored=key.armored)
        wire = message.as_bytes()
    except CryptoError as error:
        return finish(Delivery.State.FAILED, reason=f"Encryption failed: {error}")
    # Fail closed on anything that does not look like an encrypted message, and on any
    # sign of the clear text (the reference code is only ever inside the encryption).
    if (
        b"-----BEGIN PGP MESSAGE-----" not in wire
        or message.get_content_type() != "multipart/encrypted"
        or delivery.reference_code.encode() in wire
    ):
        return finish(Delivery.State.FAILED, reason="Encryption produced no usable message.")

    try:
        _smtp_send(message, from_email=settings.SECURITY_TEAM_EMAIL, to=delivery.email)
    except (smtplib.SMTPException, OSError) as error:
        code = _smtp_code(error)
        reason = _smtp_reason(error)
        if code is not None and code >= 500:
            return finish(Delivery.State.FAILED, reason=reason)
        _defer(delivery, attempt=attempt, reason=reason)
        return Delivery.State.FAILED  # reached only when attempts ran out
    except Exception as error:
        # Unforeseen: give the row back (the attempt limit ends a repeating fault) rather
        # than leave it claimed until the sweeper's timeout.
        # The type only: an exception's text could quote the message it choked on.
        logger.error("Delivery %s: unexpected %s while sending", delivery.pk, type(error).__name__)
        _defer(delivery, attempt=attempt, reason=f"Unexpected error: {type(error).__name__}")
        return Delivery.State.FAILED
    return finish(Delivery.State.SENT)
