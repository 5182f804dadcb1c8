# Periodic jobs claim their work before mailing (issue 15, item 14).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("distributors", "0007_personal_bars"),
    ]

    operations = [
        migrations.CreateModel(
            name="PeriodicClaim",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("job", models.CharField(max_length=64)),
                ("key", models.CharField(max_length=64)),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("job", "key"), name="one_periodic_claim_per_key"
                    )
                ],
            },
        ),
    ]
