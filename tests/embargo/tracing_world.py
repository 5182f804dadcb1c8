"""A traced world for tests: many need-to-know people of one organisation and a copy of
a notice for each (rows only: the plaintext inside the encryption is rendered directly,
no gpg), and leaks as people make them."""

from __future__ import annotations

import random
import textwrap

from django.contrib.auth import get_user_model
from django.utils import timezone

from distributors.models import Organization, TeamMember
from embargo.models import Delivery, Notice
from embargo.services.notices import message_id_new, reference_code_new


def people_make(count: int, *, prefix: str) -> tuple[Organization, list[TeamMember]]:
    now = timezone.now()
    organization = Organization.objects.create(
        name=f"Trace Distro {prefix}",
        slug=f"trace-{prefix}",
        website="https://trace.example.org",
        status=Organization.Status.MEMBER,
        member_since=now,
    )
    user_model = get_user_model()
    user_model.objects.bulk_create(
        [
            user_model(username=f"{prefix}{n}", email=f"{prefix}{n}@trace.example.net")
            for n in range(count)
        ]
    )
    users = user_model.objects.filter(username__startswith=prefix).order_by("pk")
    TeamMember.objects.bulk_create(
        [TeamMember(organization=organization, user=user, is_need_to_know=True) for user in users]
    )
    return organization, list(TeamMember.objects.filter(organization=organization))


def deliveries_make(notice: Notice, members: list[TeamMember]) -> list[Delivery]:
    now = timezone.now()
    Delivery.objects.bulk_create(
        [
            Delivery(
                notice=notice,
                member=member,
                user_id=member.user_id,
                organization_id=member.organization_id,
                email=f"{member.user_id}@trace.example.net",
                fingerprint="A" * 40,
                reference_code=reference_code_new(),
                message_id=message_id_new(),
                state=Delivery.State.SENT,
                created_at=now,
                sent_at=now,
            )
            for member in members
        ]
    )
    return list(
        Delivery.objects.filter(notice=notice)
        .select_related("notice__vulnerability")
        .order_by("pk")
    )


def leaked_reflowed(text: str, code: str, rng: random.Random) -> str:
    """The copy as a leaker might paste it: reference code gone, lines re-wrapped at a
    different width, some indentation and blank lines changed."""
    text = text.replace(code, "")
    width = rng.choice([38, 55, 72, 90])
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    wrapped = [textwrap.fill(p, width=width) for p in paragraphs if p]
    return ("\n\n" if rng.random() < 0.5 else "\n  \n").join(wrapped)
