from django.apps import AppConfig


class AdvisoriesConfig(AppConfig):
    """Published advisories for machines: the Atom feed, OSV records and CSAF documents.
    The top layer: it reads cases (embargo) and the statements organisations agreed to
    publish (feedback); nothing imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "advisories"
    verbose_name = "Advisory exports"
