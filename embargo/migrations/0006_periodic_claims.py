# Placeholder filled in by the change that owns it (issue 15).
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("embargo", "0005_delivery_faults"),
    ]

    operations = []
