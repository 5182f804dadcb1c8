# Personal bars for the people of removed organisations (issue 15, items 1, 4 and 9).
import re
import unicodedata

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def _bar_people_of_removed_organisations(apps, schema_editor):
    """Organisations removed before this change barred only addresses: bar their people's
    accounts too, so every door (eligibility included) holds for them."""
    Organization = apps.get_model("distributors", "Organization")
    TeamMember = apps.get_model("distributors", "TeamMember")
    BlockedIdentity = apps.get_model("distributors", "BlockedIdentity")
    now = timezone.now()
    for organization in Organization.objects.filter(status="removed"):
        for user_id in TeamMember.objects.filter(organization=organization).values_list(
            "user_id", flat=True
        ):
            if BlockedIdentity.objects.filter(kind="account", value=str(user_id)).exists():
                continue
            BlockedIdentity.objects.create(
                kind="account",
                value=str(user_id),
                user_id=user_id,
                organization=organization,
                reason=f"{organization.name} was removed."[:300],
                created_at=organization.status_changed_at or now,
            )


def _normalise_names(apps, schema_editor):
    """Stored names in the form new ones are stored in: NFKC, invisible and control
    characters dropped, whitespace collapsed. A name that would then equal another's is
    left as it is for staff to rename."""
    Organization = apps.get_model("distributors", "Organization")
    for organization in Organization.objects.all():
        name = unicodedata.normalize("NFKC", organization.name)
        name = "".join(
            " " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c
            for c in name
            if unicodedata.category(c) != "Cf"
        )
        name = re.sub(r"\s+", " ", name).strip()
        if not name or name == organization.name:
            continue
        if Organization.objects.filter(name__iexact=name).exclude(pk=organization.pk).exists():
            continue
        organization.name = name
        organization.save(update_fields=["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("distributors", "0006_sanctions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="blockedidentity",
            name="one_block_per_identity",
        ),
        migrations.AddField(
            model_name="blockedidentity",
            name="lift_reason",
            field=models.TextField(
                blank=True, validators=[django.core.validators.MaxLengthValidator(2000)]
            ),
        ),
        migrations.AddField(
            model_name="blockedidentity",
            name="lifted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="blockedidentity",
            name="lifted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="blockedidentity",
            name="user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="bars",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="blockedidentity",
            name="kind",
            field=models.CharField(
                choices=[
                    ("domain", "Email or web domain"),
                    ("email", "Email address"),
                    ("account", "Account"),
                ],
                max_length=8,
            ),
        ),
        migrations.AddIndex(
            model_name="blockedidentity",
            index=models.Index(fields=["user", "kind"], name="blocked_identity_user_kind"),
        ),
        migrations.AddConstraint(
            model_name="blockedidentity",
            constraint=models.UniqueConstraint(
                condition=models.Q(("lifted_at__isnull", True)),
                fields=("kind", "value"),
                name="one_live_block_per_identity",
            ),
        ),
        migrations.RunPython(_bar_people_of_removed_organisations, migrations.RunPython.noop),
        migrations.RunPython(_normalise_names, migrations.RunPython.noop),
    ]
