from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("embargo", "0011_versions_into_note"),
    ]

    operations = [
        migrations.RemoveField(model_name="vulnerability", name="affected_versions"),
        migrations.RemoveField(model_name="vulnerability", name="fixed_versions"),
    ]
