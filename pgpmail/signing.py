"""Detached signatures by the team key, and checking that a signature is the team key's.

For things the team vouches for outside a message (the audit log's daily checkpoint): an
armored detached signature over exact bytes, which anyone holding the team's public key
can check with `gpg --verify signature.asc data`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pgpmail.crypto import GpgEnvironmentError, TeamKeyError, _home_get
from pgpmail.inbound import SIGNATURE_MAX_BYTES, _command, _gpg, _has, _lines, detached_status

_SIG_CREATED = re.compile(r"^\[GNUPG:\] SIG_CREATED D .* ([0-9A-F]{40})$", re.MULTILINE)


@dataclass(frozen=True)
class TeamSignature:
    armored: str
    fingerprint: str


def team_sign_detached(*, data: bytes) -> TeamSignature:
    """An ASCII-armored detached signature over `data` by the team key. TeamKeyError when
    the key or its passphrase cannot sign; GpgEnvironmentError when gpg cannot run."""
    home = _home_get()
    command = _command(
        home,
        "--pinentry-mode",
        "loopback",
        "--passphrase-fd",
        "0",
        "--local-user",
        home.team_fingerprint,
        "--armor",
        "--detach-sign",
    )
    # The passphrase reaches gpg on stdin, ahead of the data (--passphrase-fd 0).
    returncode, out, status = _gpg(command, home.passphrase.encode("utf-8") + b"\n" + data)
    if _has(status, "BAD_PASSPHRASE") or _has(status, "MISSING_PASSPHRASE"):
        raise TeamKeyError("the team key's passphrase was refused while signing")
    signed = _SIG_CREATED.search(status)
    if returncode != 0 or not signed or signed.group(1) != home.team_fingerprint:
        raise TeamKeyError("gpg did not sign with the team key")
    armored = out.decode("ascii", "replace")
    if not armored.startswith("-----BEGIN PGP SIGNATURE-----"):
        raise GpgEnvironmentError("gpg returned no signature")
    return TeamSignature(armored=armored, fingerprint=home.team_fingerprint)


def team_signature_check(*, data: bytes, signature: str) -> bool:
    """True only if `signature` is a good detached signature over exactly `data` made by
    the current team key (not merely a signature naming it as its issuer). A damaged or
    altered signature or data, another key, or no signature at all: False. Raises
    GpgEnvironmentError when gpg cannot run, so "cannot check" never reads as "bad"."""
    raw = signature.encode("ascii", "replace")
    if not raw.strip() or len(raw) > SIGNATURE_MAX_BYTES:
        return False
    home = _home_get()
    status = detached_status(home=home, data=data, signature=raw)
    if _has(status, "BADSIG") or _has(status, "ERRSIG") or not _has(status, "GOODSIG"):
        return False
    for fields in _lines(status, "VALIDSIG"):
        # VALIDSIG's first field is the signing key, its last the primary key.
        if home.team_fingerprint in (fields[0].upper(), fields[-1].upper()):
            return True
    return False
