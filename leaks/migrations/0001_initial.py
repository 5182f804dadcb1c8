"""Leak reports and sanctions, taken over from embargo with their tables."""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models




def content_types_follow(apps, schema_editor):
    # Audit events point at their target's content type: renaming the rows in place keeps
    # every earlier event pointing at the same model.
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ('leakreport', 'sanction'):
        if not ContentType.objects.filter(app_label="leaks", model=model).exists():
            ContentType.objects.filter(app_label="embargo", model=model).update(app_label="leaks")


def content_types_return(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ('leakreport', 'sanction'):
        if not ContentType.objects.filter(app_label="embargo", model=model).exists():
            ContentType.objects.filter(app_label="leaks", model=model).update(app_label="embargo")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('distributors', '0009_move_audit_and_claims_to_core'),
        ('embargo', '0007_move_leaks_to_their_app'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            # The tables stay as they are: only Django's idea of whose model it is moves.
            state_operations=[
            migrations.CreateModel(
                name='LeakReport',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('source', models.CharField(choices=[('self_report', 'Reported by the organisation'), ('on_behalf', 'Filed by the security team for the organisation'), ('found', 'Found by the security team')], max_length=16)),
                    ('what_leaked', models.TextField(validators=[django.core.validators.MaxLengthValidator(5000)])),
                    ('leaked_to', models.TextField(validators=[django.core.validators.MaxLengthValidator(5000)])),
                    ('leaked_at', models.DateTimeField(blank=True, null=True)),
                    ('how', models.TextField(validators=[django.core.validators.MaxLengthValidator(5000)])),
                    ('prevention', models.TextField(blank=True, validators=[django.core.validators.MaxLengthValidator(5000)])),
                    ('evidence_text', models.TextField(blank=True, validators=[django.core.validators.MaxLengthValidator(25000)])),
                    ('evidence_url', models.URLField(blank=True, max_length=500)),
                    ('state', models.CharField(choices=[('open', 'Waiting for the security team'), ('confirmed', 'Confirmed'), ('dismissed', 'Dismissed')], default='open', max_length=16)),
                    ('reported_at', models.DateTimeField()),
                    ('decided_at', models.DateTimeField(blank=True, null=True)),
                    ('decision_reason', models.TextField(blank=True, validators=[django.core.validators.MaxLengthValidator(5000)])),
                    ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('delivery', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='leak_reports', to='embargo.delivery')),
                    ('notice', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='leak_reports', to='embargo.notice')),
                    ('organization', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='leak_reports', to='distributors.organization')),
                    ('reported_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('vulnerability', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='leak_reports', to='embargo.vulnerability')),
                ],
                options={
                    'db_table': 'embargo_leakreport',
                    'ordering': ['-reported_at', '-pk'],
                },
            ),
            migrations.CreateModel(
                name='Sanction',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('kind', models.CharField(choices=[('warning', 'Warning'), ('suspension', 'Suspension'), ('removal', 'Permanent removal')], max_length=16)),
                    ('reason', models.TextField(validators=[django.core.validators.MaxLengthValidator(5000)])),
                    ('created_at', models.DateTimeField()),
                    ('ends_at', models.DateTimeField(blank=True, null=True)),
                    ('lifted_at', models.DateTimeField(blank=True, null=True)),
                    ('retrospective_required', models.BooleanField(default=False)),
                    ('retrospective', models.TextField(blank=True, validators=[django.core.validators.MaxLengthValidator(5000)])),
                    ('retrospective_at', models.DateTimeField(blank=True, null=True)),
                    ('cancelled_deliveries', models.PositiveIntegerField(default=0)),
                    ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('leak_report', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='sanctions', to='leaks.leakreport')),
                    ('lifted_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ('organization', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='sanctions', to='distributors.organization')),
                    ('retrospective_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ],
                options={
                    'db_table': 'embargo_sanction',
                    'ordering': ['-created_at', '-pk'],
                },
            ),
            migrations.AddIndex(
                model_name='leakreport',
                index=models.Index(fields=['state', 'reported_at'], name='embargo_lea_state_165e61_idx'),
            ),
            migrations.AddIndex(
                model_name='leakreport',
                index=models.Index(fields=['organization', 'state'], name='embargo_lea_organiz_6b8eca_idx'),
            ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_follow, content_types_return),
    ]
