from django.apps import AppConfig


class LeaksConfig(AppConfig):
    """Leak reports, the sanction ladder and tracing decisions: the top layer, which may
    use the embargo and distributors apps and is never used by them."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "leaks"
    verbose_name = "Leaks and sanctions"
