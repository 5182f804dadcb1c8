"""The protected MIME entity that gets encrypted (pgpmail.mime.protected_entity): what
a mail client reads back from it is exactly the notice's headers and text."""

from __future__ import annotations

import base64
import email
import email.policy

import pytest

from pgpmail.mime import protected_entity

HEADERS = {
    "subject": "Embargoed: the real subject",
    "from_email": "Haulout <security@example.org>",
    "to_email": "a@example.com",
    "message_id": "<1.2.notice@example.org>",
}


def read_back(entity: bytes):
    return email.message_from_bytes(entity, policy=email.policy.default)


def test_plain_ascii_text_with_short_lines_is_written_as_7bit_with_crlf():
    text = "Line one\nLine two\r\n\nLast line"

    entity = protected_entity(**HEADERS, text=text)
    message = read_back(entity)

    assert message["Content-Transfer-Encoding"] == "7bit"
    assert entity.endswith(b"Line one\r\nLine two\r\n\r\nLast line\r\n")
    assert b"\n" not in entity.replace(b"\r\n", b"")
    assert message.get_content().replace("\r\n", "\n") == "Line one\nLine two\n\nLast line\n"
    assert message["Subject"] == HEADERS["subject"] and message["To"] == HEADERS["to_email"]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 3000,  # one line longer than SMTP allows
        "Grüße, ünïcödé ✓\nsecond line\n",
        ("Apply the patch before the disclosure date. " * 40)[:3000] + "\nend\n",
        "é" * 28 + "a",  # 57 bytes: exactly one line of base64
        "é" * 29,  # 58 bytes: one more
    ],
)
def test_long_lines_or_other_characters_go_base64_in_lines_of_76(text):
    entity = protected_entity(**HEADERS, text=text)
    message = read_back(entity)
    body = entity.split(b"\r\n\r\n", 1)[1]

    assert message["Content-Transfer-Encoding"] == "base64"
    assert message.get_content() == text
    assert base64.b64decode(body) == text.encode("utf-8")
    # What base64.encodebytes() writes, with CRLF line ends.
    assert body == base64.encodebytes(text.encode("utf-8")).replace(b"\n", b"\r\n")
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
