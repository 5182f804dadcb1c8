"""`manage.py demo`: everything `make run` shows, safe to repeat, refused in production.

The membership half (people, organisations, applications) comes from distributors/demo.py,
which must not import embargo; the embargo half (team key, recipients who can decrypt, a
case with a draft notice) from embargo/demo.py. Both go through the services."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.urls import reverse

from distributors.demo import demo_people_and_members, demo_refused, demo_summary_lines
from embargo.demo import (
    demo_case,
    demo_published_case,
    demo_recipients,
    demo_secret_key_path,
    demo_team_key,
    utc_text,
)
from embargo.models import Notice
from pgpmail import CryptoError


class Command(BaseCommand):
    help = (
        "Create demo people, organisations, the team key, notice recipients and a case "
        "(idempotent). Refused when DJANGO_SECURE=1."
    )

    def handle(self, *args, **options):
        refusal = demo_refused()
        if refusal:
            raise CommandError(refusal)
        try:
            # Outside the transaction: a key file is not rolled back, and the next run
            # finds it and keeps it.
            team_fingerprint = demo_team_key()
            with transaction.atomic():
                members = demo_people_and_members()
                recipients = demo_recipients(members)
                case, notice = demo_case(reviewer=members.reviewer)
                published = demo_published_case(reviewer=members.reviewer)
        except (CryptoError, ValidationError) as error:
            raise CommandError(f"The demo could not be built: {error}") from error
        write = self.stdout.write
        for line in demo_summary_lines():
            write(line)
        if team_fingerprint:
            write(
                f"Made the security team's signing key {team_fingerprint}: "
                f"{settings.HAULOUT_TEAM_KEY_FILE} (and its passphrase file); public key in "
                f"{settings.HAULOUT_TEAM_PUBLIC_KEY_FILE}"
            )
        write("People who receive notices (need-to-know, TOTP, policy accepted, verified key):")
        for person, key in recipients:
            secret = demo_secret_key_path(person.email)
            write(f"  {person.email:34} key {key.fingerprint}, secret key {secret}")
        case_url = settings.SITE_URL + reverse("embargo:case_detail", kwargs={"pk": case.pk})
        write(
            f"Demo case {case.public_id} ({case.get_state_display().lower()}, disclosure "
            f"{utc_text(case.disclosure_at)}): {case_url}"
        )
        if notice is not None and notice.state == Notice.State.DRAFT:
            preview = reverse("embargo:notice_preview", kwargs={"pk": notice.pk})
            write(f"  Draft notice to preview and send: {settings.SITE_URL}{preview}")
        advisory = settings.SITE_URL + published.get_advisory_url()
        write(f"Published advisory {published.public_id}: {advisory}")
        feed = reverse("advisories:feed")
        write(
            f"  Its OSV and CSAF exports are linked there; the Atom feed: {settings.SITE_URL}{feed}"
        )
        # dev.py sets DJANGO_SECURE=0, without which demo_decrypt refuses to run.
        write("After sending: `python3 dev.py manage demo_decrypt --to <email>`.")
