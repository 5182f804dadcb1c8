"""Make the security team's signing key where the settings look for it."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pgpmail import CryptoError, team_key_generate


class Command(BaseCommand):
    help = (
        "Make a new team key (ed25519 signing, cv25519 encryption) with a random "
        "passphrase, written to HAULOUT_TEAM_KEY_FILE, HAULOUT_TEAM_KEY_PASSPHRASE_FILE "
        "(both mode 0600) and HAULOUT_TEAM_PUBLIC_KEY_FILE. Refuses to overwrite a key: "
        "to rotate, point the settings at new paths first (docs/deployment.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", default=f"{settings.PROJECT_NAME} security team")
        parser.add_argument("--email", default=settings.SECURITY_TEAM_EMAIL)
        parser.add_argument("--expire", default="3y", help="gpg's expiry: 3y, 18m, 0 (never)")

    def handle(self, *args, name, email, expire, **options):
        try:
            fingerprint = team_key_generate(
                name=name,
                email=email,
                expire=expire,
                path=settings.HAULOUT_TEAM_KEY_FILE,
                passphrase_path=settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE,
                public_path=settings.HAULOUT_TEAM_PUBLIC_KEY_FILE,
            )
        except CryptoError as error:
            raise CommandError(f"No key was made: {error}") from None
        self.stdout.write(
            f"Team key {fingerprint}: secret key {settings.HAULOUT_TEAM_KEY_FILE}, "
            f"passphrase {settings.HAULOUT_TEAM_KEY_PASSPHRASE_FILE} (keep both on the "
            f"worker machines only), public key {settings.HAULOUT_TEAM_PUBLIC_KEY_FILE} "
            "(for the web machines, published at /security/team-key.asc)."
        )
