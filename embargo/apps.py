from django.apps import AppConfig


class EmbargoConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "embargo"
    verbose_name = "Embargoed cases and notices"

    def ready(self) -> None:
        # Celery's autodiscovery imports only embargo.tasks; the reporter's tasks live in
        # a module of their own and register here.
        from . import tasks_reporter  # noqa: F401
