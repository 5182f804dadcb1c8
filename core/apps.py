from django.apps import AppConfig


class CoreConfig(AppConfig):
    """What every app uses: the audit log, periodic-job claims, plain mail, Markdown and
    view helpers. It imports no other app of the project."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = "Audit log and shared plumbing"

    def ready(self) -> None:
        # Registers the calendar's settings check, the deployment checks, and core's
        # tasks: the audit sealer and beat's heartbeat (as the other apps register
        # theirs, in web processes as in workers).
        from core import calendar, checks, tasks  # noqa: F401
