"""manage.py audit_verify: walk the audit log's hash chain and name the first broken link.

Exit status 0 when the chain is whole (warnings, such as events waiting to be sealed, go
to stderr), 1 at the first break, 2 when the checkpoints' signatures could not be checked
(gpg or the team key unavailable here: run it where the workers run, or pass
--skip-signatures to check the chain and the checkpoints' hashes only).

It lives in distributors, not core, because checking signatures needs pgpmail, which core
may not import (pyproject.toml's contracts).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core.chain import audit_chain_verify
from distributors.services.audit_chain import audit_checkpoint_signature_ok
from pgpmail import CryptoError


class Command(BaseCommand):
    help = "Check the audit log's hash chain and its signed daily checkpoints."

    def add_arguments(self, parser):
        parser.add_argument(
            "--skip-signatures",
            action="store_true",
            help="do not run gpg: check the chain and that it passes through each checkpoint",
        )
        parser.add_argument(
            "--chunk-size", type=int, default=2000, help="events read per database round trip"
        )

    def handle(self, *args, skip_signatures: bool, chunk_size: int, **options):
        try:
            report = audit_chain_verify(
                now=timezone.now(),
                unsealed_after=timedelta(minutes=settings.HAULOUT_AUDIT_UNSEALED_WARN_MINUTES),
                signature_ok=None if skip_signatures else audit_checkpoint_signature_ok,
                chunk_size=chunk_size,
            )
        except CryptoError as error:
            raise CommandError(
                f"The checkpoints' signatures could not be checked here: {error}. Run this "
                "where the team key is configured, or pass --skip-signatures.",
                returncode=2,
            ) from error
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        broken = report.broken
        if broken is not None:
            where = "sequence " + (str(broken.seq) if broken.seq is not None else "none")
            if broken.event_id is not None:
                where += f", event id {broken.event_id}"
            raise CommandError(
                f"The audit chain is broken at {where}: {broken.problem}. "
                f"{report.checked} event(s) before it are intact.",
                returncode=1,
            )
        signatures = "not checked" if skip_signatures else "signatures good"
        self.stdout.write(
            f"The audit chain is intact: {report.checked} event(s), head at sequence "
            f"{report.head_seq} with hash {report.head_hash}; {report.checkpoints} "
            f"checkpoint(s) passed through ({signatures})."
        )
