from django.db import migrations, models


class Migration(migrations.Migration):
    """New notices are varied by version 3 of the tracing catalogue (docs/decisions/
    0011-tracing-v3.md). Existing notices keep the version they have, so their copies
    read back exactly as they were rendered."""

    dependencies = [("embargo", "0014_notice_tracing_catalogue_v2")]

    operations = [
        migrations.AlterField(
            model_name="notice",
            name="tracing_catalogue",
            field=models.PositiveSmallIntegerField(default=3),
        ),
    ]
