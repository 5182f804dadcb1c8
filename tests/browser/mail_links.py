"""Links in the mail the browser tests' server wrote: Django's file backend puts each
connection's messages in one `.log` file under `<var_dir>/mail/`, one after another,
separated by a line of 79 dashes. A journey reads the link a person would click (the
address confirmation, an invitation) instead of building the URL itself."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

SEPARATOR = re.compile(r"^-{79}$", re.MULTILINE)
LINK = re.compile(r"https?://[^\s<>\"']+")


def mail_messages(var_dir: Path) -> list[email.message.EmailMessage]:
    """Every message in the mail folder, oldest file first."""
    folder = Path(var_dir) / "mail"
    messages = []
    for path in sorted(folder.glob("*.log"), key=lambda p: (p.stat().st_mtime, p.name)):
        for chunk in SEPARATOR.split(path.read_text(errors="replace")):
            if chunk.strip():
                messages.append(
                    email.message_from_string(chunk.lstrip("\n"), policy=email.policy.default)
                )
    return messages


def _text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def mail_link(var_dir: Path, to: str, contains: str) -> str:
    """The link containing `contains` in the newest plain-text message to `to`. Fails with
    what the folder holds for that address when there is none."""
    wanted = to.lower()
    seen = []
    for message in reversed(mail_messages(var_dir)):
        if wanted not in str(message.get("To", "")).lower():
            continue
        seen.append(str(message.get("Subject", "")))
        for link in LINK.findall(_text(message)):
            if contains in link:
                return link
    raise AssertionError(
        f"no mail to {to} with a link containing {contains!r}; subjects to them: {seen}"
    )
