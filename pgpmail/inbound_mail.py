"""Mail the MTA pipes in (one RFC 5322 message): what kind it is, who sent it, its text
and files, decrypted with the team key when it was encrypted to it.

- Kinds: "report", or mail that must never become one and never get a receipt (a
  receipt to an automaton is how mail loops start): "loop" (our own mail coming back),
  "bounce" (delivery status notifications) and "auto_reply" (RFC 3834 and the common
  vacation conventions). Only the outer headers decide, and nothing is decrypted for
  mail that is dropped.
- Encryption: PGP/MIME (RFC 3156 multipart/encrypted; the decrypted entity is MIME
  again, its Subject the real one under protected headers) and inline PGP (armored
  blocks in a text/plain part). A message that cannot be decrypted comes back marked
  `undecryptable` with the armor kept, so a caller can keep it for staff.
- Signatures: RFC 3156 multipart/signed (outside or inside the encryption), a signature
  inside the encrypted message, and clearsigned inline text (pgpmail.inbound says what
  is recorded).
"""

from __future__ import annotations

import email
import hashlib
import html
import mimetypes
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parseaddr

from django.conf import settings

from pgpmail.inbound import UndecryptableError, signature_verify, team_message_decrypt_bytes

REPORT, AUTO_REPLY, BOUNCE, LOOP = "report", "auto_reply", "bounce", "loop"
# Walking a message stops after this many parts and this depth: more files than a
# report may have are refused by the caller anyway, and a message of ten thousand tiny
# parts must not cost ten thousand of anything.
_PARTS_MAX = 200
_DEPTH_MAX = 12
# Inline PGP: at most this many armored blocks in one message are decrypted.
_BLOCKS_MAX = 5
_ARMORED = re.compile(r"-----BEGIN PGP MESSAGE-----\r?\n.*?-----END PGP MESSAGE-----", re.DOTALL)
_CLEARSIGNED = re.compile(
    rb"-----BEGIN PGP SIGNED MESSAGE-----\r?\n.*?-----END PGP SIGNATURE-----", re.DOTALL
)
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_TAGS = re.compile(r"<[^>]*>")
# Vacation replies that say so only in the Subject; with X-Auto-Response-Suppress
# (Exchange's mark on mail of its own making) they are auto-replies.
_OUT_OF_OFFICE = re.compile(
    r"^\s*(automatic reply|auto(matic)?[ -]?reply|auto|out of (the )?office|ooo|"
    r"abwesenheitsnotiz|r[ée]ponse automatique|respuesta autom[áa]tica)\b",
    re.IGNORECASE,
)
_AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-AutoReply-From", "X-Mail-Autoreply")
_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
_DAEMONS = {"mailer-daemon", "postmaster"}
# Outer subjects that stand in for the real one in encrypted mail.
_PLACEHOLDER_SUBJECTS = {"", "...", "[...]", "encrypted message", "pep", "p≡p"}
# Parts that carry the OpenPGP machinery, not the reporter's content.
_MACHINERY = {"application/pgp-signature", "application/pgp-encrypted"}


class MailRejected(ValueError):
    """The message cannot be taken at all (too large to read); the text says why in
    general terms, fit for the sender."""


@dataclass(frozen=True)
class InboundMail:
    """One message piped in. For anything but a report only the headers are read:
    body_text and attachments are empty."""

    kind: str
    from_address: str
    from_name: str
    subject: str
    # The Message-ID, or (when the message has none) one made from its bytes, so the
    # same message piped in twice is recognised either way.
    message_id: str
    body_text: str = field(default="", repr=False)
    attachments: list[tuple[str, bytes]] = field(default_factory=list, repr=False)
    encrypted: bool = False
    signer_fingerprint: str = ""
    # The armored OpenPGP message(s) as they arrived, when it was encrypted.
    encrypted_original: str = field(default="", repr=False)
    # Encrypted, but not (all) decryptable with the team key.
    undecryptable: bool = False


@dataclass
class _Content:
    texts: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    armored: list[str] = field(default_factory=list)
    subject: str = ""
    signer: str = ""
    encrypted: bool = False
    undecryptable: bool = False
    parts: int = 0


def mail_size_max() -> int:
    """The largest message taken, in bytes: every attachment a report may have at its
    largest, as base64 carries it (4 bytes for every 3, plus line ends), and a mebibyte
    for the text and the headers."""
    files = settings.HAULOUT_REPORT_ATTACHMENT_MAX_BYTES * settings.HAULOUT_REPORT_ATTACHMENTS_MAX
    return files * 4 // 3 * 78 // 76 + 1024 * 1024


def mail_message_parse(raw: bytes) -> InboundMail:
    """Reads one RFC 5322 message. MailRejected when it is larger than mail_size_max();
    GpgEnvironmentError or TeamKeyError (CryptoError) when it is encrypted and gpg or
    the team key cannot be used right now, so the caller can have the MTA try later."""
    if len(raw) > mail_size_max():
        raise MailRejected(f"The message is larger than {mail_size_max() // (1024 * 1024)} MiB.")
    message = email.message_from_bytes(raw, policy=default_policy)
    from_name, from_address = _sender(message)
    subject = _header(message, "Subject")
    message_id = _message_id(message, raw)
    kind = _kind(message, from_address, subject, message_id)
    if kind != REPORT:
        return InboundMail(kind, from_address, from_name, subject, message_id)
    content = _read(message, raw)
    return InboundMail(
        kind=kind,
        from_address=from_address,
        from_name=from_name,
        subject=content.subject or subject,
        message_id=message_id,
        body_text=_body(content),
        attachments=content.files,
        encrypted=content.encrypted,
        signer_fingerprint=content.signer,
        encrypted_original="\n\n".join(content.armored),
        undecryptable=content.undecryptable,
    )


# ---------------------------------------------------------------- headers and kinds


def _headers(message: EmailMessage, name: str) -> list[str]:
    """Every value of the header, unfolded; [] for one the email package cannot parse
    (its header parser raises on some malformed input instead of recording a defect)."""
    try:
        values = message.get_all(name) or []
        return [" ".join(str(value).split()) for value in values]
    except (IndexError, ValueError, TypeError, AttributeError, LookupError):
        return []


def _header(message: EmailMessage, name: str) -> str:
    values = _headers(message, name)
    return values[0] if values else ""


def _sender(message: EmailMessage) -> tuple[str, str]:
    try:
        header = message.get("From")
        addresses = getattr(header, "addresses", ()) if header is not None else ()
        if addresses:
            return addresses[0].display_name or "", addresses[0].addr_spec or ""
    except (IndexError, ValueError, TypeError, AttributeError, LookupError):
        pass
    name, address = parseaddr(_header(message, "From"))
    return name, address


def _message_id(message: EmailMessage, raw: bytes) -> str:
    found = _MESSAGE_ID.search(_header(message, "Message-ID"))
    if found:
        return found.group(0)
    return f"<sha256-{hashlib.sha256(raw).hexdigest()[:48]}@inbound.invalid>"


def _own_addresses() -> set[str]:
    addresses = {settings.SECURITY_TEAM_EMAIL}
    for configured in (settings.DEFAULT_FROM_EMAIL, settings.SERVER_EMAIL):
        addresses.add(parseaddr(configured or "")[1])
    return {address.strip().lower() for address in addresses if address and "@" in address}


def _kind(message: EmailMessage, sender: str, subject: str, message_id: str) -> str:
    """Which of the four kinds, from the outer headers. Loops first (our own mail, which
    may also look like an auto-reply), then what only automata send."""
    own = _own_addresses()
    loop_marks = [value.lower() for value in _headers(message, "X-Loop")]
    ours = f"@{settings.HAULOUT_MESSAGE_ID_DOMAIN}>".lower()
    if (
        sender.strip().lower() in own
        or any(address in mark for mark in loop_marks for address in own)
        or (message_id.lower().startswith("<intake-") and message_id.lower().endswith(ours))
    ):
        return LOOP
    content_type = message.get_content_type()
    report_type = str(message.get_param("report-type") or "").lower()
    if content_type == "multipart/report" and report_type == "delivery-status":
        return BOUNCE
    if sender.split("@", 1)[0].strip().lower() in _DAEMONS or _headers(
        message, "X-Failed-Recipients"
    ):
        return BOUNCE
    if _auto_replied(message, subject) or (
        content_type == "multipart/report" and report_type == "disposition-notification"
    ):
        return AUTO_REPLY
    # A null envelope sender (RFC 5321 4.5.5): only notifications are sent with one.
    if any(value.strip() in ("<>", "") for value in _headers(message, "Return-Path")):
        return BOUNCE
    return REPORT


def _auto_replied(message: EmailMessage, subject: str) -> bool:
    for value in _headers(message, "Auto-Submitted"):
        if value.split(";", 1)[0].strip().lower() not in ("", "no"):
            return True
    if any(_headers(message, name) for name in _AUTO_REPLY_HEADERS):
        return True
    if any(value.strip().lower() in _BULK_PRECEDENCE for value in _headers(message, "Precedence")):
        return True
    # X-Auto-Response-Suppress alone is on much ordinary Outlook mail: with it, only a
    # vacation Subject makes an auto-reply.
    return bool(_headers(message, "X-Auto-Response-Suppress")) and bool(
        _OUT_OF_OFFICE.match(subject)
    )


# ---------------------------------------------------------------- content


def _read(message: EmailMessage, raw: bytes) -> _Content:
    content = _Content()
    if _is_pgp_mime(message):
        _encrypted_open(message, content)
    elif _is_signed(message):
        _signed_open(message, raw, content)
    else:
        _walk(message, content, 0)
    return content


def _is_pgp_mime(entity: EmailMessage) -> bool:
    return (
        entity.get_content_type() == "multipart/encrypted"
        and str(entity.get_param("protocol") or "").lower() == "application/pgp-encrypted"
    )


def _is_signed(entity: EmailMessage) -> bool:
    return (
        entity.get_content_type() == "multipart/signed"
        and str(entity.get_param("protocol") or "").lower() == "application/pgp-signature"
    )


def _encrypted_open(message: EmailMessage, content: _Content) -> None:
    """RFC 3156 section 4: a version part, then the armored message as
    application/octet-stream; the plaintext is a MIME entity of its own."""
    content.encrypted = True
    parts = list(message.iter_parts())
    armored = parts[1].get_payload(decode=True) if len(parts) == 2 else None
    if not armored:
        content.undecryptable = True
        return
    content.armored.append(armored.decode("ascii", "replace"))
    try:
        plaintext, content.signer = team_message_decrypt_bytes(armored=armored)
    except UndecryptableError:
        content.undecryptable = True
        return
    inner = email.message_from_bytes(plaintext, policy=default_policy)
    inner_subject = _header(inner, "Subject")
    outer_subject = _header(message, "Subject")
    if inner_subject and (
        inner.get_param("protected-headers") is not None
        or outer_subject.lower() in _PLACEHOLDER_SUBJECTS
    ):
        content.subject = inner_subject
    if _is_signed(inner):  # RFC 3156 6.1: signed, then encrypted
        _signed_open(inner, plaintext, content)
    else:
        _walk(inner, content, 0)


def _signed_open(entity: EmailMessage, raw: bytes, content: _Content) -> None:
    """RFC 3156 section 5: the signed part exactly as it was sent, line ends made CRLF,
    and the detached signature beside it."""
    parts = list(entity.iter_parts())
    if len(parts) != 2:
        _walk(entity, content, 0)
        return
    signed, signature = parts
    data = _first_part_bytes(raw, entity.get_boundary() or "")
    if data is not None and signature.get_content_type() == "application/pgp-signature":
        canonical = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        found = signature_verify(
            data=canonical, signature=signature.get_payload(decode=True) or b""
        )
        content.signer = found or content.signer
    _walk(signed, content, 0)


def _first_part_bytes(raw: bytes, boundary: str) -> bytes | None:
    """The first body part of the multipart entity `raw`, byte for byte (RFC 2046 5.1.1:
    the line end before a delimiter belongs to the delimiter)."""
    if not boundary:
        return None
    head_end = re.search(rb"\r?\n\r?\n", raw)
    if head_end is None:
        return None
    body = raw[head_end.end() :]
    delimiter = re.compile(
        rb"(?:\A|\r?\n)--" + re.escape(boundary.encode("ascii", "replace")) + rb"(?:--)?[ \t]*"
        rb"(?=\r?\n|\Z)"
    )
    first = delimiter.search(body)
    if first is None:
        return None
    start = first.end()
    start += 2 if body[start : start + 2] == b"\r\n" else 1
    second = delimiter.search(body, start)
    return body[start : second.start()] if second is not None else None


def _walk(entity: EmailMessage, content: _Content, depth: int) -> None:
    content.parts += 1
    if content.parts > _PARTS_MAX or depth > _DEPTH_MAX:
        return
    content_type = entity.get_content_type()
    if content_type == "message/rfc822":  # a forwarded message: kept whole, as a file
        inner = entity.get_payload()
        data = inner[0].as_bytes() if isinstance(inner, list) and inner else b""
        content.files.append((_filename(entity) or "forwarded-message.eml", data))
    elif entity.is_multipart():
        for part in entity.iter_parts():
            _walk(part, content, depth + 1)
    else:
        _leaf(entity, content)


def _leaf(part: EmailMessage, content: _Content) -> None:
    content_type = part.get_content_type()
    if content_type in _MACHINERY or (
        # Thunderbird's copy of the protected headers, for clients that do not read them.
        content_type == "text/rfc822-headers" and part.get_param("protected-headers") is not None
    ):
        return
    filename = _filename(part)
    attached = part.get_content_disposition() == "attachment" or bool(filename)
    if not attached and content_type == "text/plain":
        content.texts.append(_inline_pgp(part, _text(part), content))
    elif not attached and content_type == "text/html":
        content.html.append(_text(part))
    else:
        data = part.get_payload(decode=True) or b""
        name = filename or f"attachment-{len(content.files) + 1}{_extension(content_type)}"
        content.files.append((name, data))


def _filename(part: EmailMessage) -> str:
    try:
        return str(part.get_filename() or "")
    except (IndexError, ValueError, TypeError, AttributeError, LookupError):
        return ""


def _extension(content_type: str) -> str:
    return mimetypes.guess_extension(content_type) or ".bin"


def _text(part: EmailMessage) -> str:
    try:
        text = part.get_content()
    except (LookupError, ValueError, TypeError, AttributeError):  # an unknown charset
        text = None
    if not isinstance(text, str):
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return text.replace("\r\n", "\n")


def _inline_pgp(part: EmailMessage, text: str, content: _Content) -> str:
    """Armored blocks in a text part decrypted in place; a clearsigned text checked."""
    blocks = _ARMORED.findall(text)[:_BLOCKS_MAX]
    for block in blocks:
        content.encrypted = True
        content.armored.append(block)
        try:
            plaintext, signer = team_message_decrypt_bytes(armored=block)
        except UndecryptableError:
            content.undecryptable = True
            text = text.replace(block, "", 1)
            continue
        content.signer = content.signer or signer
        text = text.replace(block, plaintext.decode("utf-8", "replace").strip(), 1)
    if not blocks and "-----BEGIN PGP SIGNED MESSAGE-----" in text:
        payload = part.get_payload(decode=True) or b""
        signed = _CLEARSIGNED.search(payload)
        if signed is not None:
            content.signer = content.signer or signature_verify(data=signed.group(0))
    return text


def _body(content: _Content) -> str:
    texts = [text.strip() for text in content.texts if text.strip()]
    if not texts:  # HTML only: its text, without the markup
        texts = [html.unescape(_TAGS.sub(" ", text)).strip() for text in content.html]
    return "\n\n".join(text for text in texts if text)
