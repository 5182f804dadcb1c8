"""The author's say over the catalogue's variation points of a draft notice."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from embargo import tracing
from embargo.models import Notice


def catalogue_point_ids(notice: Notice) -> set[str]:
    """Every place the catalogue varies in the notice's body, on or off."""
    ids = set(notice.variation_off or [])
    for off in ((), notice.variation_off or ()):
        parsed = tracing.body_parse(
            notice.body, catalogue_version=notice.tracing_catalogue, off=off
        )
        ids |= {point_id for point in parsed.points for point_id, _ in point.switches()}
    return ids


@transaction.atomic
def notice_variation_set(*, notice: Notice, actor, off: Iterable[str]) -> Notice:
    """Switches the catalogue's points of a draft on or off: those in `off` stay as the
    author wrote them in every copy."""
    notice = Notice.objects.select_for_update().get(pk=notice.pk)
    if notice.state != Notice.State.DRAFT:
        raise ValidationError("A sent notice cannot change; write an update to it instead.")
    known = catalogue_point_ids(notice)
    off = sorted(set(off))
    unknown = [point for point in off if point not in known]
    if unknown:
        raise ValidationError(
            "The body changed since the page was loaded; reload it and choose again."
        )
    if off == sorted(notice.variation_off or []):
        return notice
    notice.variation_off = off
    notice.updated_at = timezone.now()
    notice.save(update_fields=["variation_off", "updated_at"])
    audit_record(
        actor=actor,
        action="notice.variation_set",
        target=notice,
        data={"off": len(off), "points": len(known)},
    )
    return notice
