# Issue 15: deliveries under faults. A pending row's clock becomes its due time (the
# sweeper queues what is due: a lost message, or a retry after a temporary failure), a
# claim becomes a lease, temporary failures wait until a give-up time, and a copy the
# server may hold after two ambiguous hand-offs is "uncertain".
from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce, Now


def leases_for_rows_being_sent(apps, schema_editor):
    # Rows claimed before the upgrade have no lease: give them one that has already run
    # out, so the sweeper takes them back (their workers are the old code, now stopped).
    Delivery = apps.get_model("embargo", "Delivery")
    Delivery.objects.filter(state="sending", lease_until__isnull=True).update(
        lease_until=Coalesce(F("claimed_at"), Now())
    )


class Migration(migrations.Migration):
    dependencies = [
        ("embargo", "0004_delivery_leaner_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="delivery", name="delivery_pending_queued"),
        migrations.RemoveIndex(model_name="delivery", name="delivery_sending_claimed"),
        migrations.RenameField(model_name="delivery", old_name="queued_at", new_name="due_at"),
        migrations.AddField(
            model_name="delivery",
            name="attention_alerted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="delivery",
            name="give_up_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="delivery",
            name="lease_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="delivery",
            name="temporary_failures",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="delivery",
            name="uncertain_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="state",
            field=models.CharField(
                choices=[
                    ("pending", "Queued"),
                    ("sending", "Sending"),
                    ("sent", "Sent"),
                    ("failed", "Failed"),
                    ("uncertain", "Delivery uncertain"),
                    ("withheld", "Withheld"),
                    ("cancelled", "Cancelled"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("state", "pending")),
                fields=["due_at"],
                name="delivery_pending_due",
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("state", "sending")),
                fields=["lease_until"],
                name="delivery_sending_lease",
            ),
        ),
        migrations.RunPython(leases_for_rows_being_sent, migrations.RunPython.noop),
    ]
