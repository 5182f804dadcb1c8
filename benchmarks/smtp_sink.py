"""A minimal SMTP server on loopback that keeps every message, for the benchmarks.

The fan-out benchmark times Haulout's workers, not a mail server. aiosmtpd (what the tests
use, for its fault injection) spent ~0.8 ms of CPU per message on the same two cores as
the workers; a real MTA runs on another host and takes nothing from them. This sink
speaks just enough SMTP for smtplib (EHLO/HELO, MAIL, RCPT, DATA with dot-unstuffing,
RSET, NOOP, QUIT), one thread per connection, and costs a fraction of that.
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


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        sink: SmtpSink = self.server.sink  # type: ignore[attr-defined]
        read, write = self.rfile.readline, self.wfile.write
        write(b"220 haulout-bench sink\r\n")
        mail_from, rcpts = b"", []
        while line := read(4096):
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                write(b"250 haulout-bench\r\n")
            elif verb == b"MAIL":
                mail_from, rcpts = line[10:].strip(), []
                write(b"250 OK\r\n")
            elif verb == b"RCPT":
                rcpts.append(line[8:].strip())
                write(b"250 OK\r\n")
            elif verb == b"DATA":
                write(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                lines = []
                while (part := read(65536)) not in (b".\r\n", b""):
                    lines.append(part[1:] if part.startswith(b"..") else part)
                sink.keep(Received(mail_from, tuple(rcpts), b"".join(lines), time.monotonic()))
                write(b"250 OK\r\n")
            elif verb == b"RSET":
                mail_from, rcpts = b"", []
                write(b"250 OK\r\n")
            elif verb == b"NOOP":
                write(b"250 OK\r\n")
            elif verb == b"QUIT":
                write(b"221 Bye\r\n")
                return
            else:
                write(b"500 Unknown command\r\n")


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
