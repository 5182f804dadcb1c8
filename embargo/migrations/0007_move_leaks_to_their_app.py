"""LeakReport and Sanction move to the leaks app (leaks 0001 takes them over)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("embargo", "0006_periodic_claims"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay as they are: only Django's idea of whose model it is moves.
            state_operations=[
                migrations.RemoveField(
                    model_name="sanction",
                    name="leak_report",
                ),
                migrations.RemoveField(
                    model_name="sanction",
                    name="created_by",
                ),
                migrations.RemoveField(
                    model_name="sanction",
                    name="lifted_by",
                ),
                migrations.RemoveField(
                    model_name="sanction",
                    name="organization",
                ),
                migrations.RemoveField(
                    model_name="sanction",
                    name="retrospective_by",
                ),
                migrations.DeleteModel(
                    name="LeakReport",
                ),
                migrations.DeleteModel(
                    name="Sanction",
                ),
            ],
            database_operations=[],
        ),
    ]
