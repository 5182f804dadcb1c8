# Placeholder filled in by the change that owns it (issue 15).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("distributors", "0006_sanctions"),
    ]

    operations = []
