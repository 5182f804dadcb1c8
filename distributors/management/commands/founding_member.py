"""Enter one of the list's founding members (nobody exists yet who could vouch for it)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from distributors.services.founding import organization_found


class Command(BaseCommand):
    help = (
        "Admit a founding member organisation without an application. The admin must "
        "already have an account with a verified email address."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--website", required=True)
        parser.add_argument("--admin-email", required=True)

    def handle(self, *args, name, website, admin_email, **options):
        try:
            organization = organization_found(
                actor=None, name=name, website=website, admin_email=admin_email
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(
            f"{organization.name} is a member; {admin_email} is its admin and can now "
            "invite the need-to-know team and vouch for applicants."
        )
