"""The preview's tracing part: a sample copy with its varying wordings marked, how much
the body can tell apart, and the author's switches for the catalogue's points."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from core.views import staff_required
from embargo import tracing
from embargo.delivery.variants import notice_parsed, trace_secret
from embargo.models import Notice
from embargo.selectors import notices_visible_to
from embargo.services import notice_variation_set

# The sample copy is worded as a copy with this (never used) delivery id would be.
SAMPLE_COPY_ID = 0


def sample_copy_html(parsed: tracing.ParsedBody) -> SafeString:
    """The body as one recipient would read it, each varying wording in a <mark> whose
    title lists the alternatives other copies use."""
    variant = tracing.variant_derive(
        secret=trace_secret(), delivery_id=SAMPLE_COPY_ID, parsed=parsed
    )
    parts = [escape(parsed.literals[0])]
    for point, choice, literal in zip(
        parsed.points, variant.body, parsed.literals[1:], strict=True
    ):
        kind = "catalogue" if point.auto else "author"
        parts.append(
            format_html(
                '<mark class="variation {}" title="{}">{}</mark>',
                kind,
                " | ".join(point.options),
                point.options[choice],
            )
        )
        parts.append(escape(literal))
    return mark_safe("".join(parts))  # noqa: S308 (every part is escaped above)


def variation_context(notice: Notice, *, audience: int) -> dict:
    parsed = notice_parsed(notice)
    capacity = tracing.capacity(
        body=notice.body,
        audience=audience,
        catalogue_version=notice.tracing_catalogue,
        off=notice.variation_off or (),
    )
    switches = [
        {"id": point_id, "options": options, "on": True}
        for point in parsed.points
        for point_id, options in point.switches()
    ] + [
        {"id": point_id, "options": options, "on": False}
        for point_id, options in parsed.switched_off
    ]
    return {
        "sample_html": sample_copy_html(parsed),
        "capacity": capacity,
        "switches": switches,
    }


@staff_required
@require_POST
def notice_variation_view(request, pk: int):
    notice = get_object_or_404(notices_visible_to(request.user), pk=pk)
    on = set(request.POST.getlist("on"))
    shown = set(request.POST.getlist("shown"))
    try:
        notice_variation_set(notice=notice, actor=request.user, off=sorted(shown - on))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Variation saved.")
    return redirect("embargo:notice_preview", pk=notice.pk)
