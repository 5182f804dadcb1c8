from django.apps import AppConfig


class EmbargoConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "embargo"
    verbose_name = "Embargoed cases and notices"
