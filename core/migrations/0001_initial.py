"""The audit log and periodic-job claims, taken over from distributors with their tables."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models




def content_types_follow(apps, schema_editor):
    # Audit events point at their target's content type: renaming the rows in place keeps
    # every earlier event pointing at the same model.
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ('auditevent', 'periodicclaim'):
        if not ContentType.objects.filter(app_label="core", model=model).exists():
            ContentType.objects.filter(app_label="distributors", model=model).update(app_label="core")


def content_types_return(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ('auditevent', 'periodicclaim'):
        if not ContentType.objects.filter(app_label="distributors", model=model).exists():
            ContentType.objects.filter(app_label="core", model=model).update(app_label="distributors")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('distributors', '0009_move_audit_and_claims_to_core'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay as they are: only Django's idea of whose model it is moves.
            state_operations=[
            migrations.CreateModel(
                name='PeriodicClaim',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('job', models.CharField(max_length=64)),
                    ('key', models.CharField(max_length=64)),
                    ('claimed_at', models.DateTimeField(blank=True, null=True)),
                ],
                options={
                    'db_table': 'distributors_periodicclaim',
                    'constraints': [models.UniqueConstraint(fields=('job', 'key'), name='one_periodic_claim_per_key')],
                },
            ),
            migrations.CreateModel(
                name='AuditEvent',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('action', models.CharField(db_index=True, max_length=64)),
                    ('target_id', models.CharField(max_length=64)),
                    ('target_repr', models.CharField(max_length=300)),
                    ('data', models.JSONField(blank=True, default=dict)),
                    ('created_at', models.DateTimeField(db_index=True)),
                    ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('organization', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='distributors.organization')),
                    ('target_type', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to='contenttypes.contenttype')),
                ],
                options={
                    'db_table': 'distributors_auditevent',
                    'ordering': ['created_at', 'pk'],
                    'indexes': [models.Index(fields=['target_type', 'target_id', 'created_at'], name='distributor_target__1ca9bb_idx')],
                },
            ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
