"""The recipient's side of a notice: a key pair of one's own and reading what was sent.

The site never does this for a real person; the demo does it for its made-up people (so
whoever runs the demo can read their copy), and tests do it to prove what a recipient
receives. Every call works in a throwaway gpg home that is gone, agent and all, when it
returns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pgpmail.crypto import CryptoError
from pgpmail.gpg import Gpg, GpgUnavailable, throwaway_home

GPG_TIMEOUT = 60.0
# A possession challenge's code: one line of its own, lower-case letters, digits, dashes.
_CHALLENGE_CODE = re.compile(r"^\s+([a-z0-9-]{10,})\s*$", re.MULTILINE)


@dataclass(frozen=True)
class KeyPair:
    fingerprint: str
    public: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class Opened:
    """A message decrypted with the recipient's secret key, signed by `signer`."""

    data: bytes = field(repr=False)
    signer: str


def keypair_generate(*, name: str, email: str, expiry: str) -> KeyPair:
    """A new ed25519/cv25519 key pair without a passphrase; `expiry` in gpg's terms
    ("2y")."""
    params = (
        "Key-Type: eddsa\nKey-Curve: ed25519\nKey-Usage: sign\n"
        "Subkey-Type: ecdh\nSubkey-Curve: cv25519\nSubkey-Usage: encrypt\n"
        f"Name-Real: {name}\nName-Email: {email}\nExpire-Date: {expiry}\n"
        "%no-protection\n%commit\n"
    )
    with throwaway_home() as home:
        gpg = _gpg(home)
        fingerprint = (gpg.gen_key(params).fingerprint or "").upper()
        if not fingerprint:
            raise CryptoError("gpg did not create the key")
        public = gpg.export_keys(fingerprint, minimal=True)
        secret = gpg.export_keys(fingerprint, secret=True, passphrase="")
    if "PRIVATE KEY BLOCK" not in secret or "PUBLIC KEY BLOCK" not in public:
        raise CryptoError("gpg did not export the key")
    return KeyPair(fingerprint=fingerprint, public=public, secret=secret)


def challenge_answer(*, secret: str, challenge_armored: str) -> str:
    """The code inside a possession challenge, read with the recipient's secret key."""
    with throwaway_home() as home:
        gpg = _gpg(home)
        if not gpg.import_keys(secret).sec_read:
            raise CryptoError("the secret key block holds no secret key")
        result = gpg.decrypt(challenge_armored)
    found = _CHALLENGE_CODE.search(str(result))
    if not result.ok or found is None:
        raise CryptoError("the key could not read its own possession challenge")
    return found.group(1)


def message_open(
    *, secret: str, armored: str, signer_public: str, signer_label: str = "the expected key"
) -> Opened:
    """Decrypts `armored` with `secret` and insists on a good signature by the key in
    `signer_public` (named `signer_label` in the error); CryptoError otherwise."""
    with throwaway_home() as home:
        gpg = _gpg(home)
        if not gpg.import_keys(secret).sec_read:
            raise CryptoError("the secret key block holds no secret key")
        signers = {fpr.upper() for fpr in gpg.import_keys(signer_public).fingerprints}
        result = gpg.decrypt(armored, always_trust=True)
    if not result.ok:
        raise CryptoError(f"gpg could not decrypt the message: {result.status or 'no status'}")
    signer = (getattr(result, "pubkey_fingerprint", None) or result.fingerprint or "").upper()
    if not result.valid or signer not in signers:
        raise CryptoError(f"the message is not signed by {signer_label}")
    return Opened(data=result.data, signer=signer)


def _gpg(home) -> Gpg:
    try:
        return Gpg(home=home, timeout=GPG_TIMEOUT)
    except GpgUnavailable as error:
        raise CryptoError(str(error)) from error
