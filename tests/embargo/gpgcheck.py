"""Checking what recipients get, with gpg itself: who can decrypt, and to which keys."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import Message

from devsupport.keyring import gpg_run


def encrypted_part(raw: bytes) -> tuple[Message, bytes]:
    message = email.message_from_bytes(raw)
    assert message.get_content_type() == "multipart/encrypted"
    assert message.get_param("protocol") == "application/pgp-encrypted"
    control, body = message.get_payload()
    assert control.get_content_type() == "application/pgp-encrypted"
    assert "Version: 1" in control.get_payload()
    payload = body.get_payload(decode=True)
    assert payload.startswith(b"-----BEGIN PGP MESSAGE-----")
    return message, payload


def decrypt(home: str, ciphertext: bytes, *, team_fingerprint: str | None = None):
    """(ok, plaintext, status lines) for a decryption attempt in `home`."""
    args = ["--status-fd", "2", "--trust-model", "always", "--decrypt"]
    done = gpg_run(home, *args, stdin=ciphertext, check=False)
    status = done.stderr.decode(errors="replace")
    return done.returncode == 0, done.stdout, status


def pubkey_packets(home: str, ciphertext: bytes) -> list[str]:
    """Key ids of the public-key encrypted session key packets (gpg --list-packets)."""
    done = gpg_run(home, "--list-packets", stdin=ciphertext, check=False)
    text = done.stdout.decode(errors="replace")
    return re.findall(
        r"^:pubkey enc packet: version \d+, algo \d+, keyid ([0-9A-F]{16})", text, re.MULTILINE
    )


def encryption_subkey_id(home: str, fingerprint: str) -> str:
    listing = gpg_run(home, "--with-colons", "--list-keys", fingerprint).stdout.decode()
    for line in listing.splitlines():
        fields = line.split(":")
        if fields[0] == "sub" and "e" in fields[11]:
            return fields[4]
    raise AssertionError("no encryption subkey")


def signed_by(status: str) -> str | None:
    match = re.search(
        r"^\[GNUPG:\] VALIDSIG ([0-9A-F]{40}) .* ([0-9A-F]{40})$", status, re.MULTILINE
    )
    if match and "[GNUPG:] GOODSIG" in status:
        return match.group(2)
    return None


def inner_text(plaintext: bytes) -> tuple[str, str]:
    """(real subject, decoded text) of the decrypted MIME entity."""
    inner = email.message_from_bytes(plaintext, policy=email.policy.default)
    return str(inner["Subject"]), inner.get_content()
