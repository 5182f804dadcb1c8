"""OpenPGP and the mail wire: the only package that knows gpg exists. It imports no app.

Apps import from here, never from the modules inside (an import-linter contract in
pyproject.toml says so); the modules are free to change behind these names.

- Keys a person pastes: `key_inspect` (-> KeyReport, or KeyRejected with a message for
  that person), `key_status`, `key_stored_problem`, `key_encrypt_to` (the possession
  challenge).
- Sealing a notice: `notice_seal_start` (-> Sealing, whose `result()` is the armored
  message signed by the team key and encrypted to exactly the pinned key) and
  `notice_encrypt_and_sign`. Every failure is a CryptoError that says whose fault it is:
  RecipientKeyError, TeamKeyError or GpgEnvironmentError.
- The wire: `pgp_mime_wire_start` / `protected_entity` / `pgp_mime_message` (RFC 3156
  PGP/MIME) and `message_send` (one SMTP hand-off within a deadline; HandoffUncertain when
  the server may have taken it, DeadlinePassed when time ran out first).
- The team key: `team_key_generate`, `team_public_key_armored`, `team_sign_detached`
  (-> TeamSignature: a detached armored signature, e.g. the audit log's daily checkpoint)
  and `team_signature_check` (a good signature by the current team key); a worker process's gpg
  home: `worker_home_prepare`, `worker_home_close`,
  `worker_homes_sweep` (homes of processes that died without closing theirs).
- Mail that reaches the team: `team_message_decrypt` (-> TeamOpened: the text and the
  signer's fingerprint; UndecryptableError when it is not for the team key or damaged),
  `signature_verify`, and `mail_message_parse` (-> InboundMail: an RFC 5322 message
  piped in, classified as a report, auto-reply, bounce or loop, PGP/MIME and inline PGP
  decrypted, signatures recorded; MailRejected when it is too large), `mail_size_max`.
- The recipient's side (demo and tests only): `keypair_generate`, `challenge_answer`,
  `message_open`.
"""

from pgpmail.crypto import (
    AGENT_CONF,
    CryptoError,
    GpgEnvironmentError,
    RecipientKeyError,
    Sealing,
    TeamKeyError,
    notice_encrypt_and_sign,
    notice_seal_start,
    team_key_generate,
    team_public_key_armored,
    worker_home_close,
    worker_home_prepare,
    worker_homes_sweep,
)
from pgpmail.inbound import TeamOpened, UndecryptableError, signature_verify, team_message_decrypt
from pgpmail.inbound_mail import InboundMail, MailRejected, mail_message_parse, mail_size_max
from pgpmail.keys import (
    KeyRejected,
    KeyReport,
    key_encrypt_to,
    key_inspect,
    key_status,
    key_stored_problem,
)
from pgpmail.mime import PendingWire, pgp_mime_message, pgp_mime_wire_start, protected_entity
from pgpmail.recipient import KeyPair, Opened, challenge_answer, keypair_generate, message_open
from pgpmail.signing import TeamSignature, team_sign_detached, team_signature_check
from pgpmail.smtp import DeadlinePassed, HandoffUncertain, message_send

__all__ = [
    "AGENT_CONF",
    "CryptoError",
    "DeadlinePassed",
    "GpgEnvironmentError",
    "HandoffUncertain",
    "InboundMail",
    "KeyPair",
    "KeyRejected",
    "KeyReport",
    "MailRejected",
    "Opened",
    "PendingWire",
    "RecipientKeyError",
    "Sealing",
    "TeamKeyError",
    "TeamOpened",
    "TeamSignature",
    "UndecryptableError",
    "challenge_answer",
    "key_encrypt_to",
    "key_inspect",
    "key_status",
    "key_stored_problem",
    "keypair_generate",
    "mail_message_parse",
    "mail_size_max",
    "message_open",
    "message_send",
    "notice_encrypt_and_sign",
    "notice_seal_start",
    "pgp_mime_message",
    "pgp_mime_wire_start",
    "protected_entity",
    "signature_verify",
    "team_key_generate",
    "team_message_decrypt",
    "team_public_key_armored",
    "team_sign_detached",
    "team_signature_check",
    "worker_home_close",
    "worker_home_prepare",
    "worker_homes_sweep",
]
