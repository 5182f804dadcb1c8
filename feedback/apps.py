from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    """What member organisations say during an embargo: their status per case (VEX-style),
    the patch tests they ran and a private thread with the security team. It sits above
    `embargo` (a status belongs to a case) and is never used by it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "feedback"
    verbose_name = "Member feedback"

    def ready(self) -> None:
        # Services queue tasks by name (core.queue); the tasks are registered here. An
        # import inside ready(): tasks import services, which need the models loaded.
        from feedback import tasks  # noqa: F401
