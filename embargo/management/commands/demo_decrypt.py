"""`manage.py demo_decrypt --to <email>`: read a demo recipient's copy of a notice.

Local runs only: it reads the mail folder of the file mail backend and the demo secret keys
that `manage.py demo` wrote to var/demo-keys/. Refused unless DJANGO_SECURE=0."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from embargo.demo import decrypted_text, demo_decrypt
from pgpmail import CryptoError


class Command(BaseCommand):
    help = (
        "Decrypt the newest encrypted mail to a demo recipient (file mail backend) with "
        "their demo secret key and check the team signature. Needs DJANGO_SECURE=0."
    )

    def add_arguments(self, parser):
        parser.add_argument("--to", required=True, dest="to_email", metavar="EMAIL")

    def handle(self, *args, to_email: str, **options):
        if settings.SECURE:
            raise CommandError(
                "demo_decrypt reads demo secret keys from disk and is for local runs only; "
                "run it with DJANGO_SECURE=0."
            )
        # Django defines no EMAIL_FILE_PATH unless mail goes to files (settings.py sets it
        # only without EMAIL_URL).
        if not getattr(settings, "EMAIL_FILE_PATH", None):
            raise CommandError("Mail is not written to files here (EMAIL_URL is set).")
        try:
            decrypted = demo_decrypt(to_email=to_email)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        except CryptoError as error:
            raise CommandError(f"Not decrypted: {error}") from error
        self.stdout.write(decrypted_text(decrypted))
