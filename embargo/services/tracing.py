"""Each copy's variations: derived once from the tracing secret and the delivery id,
recorded with the delivery, and reused for every later rendering of the same copy."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import tracing
from ..models import Delivery, DeliveryVariation


def trace_secret() -> bytes:
    return tracing.trace_secret_derive(
        secret_key=settings.SECRET_KEY,
        configured=getattr(settings, "HAULOUT_TRACE_SECRET", "") or "",
    )


def delivery_variant(*, delivery: Delivery) -> tuple[tracing.Variant, tracing.ParsedBody]:
    """The copy's variant, recorded the first time it is rendered."""
    parsed = tracing.body_parse(delivery.notice.body)
    record = DeliveryVariation.objects.filter(delivery_id=delivery.pk).first()
    if record is not None:
        variant = tracing.Variant.from_record(record.choices, parsed)
        if variant is not None:
            return variant, parsed
    variant = tracing.variant_derive(secret=trace_secret(), delivery_id=delivery.pk, parsed=parsed)
    if record is None:
        try:
            with transaction.atomic():
                DeliveryVariation.objects.create(
                    delivery_id=delivery.pk, choices=variant.as_record(), created_at=timezone.now()
                )
        except IntegrityError:
            # Recorded meanwhile by another rendering of the same copy: that one counts.
            record = DeliveryVariation.objects.get(delivery_id=delivery.pk)
            variant = tracing.Variant.from_record(record.choices, parsed) or variant
    return variant, parsed


def delivery_variants(
    *, deliveries: Sequence[Delivery]
) -> dict[int, tuple[tracing.Variant, tracing.ParsedBody]]:
    """The variants of a batch of copies in two queries: one insert of the derived choices
    (a copy already recorded keeps its record: the insert skips it), one read of what is
    recorded. Same outcome as delivery_variant() for each copy."""
    if not deliveries:
        return {}
    parsed_by_notice: dict[int, tracing.ParsedBody] = {}
    for delivery in deliveries:
        if delivery.notice_id not in parsed_by_notice:
            parsed_by_notice[delivery.notice_id] = tracing.body_parse(delivery.notice.body)
    secret = trace_secret()
    derived = {
        delivery.pk: tracing.variant_derive(
            secret=secret, delivery_id=delivery.pk, parsed=parsed_by_notice[delivery.notice_id]
        )
        for delivery in deliveries
    }
    now = timezone.now()
    DeliveryVariation.objects.bulk_create(
        [
            DeliveryVariation(delivery_id=pk, choices=variant.as_record(), created_at=now)
            for pk, variant in derived.items()
        ],
        ignore_conflicts=True,
    )
    records = dict(
        DeliveryVariation.objects.filter(delivery_id__in=list(derived)).values_list(
            "delivery_id", "choices"
        )
    )
    result = {}
    for delivery in deliveries:
        parsed = parsed_by_notice[delivery.notice_id]
        record = records.get(delivery.pk)
        variant = tracing.Variant.from_record(record, parsed) if record is not None else None
        result[delivery.pk] = (variant or derived[delivery.pk], parsed)
    return result
