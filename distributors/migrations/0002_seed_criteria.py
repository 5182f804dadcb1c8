"""The seven membership criteria, in our own words. Staff can edit them afterwards."""

from django.db import migrations

CRITERIA = [
    (1, "active-distributor", "You actively distribute the project",
     "Show that you ship the project today: where users get your build or package, and "
     "how recently you published a release of it.", "evidence"),
    (2, "user-base", "Your users are outside your own organisation",
     "Describe who uses your distribution beyond your own staff: customers, a public "
     "community, downstream operators. Public numbers or references help.", "evidence"),
    (3, "security-track-record", "You fix security issues, publicly and up to now",
     "Link to advisories, changelogs or errata showing security fixes you have shipped, "
     "including recent ones, so the record can be checked by anyone.", "evidence"),
    (4, "not-a-rebuild", "You are not a downstream or rebuild of another member",
     "Explain how your distribution is built and maintained independently rather than "
     "repackaging another member's builds.", "evidence"),
    (5, "community-participation", "You take part in and contribute to the community",
     "Point to your contributions: code, reviews, bug reports, documentation, "
     "discussions or events.", "evidence"),
    (6, "embargo-policy", "You accept the embargo policy",
     "Confirm that your organisation and every person you bring in will keep embargoed "
     "information within need-to-know people until the public disclosure date.", "policy"),
    (7, "vouched", "An existing member vouches for you",
     "Name a person already on the list who knows your work and will vouch for the person "
     "applying on behalf of your distribution.", "vouch"),
]


def seed(apps, schema_editor):
    Criterion = apps.get_model("distributors", "Criterion")
    for number, key, title, guidance, kind in CRITERIA:
        Criterion.objects.update_or_create(
            key=key, defaults={"number": number, "title": title, "guidance": guidance,
                               "kind": kind, "is_active": True},
        )


def unseed(apps, schema_editor):
    Criterion = apps.get_model("distributors", "Criterion")
    Criterion.objects.filter(key__in=[c[1] for c in CRITERIA], answers__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("distributors", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
