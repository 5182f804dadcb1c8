"""pgpmail/smtp.py against a real SMTP server on loopback (aiosmtpd): pipelined when
offered, and for every reply the same outcome as smtplib's own sendmail()."""

from __future__ import annotations

import contextlib
import smtplib
import threading

import pytest
from aiosmtpd.controller import Controller

from pgpmail.smtp import message_send
from tests.embargo.realservices import ehlo_offer, free_port

MESSAGE = (
    b"Subject: test\r\nContent-Type: text/plain\r\n\r\n"
    b"first line\r\n.a line that starts with a dot\r\n..and one with two\r\n.\r\nlast\r\n"
)


class Server:
    """Keeps what arrives; `replies` maps "MAIL"/"RCPT"/"DATA" to a reply to give
    instead of accepting (DATA: at the end of the message)."""

    def __init__(self, *, pipelining: bool):
        self.pipelining = pipelining
        self.replies: dict[str, str] = {}
        self.received: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        return ehlo_offer(session, hostname, responses, pipelining=self.pipelining)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if "MAIL" in self.replies:
            return self.replies["MAIL"]
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "RCPT" in self.replies:
            return self.replies["RCPT"]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if "DATA" in self.replies:
            return self.replies["DATA"]
        with self.lock:
            self.received.append(
                (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 Message accepted"


@pytest.fixture
def smtp_server():
    started = []

    def start(*, pipelining: bool = True) -> tuple[Server, smtplib.SMTP]:
        server = Server(pipelining=pipelining)
        controller = Controller(server, hostname="127.0.0.1", port=free_port())
        controller.start()
        client = smtplib.SMTP("127.0.0.1", controller.port, timeout=10)
        started.append((controller, client))
        return server, client

    yield start
    for controller, client in started:
        try:
            client.close()
        finally:
            controller.stop()


def writes_of(client: smtplib.SMTP) -> list[bytes]:
    """Records every write the client makes from now on."""
    writes: list[bytes] = []
    real_send = client.send

    def send(data):
        writes.append(data.encode("ascii") if isinstance(data, str) else data)
        return real_send(data)

    client.send = send
    return writes


def test_it_sends_mail_rcpt_and_data_in_one_write_when_the_server_offers_pipelining(
    smtp_server,
):
    server, client = smtp_server(pipelining=True)
    client.ehlo()
    writes = writes_of(client)

    message_send(client, from_addr="team@example.org", to_addr="a@example.com", message=MESSAGE)

    assert writes[0].startswith(b"MAIL FROM:<team@example.org>")
    assert b"\r\nRCPT TO:<a@example.com>\r\nDATA\r\n" in writes[0]
    assert len(writes) == 2  # the commands, then the message with its end
    assert server.received == [("team@example.org", ["a@example.com"], MESSAGE)]


def test_it_uses_smtplib_sendmail_when_the_server_does_not_offer_pipelining(smtp_server):
    server, client = smtp_server(pipelining=False)
    client.ehlo()
    writes = writes_of(client)

    message_send(client, from_addr="team@example.org", to_addr="a@example.com", message=MESSAGE)

    assert writes[0].upper().startswith(b"MAIL FROM:") and b"RCPT" not in writes[0].upper()
    assert server.received == [("team@example.org", ["a@example.com"], MESSAGE)]


def test_lines_starting_with_a_dot_arrive_unchanged(smtp_server):
    server, client = smtp_server(pipelining=True)

    message_send(client, from_addr="team@example.org", to_addr="a@example.com", message=MESSAGE)
    message_send(
        client, from_addr="team@example.org", to_addr="b@example.com", message=b".\r\n..\r\n."
    )

    assert [data for _, _, data in server.received] == [MESSAGE, b".\r\n..\r\n.\r\n"]


@pytest.mark.parametrize("address", ["a b@example.com", "a@example.com\r\nRSET", "<a@x.org>"])
def test_an_address_that_is_not_plain_goes_through_smtplib_quoting_and_injects_nothing(
    smtp_server, address
):
    _server, client = smtp_server(pipelining=True)
    client.ehlo()
    writes = writes_of(client)

    with contextlib.suppress(ValueError, smtplib.SMTPException):
        message_send(client, from_addr="team@example.org", to_addr=address, message=MESSAGE)

    assert writes, "nothing was sent"
    assert writes[0].upper().startswith(b"MAIL FROM:") and writes[0].count(b"\r\n") == 1
    assert not any(b"RSET" in write.upper() for write in writes)


def outcome(start, replies: dict[str, str], *, pipelining: bool):
    """What message_send does with these replies: (exception type or None, SMTP code,
    whether the connection is still open, whether the next message then goes through)."""
    server, client = start(pipelining=pipelining)
    server.replies = dict(replies)
    error, code = None, None
    try:
        message_send(client, from_addr="team@example.org", to_addr="a@example.com", message=MESSAGE)
    except smtplib.SMTPRecipientsRefused as caught:
        error, code = type(caught), [c for c, _ in caught.recipients.values()]
    except smtplib.SMTPResponseException as caught:
        error, code = type(caught), caught.smtp_code
    still_open = client.sock is not None
    server.replies = {}
    next_goes = False
    if still_open:
        message_send(client, from_addr="team@example.org", to_addr="b@example.com", message=MESSAGE)
        next_goes = [rcpt for _, rcpt, _ in server.received] == [["b@example.com"]]
    return error, code, still_open, next_goes


@pytest.mark.parametrize(
    "replies",
    [
        {},
        {"MAIL": "451 4.3.0 try later"},
        {"MAIL": "550 5.7.1 sender refused"},
        {"RCPT": "451 4.7.1 greylisted"},
        {"RCPT": "550 5.1.1 no such user"},
        {"DATA": "451 4.3.0 queue full"},
        {"DATA": "554 5.6.0 message refused"},
        {"MAIL": "421 4.3.2 closing"},
        {"RCPT": "421 4.3.2 closing"},
        {"DATA": "421 4.3.2 closing"},
    ],
    ids=lambda replies: "+".join(f"{k}{v[:3]}" for k, v in replies.items()) or "accepted",
)
def test_every_reply_has_the_outcome_smtplib_sendmail_gives_it(smtp_server, replies):
    pipelined = outcome(smtp_server, replies, pipelining=True)
    plain = outcome(smtp_server, replies, pipelining=False)

    assert pipelined == plain
    if replies:
        assert pipelined[0] is not None  # a refusal is never taken for a success
