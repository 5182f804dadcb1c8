from django.apps import AppConfig


class IntakeConfig(AppConfig):
    """Private reports from outside: the public form, mail piped in by the MTA, the
    reporter's tracking page, triage and the first-response deadline. It sits above
    `embargo` (accepting a report opens a case there) and is never used by it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "intake"
    verbose_name = "Private reports"

    def ready(self) -> None:
        # Services queue tasks by name (core.queue); the tasks are registered here. An
        # import inside ready(): tasks import services, which need the models loaded.
        from intake import tasks  # noqa: F401
