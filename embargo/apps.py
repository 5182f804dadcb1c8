from django.apps import AppConfig


class EmbargoConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "embargo"
    verbose_name = "Embargoed cases and notices"

    def ready(self) -> None:
        # Services queue tasks by name (core.queue) and never import them, so the tasks
        # are registered here, in web processes as in workers. An import inside ready():
        # tasks import services, which need the models loaded.
        from embargo import tasks  # noqa: F401
