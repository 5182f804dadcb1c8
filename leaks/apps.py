from django.apps import AppConfig


class LeaksConfig(AppConfig):
    """Leak reports, the sanction ladder and tracing decisions: the top layer, which may
    use the embargo and distributors apps and is never used by them."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "leaks"
    verbose_name = "Leaks and sanctions"

    def ready(self) -> None:
        # Services queue tasks by name (core.queue) and never import them, so the tasks
        # are registered here, in web processes as in workers. An import inside ready():
        # tasks import services, which need the models loaded.
        from leaks import tasks  # noqa: F401
