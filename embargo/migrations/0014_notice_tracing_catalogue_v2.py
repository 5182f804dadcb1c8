from django.db import migrations, models


class Migration(migrations.Migration):
    """New notices are varied by version 2 of the tracing catalogue (docs/decisions/
    0010-denser-tracing.md). Existing notices keep the version they have, so their copies
    read back exactly as they were rendered."""

    dependencies = [("embargo", "0013_notice_tracing_catalogue")]

    operations = [
        migrations.AlterField(
            model_name="notice",
            name="tracing_catalogue",
            field=models.PositiveSmallIntegerField(default=2),
        ),
    ]
