"""Advisory revisions: the first when a case is disclosed, one more each time something
the public advisory shows changes afterwards. The OSV and CSAF exports read their
modified time and revision history from these rows."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core.audit import audit_record
from embargo.models import AdvisoryRevision, Vulnerability

INITIAL_REVISION_SUMMARY = "Initial public release"
SUMMARY_MAX_LENGTH = 300


@transaction.atomic
def advisory_revision_add(
    *, vulnerability: Vulnerability, summary: str, actor=None, now: datetime | None = None
) -> AdvisoryRevision:
    """The next revision of a disclosed case's advisory. The case's row lock makes two
    changes at the same moment take numbers one after the other; the unique constraint
    is the guard where there are no row locks (SQLite)."""
    summary = " ".join((summary or "").split())
    if not summary:
        raise ValidationError("Say in a few words what changed in the advisory.")
    if len(summary) > SUMMARY_MAX_LENGTH:
        raise ValidationError(f"At most {SUMMARY_MAX_LENGTH} characters, please.")
    case = Vulnerability.objects.select_for_update().get(pk=vulnerability.pk)
    if case.state != Vulnerability.State.DISCLOSED:
        raise ValidationError("Only a disclosed case's advisory has revisions.")
    last = AdvisoryRevision.objects.filter(vulnerability=case).aggregate(last=Max("number"))
    number = (last["last"] or 0) + 1
    try:
        with transaction.atomic():
            revision = AdvisoryRevision.objects.create(
                vulnerability=case,
                number=number,
                published_at=now or timezone.now(),
                summary=summary,
            )
    except IntegrityError as error:
        raise ValidationError(
            "Someone changed the advisory at the same moment; please try again."
        ) from error
    audit_record(
        actor=actor,
        action="vulnerability.advisory_revised",
        target=case,
        data={"number": number},
    )
    return revision


def advisory_revision_if_public(*, case: Vulnerability, summary: str, actor) -> None:
    """Inside a change's transaction: a revision if the case is already public, nothing
    before (the first revision is the disclosure itself)."""
    if case.state == Vulnerability.State.DISCLOSED:
        advisory_revision_add(vulnerability=case, summary=summary, actor=actor)
