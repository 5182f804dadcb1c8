"""Demo data for a local run, the embargo half, and reading a demo notice back.

`manage.py demo` (embargo/management/commands/demo.py) first builds the membership half
(distributors/demo.py), then, here: the security team's signing key, two need-to-know
people who can receive notices (each with a real PGP key whose secret half is written to
var/demo-keys/ so the person running the demo can decrypt their copy), and a case with a
draft notice ready to preview and send.

Known passwords, a printed TOTP secret and secret keys on disk: none of this may run on a
production configuration, which the command refuses.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from distributors.demo import FOUNDER, MEMBER_ADMIN, DemoMembers, DemoPerson, _ensure_totp
from distributors.models import PgpKey, TeamMember
from distributors.selectors import policy_current
from distributors.services import policy_accept
from distributors.services.keys import key_prove, key_upload
from distributors.services.team import team_member_update
from embargo.models import Notice, Vulnerability
from embargo.services import (
    affected_package_add,
    fix_reference_add,
    notice_create,
    version_range_add,
    vulnerability_create,
    vulnerability_disclose,
    vulnerability_fix_set,
    vulnerability_transition,
)
from embargo.services.notices import DEFAULT_OUTER_SUBJECT
from pgpmail import (
    CryptoError,
    challenge_answer,
    keypair_generate,
    message_open,
    team_key_generate,
    team_public_key_armored,
)

# The people who get the demo notice: each organisation's admin, marked need-to-know.
DEMO_RECIPIENTS = (FOUNDER, MEMBER_ADMIN)
RECIPIENT_KEY_EXPIRY = "2y"  # valid well past any demo disclosure date

DEMO_CASE_TITLE = "Signature check bypass in the package verifier"
DEMO_CASE_SUMMARY = (
    "Reported privately by a researcher at an example university (see the report "
    "thread). `pkg verify` accepts a package whose detached signature covers only the "
    "manifest: files added after the manifest are installed unchecked. Reproduced on "
    "2.7.0 with the reporter's sample archive."
)
DEMO_NOTICE_SUBJECT = "Embargoed: signature check bypass in pkg verify (fix in 2.7.1)"
# Enough variation that any two consecutive sections of a leaked copy name its recipient
# (the tracing capacity page shows no warning for it), not only the whole copy.
DEMO_NOTICE_BODY = """\
## Summary

`pkg verify` {{checks|validates}} the detached signature against the package manifest
only. An archive that carries extra files after the manifest {{passes|survives}}
verification, and those files are installed without any check. Anyone who can serve a
package to a user (a mirror, a proxy, a compromised download site) can use this to
{{run|execute}} code as root during {{installation|the install}}.

## Affected versions

All {{releases|versions}} from 2.4.0 up to and including 2.7.0 are {{affected|vulnerable}}.
Only the {{latest|newest}} release is {{supported|maintained}}; older {{series|branches}}
do not get a fix. If you ship an older series, you will need to {{backport|carry}} the
patch to it {{yourselves|on your own}}.

## The fix

Release 2.7.1 {{verifies|checks}} every file in the archive against the signed manifest
and refuses an archive with files the manifest does not list. The patch applies
{{cleanly|without conflicts}} to 2.6 and 2.7; please build and test your packages
{{now|today}}, and {{hold|keep}} them back from public repositories until the
{{disclosure date|day of disclosure}}. We {{expect|plan}} no other change in 2.7.1.

## Mitigation until you ship

{{Install|Take}} packages only from mirrors you {{control|run}}, over {{HTTPS|TLS}}, and
{{compare|check}} the archive's SHA-256 with the one in the signed release
{{announcement|notes}}. There is no {{setting|option}} that {{turns|switches}} the check on
for {{older|earlier}} releases, and no {{workaround|other fix}} we know of.
"""
DEMO_CASE_MITIGATION = (
    "Upgrade to 2.7.1. Until then, install packages only from mirrors you control, over "
    "HTTPS, and compare each archive's SHA-256 with the signed release announcement."
)

DEMO_CASE_PUBLIC_DESCRIPTION = (
    "`pkg verify` checked the package signature against the manifest only, so files "
    "added to an archive after the manifest were installed unchecked. Anyone able to "
    "serve a package to a user could run code as root during installation."
)


def demo_keys_dir() -> Path:
    return Path(settings.VAR_DIR) / "demo-keys"


def demo_secret_key_path(email_address: str) -> Path:
    # The demo's own fixed addresses only; never a path built from arbitrary input.
    if not re.fullmatch(r"[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+", email_address):
        raise ValueError("not a plain email address")
    return demo_keys_dir() / f"{email_address.lower()}.asc"


# ---------------------------------------------------------------- building the demo


def demo_team_key() -> str | None:
    """The security team's signing key, made once. Returns the new fingerprint, or None
    when a key is already configured."""
    if Path(settings.HAULOUT_TEAM_KEY_FILE).exists():
        return None
    return team_key_generate(
        name=f"{settings.SITE_NAME} security team (demo)",
        email=settings.SECURITY_TEAM_EMAIL,
        path=settings.HAULOUT_TEAM_KEY_FILE,
        passphrase_path=settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE,
        public_path=settings.HAULOUT_TEAM_PUBLIC_KEY_FILE,
    )


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def demo_recipient_key(*, user, name: str) -> PgpKey:
    """A verified key for a demo person, through the real path: a fresh key is made
    with gpg, its public half uploaded, the possession challenge decrypted with its
    secret half and the code typed back. The secret half goes to var/demo-keys/."""
    active = PgpKey.objects.filter(user=user, state=PgpKey.State.ACTIVE).first()
    secret_path = demo_secret_key_path(user.email)
    if active is not None and secret_path.exists():
        return active
    pair = keypair_generate(name=name, email=user.email, expiry=RECIPIENT_KEY_EXPIRY)
    upload = key_upload(user=user, armored=pair.public)
    code = challenge_answer(secret=pair.secret, challenge_armored=upload.challenge_armored)
    _write_secret(secret_path, pair.secret)
    return key_prove(user=user, key=upload.key, code=code)


def demo_recipients(members: DemoMembers) -> list[tuple[DemoPerson, PgpKey]]:
    """Both member organisations' admins become people who can receive a notice: need-
    to-know, TOTP, the current policy accepted and a verified key."""
    people = {FOUNDER.email: (members.founder, members.walrus)}
    people[MEMBER_ADMIN.email] = (members.member_admin, members.selkie)
    ready = []
    for person in DEMO_RECIPIENTS:
        user, organization = people[person.email]
        member = TeamMember.objects.get(user=user, organization=organization)
        if not member.is_need_to_know:
            # The admin marks themselves: the same service an admin's team page uses.
            team_member_update(actor=user, member=member, is_need_to_know=True)
        _ensure_totp(user)
        policy_accept(
            user=user, version=policy_current(), ip_address=None, user_agent="manage.py demo"
        )
        key = demo_recipient_key(user=user, name=f"{organization.name} security contact")
        ready.append((person, key))
    return ready


def _demo_packages(case: Vulnerability, reviewer) -> None:
    """The project's package, affected from 2.4.0 up to 2.7.1, the version the fix (in
    progress, not yet released) will be in."""
    package = affected_package_add(
        vulnerability=case, actor=reviewer, ecosystem="PyPI", purl="pkg:pypi/example-pkg"
    )
    version_range_add(package=package, actor=reviewer, introduced="2.4.0", fixed="2.7.1")
    vulnerability_fix_set(vulnerability=case, actor=reviewer, state="in_progress", version="2.7.1")


def demo_case(*, reviewer) -> tuple[Vulnerability, Notice | None]:
    """A case with a fix in progress, disclosure about ten days ahead, and a draft
    notice to every member. Made once; afterwards it is the user's to send."""
    case = Vulnerability.objects.filter(title=DEMO_CASE_TITLE).order_by("pk").first()
    if case is None:
        disclosure = (timezone.now() + timedelta(days=10)).astimezone(UTC)
        case = vulnerability_create(
            actor=reviewer,
            title=DEMO_CASE_TITLE,
            summary=DEMO_CASE_SUMMARY,
            cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:H/A:H",
            disclosure_at=disclosure.replace(hour=14, minute=0, second=0, microsecond=0),
            mitigation=DEMO_CASE_MITIGATION,
            public_description=DEMO_CASE_PUBLIC_DESCRIPTION,
            reporter_name="Fran Finder",
            reporter_email="fran.finder@university.example.org",
            reported_at=timezone.now() - timedelta(days=1),
            credit="Fran Finder",
        )
        _demo_packages(case, reviewer)
        for state in (Vulnerability.State.TRIAGED, Vulnerability.State.FIXING):
            case = vulnerability_transition(vulnerability=case, actor=reviewer, state=state)
    notice = case.notices.order_by("pk").first()
    if notice is None and case.is_open:
        notice = notice_create(
            vulnerability=case,
            actor=reviewer,
            outer_subject=DEFAULT_OUTER_SUBJECT,
            subject=DEMO_NOTICE_SUBJECT,
            body=DEMO_NOTICE_BODY,
            audience_all=True,
        )
    return case, notice


DEMO_ADVISORY_TITLE = "Path traversal in the mirror sync tool"


def demo_published_case(*, reviewer) -> Vulnerability:
    """An advisory already public (fix released, disclosed a while ago), so the advisory
    pages, the Atom feed and the OSV and CSAF exports have something to show. Made once."""
    case = Vulnerability.objects.filter(title=DEMO_ADVISORY_TITLE).order_by("pk").first()
    if case is not None:
        return case
    now = timezone.now()
    case = vulnerability_create(
        actor=reviewer,
        title=DEMO_ADVISORY_TITLE,
        summary="Reported by a distributor's packager; `pkg mirror` follows '..' in names.",
        cvss_vector="CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:L",
        cve_id="CVE-2026-40001",
        cwe_ids="CWE-22",
        public_description=(
            "`pkg mirror` wrote files named by the remote index without refusing `..`, so "
            "a malicious mirror could overwrite files outside the mirror directory."
        ),
        mitigation="Upgrade to 2.6.3, or run `pkg mirror` as a user who owns only the mirror.",
        credit="Sam Sorter (Harbour Linux)",
        reported_at=now - timedelta(days=40),
    )
    package = affected_package_add(
        vulnerability=case, actor=reviewer, ecosystem="PyPI", purl="pkg:pypi/example-pkg"
    )
    version_range_add(package=package, actor=reviewer, introduced="2.0.0", fixed="2.6.3")
    fix_reference_add(
        vulnerability=case,
        actor=reviewer,
        kind="release",
        url="https://example.org/releases/2.6.3",
        note="Release 2.6.3",
    )
    vulnerability_fix_set(
        vulnerability=case,
        actor=reviewer,
        state="released",
        version="2.6.3",
        released_on=(now - timedelta(days=9)).date(),
    )
    case = vulnerability_transition(
        vulnerability=case, actor=reviewer, state=Vulnerability.State.TRIAGED
    )
    return vulnerability_disclose(vulnerability=case, actor=reviewer)


# ---------------------------------------------------------------- reading a copy back


@dataclass(frozen=True)
class MailFound:
    path: Path
    message: EmailMessage


@dataclass(frozen=True)
class Decrypted:
    found: MailFound
    inner: EmailMessage
    signer: str  # the team key's fingerprint, checked


SEPARATOR = b"-" * 79


def mail_messages(mail_dir: Path | str):
    """Every message Django's file backend wrote: .log files, one or more messages each,
    separated by a line of 79 dashes. Yields (sort key, MailFound)."""
    for path in sorted(Path(mail_dir).glob("*.log")):
        try:
            raw = path.read_bytes()
            mtime = path.stat().st_mtime
        except OSError:
            continue
        chunks = re.split(rb"(?m)^" + re.escape(SEPARATOR) + rb"\r?\n?", raw)
        for position, chunk in enumerate(chunks):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk.lstrip(), policy=email.policy.default)
            try:
                sent = parsedate_to_datetime(message["Date"]).timestamp()
            except (TypeError, ValueError):
                sent = mtime
            yield (sent, mtime, str(path), position), MailFound(path, message)


def mail_newest_encrypted(*, to_email: str, mail_dir: Path | str) -> MailFound | None:
    wanted = to_email.strip().lower()
    best = None
    for key, found in mail_messages(mail_dir):
        message = found.message
        addresses = [a.lower() for a in (message.get_all("To") or [])]
        if not any(wanted in address for address in addresses):
            continue
        if message.get_content_type() != "multipart/encrypted":
            continue
        if best is None or key > best[0]:
            best = (key, found)
    return best[1] if best else None


def _encrypted_part(message: EmailMessage) -> str:
    parts = message.get_payload()
    if not isinstance(parts, list) or len(parts) != 2:
        raise CryptoError("not a PGP/MIME message (RFC 3156 has exactly two parts)")
    control, body = parts
    if control.get_content_type() != "application/pgp-encrypted":
        raise CryptoError("the first part is not application/pgp-encrypted")
    armored = body.get_payload(decode=True).decode("ascii", "replace")
    if "-----BEGIN PGP MESSAGE-----" not in armored:
        raise CryptoError("the second part holds no PGP message")
    return armored


def demo_decrypt(*, to_email: str) -> Decrypted:
    """Find the newest encrypted mail to `to_email`, decrypt it with the demo person's
    secret key in a throwaway gpg home and check the team's signature on it."""
    found = mail_newest_encrypted(to_email=to_email, mail_dir=settings.EMAIL_FILE_PATH)
    if found is None:
        raise ValidationError(
            f"No encrypted message to {to_email} in {settings.EMAIL_FILE_PATH}. Was the "
            "notice sent, and has the worker had time to encrypt it?"
        )
    try:
        secret = demo_secret_key_path(to_email).read_text()
    except (OSError, ValueError) as error:
        raise ValidationError(
            f"No demo secret key for {to_email} in {demo_keys_dir()}; only the demo "
            "recipients have one (run `manage.py demo`)."
        ) from error
    armored = _encrypted_part(found.message)
    opened = message_open(
        secret=secret,
        armored=armored,
        signer_public=team_public_key_armored(),
        signer_label="the security team's key",
    )
    inner = email.message_from_bytes(opened.data, policy=email.policy.default)
    return Decrypted(found=found, inner=inner, signer=opened.signer)


def decrypted_text(decrypted: Decrypted) -> str:
    inner = decrypted.inner
    outer = decrypted.found.message
    lines = [
        f"File:        {decrypted.found.path}",
        f"Outer Subject (in clear): {outer['Subject']}",
        f"Good signature from the security team's key {decrypted.signer}",
        "",
        "---- decrypted message ----",
    ]
    for name in ("Subject", "From", "To", "Message-ID"):
        if inner[name] is not None:
            lines.append(f"{name}: {inner[name]}")
    body = inner.get_body(preferencelist=("plain",)) if inner.is_multipart() else inner
    lines += ["", body.get_content().rstrip() if body is not None else "", ""]
    return "\n".join(lines)


def utc_text(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "not set"
