"""The PGP/MIME envelope (RFC 3156) around a message that pgpmail.crypto seals: the
protected inner entity, the outer headers that every mail server on the way reads, and
the multipart/encrypted structure. Nothing here sees a key; every failure is a
crypto.CryptoError, and there is no way to build a message without the sealed part."""

from __future__ import annotations

import base64
import copy
import email
import re
import secrets
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.policy import default as default_policy

from pgpmail import crypto


def protected_entity(
    *, subject: str, from_email: str, to_email: str, message_id: str, text: str
) -> bytes:
    """The MIME entity that gets encrypted: the real headers (protected headers,
    draft-autocrypt-lamps-protected-headers) and the text, CRLF line ends.

    Built from bytes rather than with the email package: the same result for a notice,
    at a fraction of the cost per copy (benchmarks/fanout.py)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if text.isascii() and max(len(line) for line in lines) <= 998:
        encoding, body = "7bit", "\r\n".join(lines).encode("ascii")
    else:
        encoding = "base64"
        # Lines of 76, as base64.encodebytes() writes them, cut from one encoding: that
        # function encodes 57 bytes per call.
        raw = base64.b64encode(text.encode("utf-8"))
        body = b"\r\n".join(raw[start : start + 76] for start in range(0, len(raw), 76))
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    return b"".join(
        (
            b'Content-Type: text/plain; charset="utf-8"; protected-headers="v1"\r\n',
            b"Content-Transfer-Encoding: " + encoding.encode() + b"\r\n",
            b"MIME-Version: 1.0\r\n",
            _header("Subject", subject),
            _header("From", from_email),
            _header("To", to_email),
            _header("Message-ID", message_id),
            b"\r\n",
            body,
        )
    )


def pgp_mime_wire(**kwargs) -> bytes:
    """RFC 3156 multipart/encrypted mail, as the bytes that go on the wire (CRLF).
    `entity` (a MIME entity, real Subject included) is encrypted whole; the outer
    Subject is the generic one. Arguments: those of pgp_mime_wire_start()."""
    return pgp_mime_wire_start(**kwargs).result()


def pgp_mime_wire_start(
    *,
    recipient_armored: str,
    fingerprint: str,
    entity: bytes,
    outer_subject: str,
    from_email: str,
    to_email: str,
    message_id: str,
    headers: dict[str, str] | None = None,
) -> PendingWire:
    """pgp_mime_wire() with gpg started and the mail not yet assembled: result() waits."""
    extra = []
    for name, value in (headers or {}).items():
        if name.lower() in _OWN_HEADERS:
            raise crypto.CryptoError(f"header {name} is set by pgp_mime_message itself")
        extra.append(_header(name, value))
    outer = [
        _header("Subject", outer_subject),
        _header("From", from_email),
        _header("To", to_email),
        _header("Message-ID", message_id),
        *extra,
    ]
    # Through the module: tests replace crypto.notice_seal_start to inject faults.
    sealing = crypto.notice_seal_start(
        recipient_armored=recipient_armored, fingerprint=fingerprint, plaintext=entity
    )
    return PendingWire(sealing, outer)


class PendingWire:
    def __init__(self, sealing: crypto.Sealing, outer_headers: list[bytes]):
        self._sealing, self._outer = sealing, outer_headers

    def abandon(self) -> None:
        self._sealing.abandon()

    def result(self) -> bytes:
        armored = self._sealing.result()
        boundary = f"haulout-{secrets.token_hex(12)}".encode()
        armored = armored.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if not armored.endswith(b"\r\n"):
            armored += b"\r\n"
        return b"".join(
            (
                *self._outer,
                b"MIME-Version: 1.0\r\n",
                b'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\r\n'
                b' boundary="' + boundary + b'"\r\n',
                b"\r\n",
                b"This is an OpenPGP/MIME encrypted message (RFC 3156).\r\n",
                b"--" + boundary + b"\r\n",
                b"Content-Type: application/pgp-encrypted\r\n",
                b"Content-Description: PGP/MIME version identification\r\n",
                b"\r\n",
                b"Version: 1\r\n",
                b"\r\n",
                b"--" + boundary + b"\r\n",
                b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n',
                b"Content-Description: OpenPGP encrypted message\r\n",
                b'Content-Disposition: inline; filename="encrypted.asc"\r\n',
                b"\r\n",
                armored,
                b"\r\n--" + boundary + b"--\r\n",
            )
        )


def pgp_mime_message(
    *,
    recipient_armored: str,
    fingerprint: str,
    inner: Message,
    outer_subject: str,
    from_email: str,
    to_email: str,
    message_id: str,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """RFC 3156 multipart/encrypted mail. The whole `inner` entity, real Subject
    included (protected headers), is encrypted; the outer Subject is the generic one."""
    inner = copy.deepcopy(inner)
    if inner["Subject"] is None:
        raise crypto.CryptoError("the inner message needs its real Subject")
    # Protected headers (draft-autocrypt-lamps-protected-headers): the encrypted part
    # carries the true headers so the recipient's client can show them.
    for name, value in (("From", from_email), ("To", to_email), ("Message-ID", message_id)):
        if inner[name] is None:
            inner[name] = value
    if inner.get_param("protected-headers") is None and inner["Content-Type"] is not None:
        inner.set_param("protected-headers", "v1")
    wire = pgp_mime_wire(
        recipient_armored=recipient_armored,
        fingerprint=fingerprint,
        entity=inner.as_bytes(policy=SMTP),
        outer_subject=outer_subject,
        from_email=from_email,
        to_email=to_email,
        message_id=message_id,
        headers=headers,
    )
    return email.message_from_bytes(wire, policy=default_policy)


_OWN_HEADERS = frozenset({"subject", "from", "to", "message-id", "content-type", "mime-version"})
# Printable ASCII, no encoded-word look-alike: such a header is written as it is.
_PLAIN_HEADER = re.compile(r"^[\x20-\x7e]*$")


def _header(name: str, value: str) -> bytes:
    """One header line, CRLF-terminated; folded and RFC 2047-encoded by the email
    package when it is long or not plain ASCII."""
    if "\r" in value or "\n" in value:
        raise crypto.CryptoError(f"the {name} header must be a single line")
    if len(name) + 2 + len(value) <= 78 and _PLAIN_HEADER.match(value) and "=?" not in value:
        return f"{name}: {value}\r\n".encode("ascii")
    return _header_folded(name, value)


# Not cached: the inner Subject is embargoed text, and a cache would keep it in the
# worker's memory long after the notice went out, for a saving of microseconds per copy.
def _header_folded(name: str, value: str) -> bytes:
    try:
        return SMTP.header_factory(name, value).fold(policy=SMTP).encode("ascii")
    except (UnicodeError, ValueError, IndexError) as error:
        raise crypto.CryptoError(f"the {name} header cannot be encoded") from error
