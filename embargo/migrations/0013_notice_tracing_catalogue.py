from django.db import migrations, models


class Migration(migrations.Migration):
    """Notices get the tracing catalogue's version. Existing notices were sent (or
    drafted) without it: they keep version 0, so their copies read back exactly as they
    were rendered; new notices get the current version."""

    dependencies = [("embargo", "0012_remove_free_text_versions")]

    operations = [
        migrations.AddField(
            model_name="notice",
            name="tracing_catalogue",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="notice",
            name="tracing_catalogue",
            field=models.PositiveSmallIntegerField(default=1),
        ),
        migrations.AddField(
            model_name="notice",
            name="variation_off",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
