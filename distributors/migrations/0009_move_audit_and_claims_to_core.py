"""AuditEvent and PeriodicClaim move to the core app (core 0001 takes them over)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("distributors", "0008_periodic_claims"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay as they are: only Django's idea of whose model it is moves.
            state_operations=[
                migrations.RemoveField(
                    model_name="auditevent",
                    name="actor",
                ),
                migrations.RemoveField(
                    model_name="auditevent",
                    name="organization",
                ),
                migrations.RemoveField(
                    model_name="auditevent",
                    name="target_type",
                ),
                migrations.DeleteModel(
                    name="PeriodicClaim",
                ),
                migrations.DeleteModel(
                    name="AuditEvent",
                ),
            ],
            database_operations=[],
        ),
    ]
