"""The one place that starts gpg: a python-gnupg GPG with a hard time limit and our options.

pgpmail.keys (key checks) and pgpmail.crypto (notices) build on this; nothing else
in the code base builds gpg arguments.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gnupg
from django.conf import settings

# Options on every call:
# - no gpg.conf from the home, no network look-ups, no default recipients;
# - no random_seed file: concurrent gpg processes sharing a home otherwise queue on
#   its lock (see benchmarks/gpg_homes.py).
BASE_OPTIONS = [
    "--no-options",
    "--no-random-seed-file",
    "--no-auto-key-locate",
    "--no-auto-key-retrieve",
    "--no-encrypt-to",
    "--no-comments",
    "--no-emit-version",
    # Human-readable messages (stderr) in UTF-8 whatever the locale: python-gnupg reads
    # them with a strict decoder, and a user ID in another charset would break it.
    "--display-charset",
    "utf-8",
]
THROWAWAY_PREFIX = "haulout-gpg-"
# gpg-agent puts its sockets in the home; a Unix socket path is limited to 108 bytes.
MAX_HOME_PATH = 80


# python-gnupg reads gpg's status lines through codecs.getreader(encoding) with strict
# errors, in a thread: a user ID that is not valid UTF-8 (gpg prints it raw in IMPORTED
# and similar lines) killed that thread, the result came back empty and a good key was
# refused as unreadable. This codec is UTF-8 whose stream reader replaces bad bytes.
STATUS_ENCODING = "haulout_utf8_replace"


def _status_codec(name: str) -> codecs.CodecInfo | None:
    if name != STATUS_ENCODING:
        return None
    utf8 = codecs.lookup("utf-8")

    class Reader(utf8.streamreader):
        def __init__(self, stream, errors: str = "replace") -> None:
            super().__init__(stream, errors)

    return codecs.CodecInfo(
        name=STATUS_ENCODING,
        encode=utf8.encode,
        decode=lambda data, errors="replace": utf8.decode(data, errors),
        incrementalencoder=utf8.incrementalencoder,
        incrementaldecoder=utf8.incrementaldecoder,
        streamreader=Reader,
        streamwriter=utf8.streamwriter,
    )


codecs.register(_status_codec)


class GpgUnavailable(Exception):
    """The gpg binary cannot be started, or a home directory cannot be used."""


class Gpg(gnupg.GPG):
    """python-gnupg with a wall-clock limit on each gpg process.

    python-gnupg has no timeout of its own; a timer kills the gpg process when the
    limit passes, and `timed_out` tells the caller why the result is empty.
    """

    def __init__(self, *, home: str | Path, timeout: float) -> None:
        self.timeout = timeout
        self.timed_out = False
        home = str(home)
        if len(home) > MAX_HOME_PATH:
            raise GpgUnavailable(f"gpg home path is too long for gpg-agent's socket: {home}")
        try:
            super().__init__(
                gpgbinary=settings.GPG_BINARY,
                gnupghome=home,
                options=BASE_OPTIONS,
                env=_environment(),
                encoding=STATUS_ENCODING,
            )
        except (OSError, ValueError) as error:
            raise GpgUnavailable(f"cannot run gpg ({settings.GPG_BINARY}): {error}") from error
        if not self.version or self.version < (2, 1):
            raise GpgUnavailable(f"gpg 2.1 or later is required, found {self.version}")
        # A user ID that is not valid UTF-8 must not crash the parser.
        self.decode_errors = "replace"

    def _collect_output(self, process, result, writer=None, stdin=None):
        timer = threading.Timer(self.timeout, self._kill, args=(process,))
        timer.daemon = True
        timer.start()
        try:
            return super()._collect_output(process, result, writer, stdin)
        finally:
            timer.cancel()

    def _kill(self, process: subprocess.Popen) -> None:
        self.timed_out = True
        process.kill()


def _environment() -> dict[str, str]:
    # Plain messages, and no GNUPGHOME or agent info inherited from whoever started us.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}


def agent_stop(home: str | Path) -> None:
    """Stop the gpg-agent that secret-key operations start inside `home`, if any."""
    if not Path(home, "S.gpg-agent").exists():
        return
    # gpgconf sits next to gpg in every GnuPG install; fall back to the PATH.
    sibling = Path(settings.GPG_BINARY).with_name("gpgconf")
    command = str(sibling) if sibling.parent != Path() and sibling.exists() else "gpgconf"
    # If this fails the agent still notices its socket is gone and exits soon after.
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run(
            [command, "--homedir", str(home), "--kill", "gpg-agent"],
            capture_output=True,
            timeout=10,
            check=False,
            env=_environment(),
        )


@contextmanager
def throwaway_home() -> Iterator[Path]:
    """A private GNUPGHOME that is deleted, agent and all, when the block ends."""
    path = Path(tempfile.mkdtemp(prefix=THROWAWAY_PREFIX))
    try:
        path.chmod(0o700)
        yield path
    finally:
        agent_stop(path)
        shutil.rmtree(path, ignore_errors=True)
