"""List, and with --apply retire, stored keys that today's key rules refuse."""

from django.core.management.base import BaseCommand

from distributors.services.keys import keys_stored_recheck


class Command(BaseCommand):
    help = (
        "Check every active or pending PGP key against today's packet rules (e.g. the "
        "2048-bit minimum for RSA, DSA and ElGamal). Lists the keys refused; with --apply "
        "revokes them, so nothing is encrypted to them again. Run once after upgrading."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--apply", action="store_true", help="revoke the refused keys (default: list only)"
        )

    def handle(self, *args, apply, **options):
        found = keys_stored_recheck(apply=apply)
        for key, reason in found:
            self.stdout.write(f"{key.fingerprint} (key {key.pk}, user {key.user_id}): {reason}")
        verb = "revoked" if apply else "would be revoked (run again with --apply)"
        self.stdout.write(f"{len(found)} key{'s' if len(found) != 1 else ''} {verb}.")
