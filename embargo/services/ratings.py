"""A case's CVSS ratings: one per version of the standard (3.1, 4.0), each with who set it
and when. The case's cvss_* fields are the headline the advisory shows: the rating set
last, or the other one when that is cleared."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from embargo.models import CvssRating, Vulnerability
from embargo.scoring import CvssScore, cvss_score

_HEADLINE = ("cvss_vector", "cvss_version", "cvss_score", "cvss_severity")


@transaction.atomic
def cvss_rating_set(*, vulnerability: Vulnerability, vector: str, actor) -> CvssRating:
    """Scores `vector` (3.1 or 4.0) and keeps it as the case's rating of that version,
    replacing an earlier one of the same version; the headline becomes this rating."""
    case = _rateable(vulnerability)
    score = cvss_score(vector)  # ValidationError with the reason
    rating = _rating_store(case=case, score=score, actor=actor)
    _headline_set(case, rating)
    audit_record(
        actor=actor,
        action="vulnerability.cvss_set",
        target=case,
        data={"version": rating.version, "vector": rating.vector, "score": str(rating.score)},
    )
    return rating


@transaction.atomic
def cvss_rating_clear(*, vulnerability: Vulnerability, version: str, actor) -> None:
    case = _rateable(vulnerability)
    rating = CvssRating.objects.filter(vulnerability=case, version=version).first()
    if rating is None:
        raise ValidationError(f"The case has no CVSS {version} rating to clear.")
    rating.delete()
    if case.cvss_version == version:
        _headline_set(case, CvssRating.objects.filter(vulnerability=case).first())
    audit_record(
        actor=actor, action="vulnerability.cvss_cleared", target=case, data={"version": version}
    )


def ratings_follow_headline(*, case: Vulnerability, previous_version: str, actor) -> None:
    """After the case form changed the headline vector (inside its transaction): the
    rating of that version says the same, with who and when; a cleared headline clears
    the rating it showed."""
    if case.cvss_vector:
        score = CvssScore(
            vector=case.cvss_vector,
            version=case.cvss_version,
            score=case.cvss_score,
            severity=case.cvss_severity,
        )
        _rating_store(case=case, score=score, actor=actor)
    elif previous_version:
        CvssRating.objects.filter(vulnerability=case, version=previous_version).delete()


def _rateable(vulnerability: Vulnerability) -> Vulnerability:
    case = Vulnerability.objects.select_for_update().get(pk=vulnerability.pk)
    if case.state in (Vulnerability.State.REJECTED, Vulnerability.State.DISCLOSED):
        raise ValidationError(
            f"The case is {case.get_state_display().lower()}: its score can no longer change."
        )
    return case


def _rating_store(*, case: Vulnerability, score: CvssScore, actor) -> CvssRating:
    rating, _ = CvssRating.objects.update_or_create(
        vulnerability=case,
        version=score.version,
        defaults={
            "vector": score.vector,
            "score": score.score,
            "severity": score.severity,
            "set_by": actor,
            "set_at": timezone.now(),
        },
    )
    return rating


def _headline_set(case: Vulnerability, rating: CvssRating | None) -> None:
    if rating is None:
        case.cvss_vector, case.cvss_version, case.cvss_score, case.cvss_severity = "", "", None, ""
    else:
        case.cvss_vector, case.cvss_version = rating.vector, rating.version
        case.cvss_score, case.cvss_severity = rating.score, rating.severity
    case.updated_at = timezone.now()
    case.save(update_fields=[*_HEADLINE, "updated_at"])
