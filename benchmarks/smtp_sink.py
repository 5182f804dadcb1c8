"""A minimal SMTP server on loopback that keeps every message, for the benchmarks.

The fan-out benchmark times Haulout's workers, not a mail server. aiosmtpd (what the tests
use, for its fault injection) spent ~0.8 ms of CPU per message on the same two cores as
the workers; a real MTA runs on another host and takes nothing from them. This sink
speaks just enough SMTP for smtplib and pgpmail/smtp.py (EHLO/HELO offering
PIPELINING, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT), one thread per
connection, and costs a fraction of that.
"""

from __future__ import annotations

import socketserver
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Received:
    mail_from: bytes
    rcpt_tos: tuple[bytes, ...]
    data: bytes
    at: float  # time.monotonic() when the final "." arrived


class _Handler(socketserver.BaseRequestHandler):
    """Reads what has arrived, answers every complete line of it, and sends the answers
    together before waiting for more, as Postfix does for a pipelining client: answers
    written one by one would each wait for the client's delayed ACK (Nagle)."""

    def handle(self) -> None:
        sink: SmtpSink = self.server.sink  # type: ignore[attr-defined]
        sock = self.request
        sock.sendall(b"220 haulout-bench sink\r\n")
        buffer, replies = b"", []
        mail_from, rcpts, in_data = b"", [], False
        while chunk := sock.recv(65536):
            buffer += chunk
            while True:
                if in_data:
                    # The message ends at CRLF.CRLF, found with one search rather than
                    # line by line (or at once, for an empty one).
                    if buffer.startswith(b".\r\n"):
                        body, buffer = b"", buffer[3:]
                    else:
                        end = buffer.find(b"\r\n.\r\n")
                        if end < 0:
                            break
                        body, buffer = buffer[: end + 2], buffer[end + 5 :]
                    sink.keep(Received(mail_from, tuple(rcpts), _unstuff(body), time.monotonic()))
                    in_data = False
                    replies.append(b"250 OK")
                    continue
                line, found, rest = buffer.partition(b"\r\n")
                if not found:
                    break
                buffer = rest
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    # PIPELINING, as Postfix and most MTAs offer: the workers use it.
                    replies.append(b"250-haulout-bench\r\n250 PIPELINING")
                elif verb == b"MAIL":
                    mail_from, rcpts = line[10:].strip(), []
                    replies.append(b"250 OK")
                elif verb == b"RCPT":
                    rcpts.append(line[8:].strip())
                    replies.append(b"250 OK")
                elif verb == b"DATA":
                    in_data = True
                    replies.append(b"354 End data with <CR><LF>.<CR><LF>")
                elif verb in (b"RSET", b"NOOP"):
                    if verb == b"RSET":
                        mail_from, rcpts = b"", []
                    replies.append(b"250 OK")
                elif verb == b"QUIT":
                    sock.sendall(b"".join(reply + b"\r\n" for reply in replies) + b"221 Bye\r\n")
                    return
                else:
                    replies.append(b"500 Unknown command")
            if replies:
                sock.sendall(b"".join(reply + b"\r\n" for reply in replies))
                replies = []


def _unstuff(body: bytes) -> bytes:
    """The message as sent: a line that starts with "." had one more put before it."""
    body = body.replace(b"\r\n..", b"\r\n.")
    return body[1:] if body.startswith(b"..") else body


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SmtpSink:
    """Start with start(), read messages/count(), stop with stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._server = _Server((host, port), _Handler)
        self._server.sink = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def keep(self, message: Received) -> None:
        with self._lock:
            self.messages.append(message)

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def start(self) -> SmtpSink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
