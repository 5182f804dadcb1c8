"""One message to one recipient over an open smtplib connection, pipelined when the
server allows it (RFC 2920): MAIL, RCPT and DATA go out in one write and their three
replies are read together, then the message and its reply. Two round trips rather than
smtplib's four; in a fan-out each round trip is a wake-up of the worker and of the mail
server, per copy (benchmarks/fanout.py).

Same outcome as smtplib's sendmail() for every reply: the same exceptions with the same
codes, RSET after a refusal (so the connection carries the next message), and the
connection closed after a 421. A server without PIPELINING, or an address that is not a
plain one, gets the same commands one at a time.

Two things sendmail() cannot tell its caller, and this can:
- HandoffUncertain: the connection was lost (or timed out) after the whole message and
  its final dot went out, before the server's answer. The server may have accepted it;
  sending again may make a second copy. Any failure before that point means the server
  cannot have the message.
- a deadline (time.monotonic()): no step waits past it, so a hand-off never outlasts the
  sender's lease on the copy.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
import time

# A bare ASCII address with nothing SMTP gives meaning to: no spaces, angle brackets,
# quotes or line breaks. Anything else goes through smtplib's own quoting.
_PLAIN_ADDRESS = re.compile(r"[!#-'*+\-./0-9=?A-Z^_`a-z{|}~]+@[A-Za-z0-9.\-\[\]:]+")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_RCPT_OK = (250, 251)


class HandoffUncertain(smtplib.SMTPException):
    """The whole message went out but its answer never came: the server may have it."""


class DeadlinePassed(TimeoutError):
    """The sender's deadline came before the message went out: the server has none of it."""


def message_send(
    connection: smtplib.SMTP,
    *,
    from_addr: str,
    to_addr: str,
    message: bytes,
    deadline: float | None = None,
):
    """Sends `message` (the wire bytes, CRLF line ends) to `to_addr`. Raises what
    smtplib.SMTP.sendmail raises, or HandoffUncertain."""
    _fit(connection, deadline)
    connection.ehlo_or_helo_if_needed()
    size = f" SIZE={len(message)}" if connection.has_extn("size") else ""
    if (
        connection.does_esmtp
        and connection.has_extn("pipelining")
        and _PLAIN_ADDRESS.fullmatch(from_addr)
        and _PLAIN_ADDRESS.fullmatch(to_addr)
    ):
        replies = _pipelined(connection, from_addr, to_addr, size, deadline)
    else:
        replies = _one_by_one(connection, from_addr, to_addr, size.lower(), deadline)
    (mail, mail_text), *later = replies
    if mail != 250:
        _give_up(connection, mail)
        raise smtplib.SMTPSenderRefused(mail, mail_text, from_addr)
    rcpt, rcpt_text = later[0]
    if rcpt not in _RCPT_OK:
        _give_up(connection, rcpt)
        raise smtplib.SMTPRecipientsRefused({to_addr: (rcpt, rcpt_text)})
    data, data_text = later[1]
    if data != 354:
        _give_up(connection, data)
        raise smtplib.SMTPDataError(data, data_text)
    payload = _LEADING_DOT.sub(b"..", message)
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    _fit(connection, deadline)
    connection.send(payload + b".\r\n")
    # From here on the server may have the message, whatever happens to the connection.
    try:
        _fit(connection, deadline)
        code, text = connection.getreply()
    except (smtplib.SMTPServerDisconnected, OSError) as error:
        connection.close()
        raise HandoffUncertain(f"no answer after the message: {type(error).__name__}") from None
    if code != 250:
        _give_up(connection, code)
        raise smtplib.SMTPDataError(code, text)


def _pipelined(connection, from_addr, to_addr, size, deadline) -> list[tuple[int, bytes]]:
    connection.send(f"MAIL FROM:<{from_addr}>{size}\r\nRCPT TO:<{to_addr}>\r\nDATA\r\n")
    # Every reply is read before acting on any (they are all on their way), unless one
    # is 421: the server is closing the connection and sends no more.
    replies = []
    while len(replies) < 3 and (not replies or replies[-1][0] != 421):
        _fit(connection, deadline)
        replies.append(connection.getreply())
    codes = [code for code, _ in replies]
    if codes[-1] == 354 and (codes[0] != 250 or codes[1] not in _RCPT_OK):
        # The server took DATA for a transaction it had refused: end it, empty.
        connection.send(b".\r\n")
        connection.getreply()
    while len(replies) < 3:  # after a 421: nothing more will come
        replies.append((421, b""))
    return replies


def _one_by_one(connection, from_addr, to_addr, size, deadline) -> list[tuple[int, bytes]]:
    # smtplib's own steps (and its address quoting), stopping at the first refusal.
    options = [size.strip()] if size else []
    replies = [connection.mail(from_addr, options)]
    if replies[-1][0] == 250:
        _fit(connection, deadline)
        replies.append(connection.rcpt(to_addr))
        if replies[-1][0] in _RCPT_OK:
            _fit(connection, deadline)
            connection.putcmd("data")
            replies.append(connection.getreply())
    while len(replies) < 3:  # not reached: the check of the refusal before it raises
        replies.append((554, b""))
    return replies


def _fit(connection: smtplib.SMTP, deadline: float | None) -> None:
    """The next step waits at most until the deadline (or the connection's own timeout,
    whichever is sooner)."""
    if connection.sock is None:
        return
    own = connection.timeout if isinstance(connection.timeout, int | float) else None
    if deadline is None:
        if own:
            connection.sock.settimeout(own)  # an earlier hand-off may have shortened it
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlinePassed("the sender's lease on this copy ran out")
    connection.sock.settimeout(min(left, own) if own else left)


def _give_up(connection: smtplib.SMTP, code: int) -> None:
    # As smtplib does: 421 means the server is closing the connection; after any other
    # refusal RSET clears the transaction for the next message.
    if code == 421:
        connection.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        connection.rset()
