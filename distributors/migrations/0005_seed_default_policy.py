"""Version 1 of the embargo policy, in our own words. Staff publish later versions from the
portal (/staff/policy/); every person then accepts the new text themselves.

Settings are not available to a migration, so the text says "the project" and "the security
team" rather than naming them."""

import hashlib

from django.db import migrations
from django.utils import timezone

DEFAULT_POLICY = """\
# Embargo policy

This policy applies to every organisation on the project's private distributors list and to
every person in those organisations who receives information from the list. Each of those
people accepts it personally before they receive anything, and again whenever a new version
is published.

## What stays private

Everything you receive through the list about a vulnerability that is not yet public is
*embargoed*: the description, patches, proofs of concept, affected versions, scores, dates
and even the fact that an issue exists.

- Do not publish embargoed information, share it, or hint at it anywhere (in public
  repositories, commit messages, issue trackers, changelogs, chat, social media or talks)
  until the public disclosure date and time set for that issue.
- Use it only to prepare a fix for your own distribution's users. Any other use, including
  marketing, research or advising third parties, is not allowed.
- The security team may allow an exception in writing before the disclosure date. Without
  that written approval, the answer is no.

## Need to know

You may share embargoed information inside your organisation only with the people who must
work on the fix, and only what each of them needs for that work.

- Before anyone receives embargoed information, they must be named in your organisation's
  need-to-know team and must have accepted this policy themselves.
- Keep the group as small as the work allows, and remove people who no longer need access.
- Store and forward embargoed information only in encrypted form: notices are encrypted to
  each person's own key and must not be decrypted into shared or public places.

## Disclosure

The security team sets the disclosure date for each issue, usually a few weeks at most after
the report and sooner for issues that are already public. You may ship your fix and talk about
the issue once the disclosure date and time have passed, or earlier only with the security
team's written approval.

## If information leaks

If embargoed information reaches anyone it should not have, tell the security team straight
away, through the portal or by encrypted mail. Say exactly what was shared, with whom, and
when, so the team can decide whether to move the disclosure date.

A leak reported promptly is handled together with you. Leaking again, or ignoring this
policy, leads to suspension and then permanent removal from the list; a removed organisation
and its people cannot join again.

## Changes to this policy

The security team may publish a new version of this policy. When that happens every person on
the list is asked to accept the new version, and receives no embargoed information until they
do.
"""


def seed(apps, schema_editor):
    PolicyVersion = apps.get_model("distributors", "PolicyVersion")
    if PolicyVersion.objects.exists():
        return
    PolicyVersion.objects.create(
        number=1,
        text=DEFAULT_POLICY,
        text_sha256=hashlib.sha256(DEFAULT_POLICY.encode("utf-8")).hexdigest(),
        published_by=None,
        published_at=timezone.now(),
    )


def unseed(apps, schema_editor):
    PolicyVersion = apps.get_model("distributors", "PolicyVersion")
    # Accepted text is evidence: keep version 1 once anyone has accepted it.
    PolicyVersion.objects.filter(number=1, acceptances__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("distributors", "0004_vouch_policy_team_keys")]
    operations = [migrations.RunPython(seed, unseed)]
