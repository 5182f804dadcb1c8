"""Each copy's variations: derived once from the tracing secret and the delivery id,
recorded with the delivery, and reused for every later rendering of the same copy."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from embargo import tracing
from embargo.models import Delivery, DeliveryVariation


def trace_secret() -> bytes:
    return tracing.trace_secret_derive(
        secret_key=settings.SECRET_KEY,
        configured=settings.HAULOUT_TRACE_SECRET,
    )


def notice_parsed(notice) -> tracing.ParsedBody:
    """The notice's body with its variation points, by the catalogue it was written
    under and without the points its author switched off."""
    return tracing.body_parse(
        notice.body,
        catalogue_version=notice.tracing_catalogue,
        off=notice.variation_off or (),
    )


def delivery_variant(*, delivery: Delivery) -> tuple[tracing.Variant, tracing.ParsedBody]:
    """The copy's variant, recorded the first time it is rendered."""
    parsed = notice_parsed(delivery.notice)
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
    """The variants of a batch of copies, usually in one statement: the derived choices
    are inserted where no record exists, and only copies that had one already (rendered
    before: a retry) are read back. Same outcome as delivery_variant() for each copy."""
    if not deliveries:
        return {}
    parsed_by_notice: dict[int, tracing.ParsedBody] = {}
    for delivery in deliveries:
        if delivery.notice_id not in parsed_by_notice:
            parsed_by_notice[delivery.notice_id] = notice_parsed(delivery.notice)
    secret = trace_secret()
    derived = {
        delivery.pk: tracing.variant_derive(
            secret=secret, delivery_id=delivery.pk, parsed=parsed_by_notice[delivery.notice_id]
        )
        for delivery in deliveries
    }
    inserted = _records_insert(derived)
    earlier = [pk for pk in derived if pk not in inserted]
    records = (
        dict(
            DeliveryVariation.objects.filter(delivery_id__in=earlier).values_list(
                "delivery_id", "choices"
            )
        )
        if earlier
        else {}
    )
    result = {}
    for delivery in deliveries:
        parsed = parsed_by_notice[delivery.notice_id]
        record = records.get(delivery.pk)
        variant = tracing.Variant.from_record(record, parsed) if record is not None else None
        result[delivery.pk] = (variant or derived[delivery.pk], parsed)
    return result


def _records_insert(derived: dict[int, tracing.Variant]) -> set[int]:
    """Records the choices of every copy that has no record yet (an existing record is
    kept: it is what that copy said before). Returns the ids this call recorded."""
    now = timezone.now()
    # Django's bulk_create(ignore_conflicts=True) cannot say which rows it inserted;
    # INSERT ... ON CONFLICT DO NOTHING RETURNING can, which saves reading back the
    # records of a first send (PostgreSQL, and SQLite since 3.35: the two we support).
    meta = DeliveryVariation._meta
    quote = connection.ops.quote_name
    delivery, choices, created_at = (
        meta.get_field(name) for name in ("delivery", "choices", "created_at")
    )
    columns = f"({quote(delivery.column)}, {quote(choices.column)}, {quote(created_at.column)})"
    source = "VALUES " + ", ".join(["(%s, %s, %s)"] * len(derived))
    params = []
    for pk, variant in derived.items():
        params += [
            pk,
            choices.get_db_prep_save(variant.as_record(), connection),
            created_at.get_db_prep_save(now, connection),
        ]
    # Only quoted names and %s placeholders are formatted into the SQL.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} {columns} {source} "
        f"ON CONFLICT ({quote(delivery.column)}) DO NOTHING "
        f"RETURNING {quote(delivery.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {int(row[0]) for row in cursor.fetchall()}
