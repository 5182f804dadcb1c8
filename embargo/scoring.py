"""CVSS vectors scored by the `cvss` library, and CVE id checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import cvss
import cvss.constants3
import cvss.constants4
from cvss.exceptions import CVSSError
from django.core.exceptions import ValidationError

CVE_RE = re.compile(r"^CVE-(19|20)\d{2}-\d{4,7}$")
_CONSTANTS = {"3.1": cvss.constants3, "4.0": cvss.constants4}


@dataclass(frozen=True)
class CvssScore:
    vector: str
    version: str  # "3.1" or "4.0"
    score: Decimal
    severity: str  # None, Low, Medium, High, Critical


def cvss_score(vector: str) -> CvssScore:
    """Scores a CVSS v3.1 or v4.0 base vector; raises ValidationError with the reason."""
    vector = vector.strip()
    try:
        if vector.startswith("CVSS:3.1/"):
            parsed = cvss.CVSS3(vector)
            score, severity, version = parsed.base_score, parsed.severities()[0], "3.1"
        elif vector.startswith("CVSS:4.0/"):
            parsed = cvss.CVSS4(vector)
            score, severity, version = parsed.base_score, parsed.severity, "4.0"
        else:
            raise ValidationError(
                "A CVSS vector starts with CVSS:3.1/ or CVSS:4.0/.", code="cvss_version"
            )
    except CVSSError as error:
        raise ValidationError(
            "The CVSS vector is not valid: %(detail)s",
            code="cvss_invalid",
            params={"detail": str(error)},
        ) from error
    return CvssScore(
        vector=parsed.clean_vector(),
        version=version,
        score=Decimal(str(score)).quantize(Decimal("0.1")),
        severity=str(severity),
    )


def cve_id_clean(value: str) -> str:
    value = value.strip().upper()
    if value and not CVE_RE.match(value):
        raise ValidationError(
            "A CVE id looks like CVE-2026-12345 (the year, then at least four digits).",
            code="cve_invalid",
        )
    return value


@dataclass(frozen=True)
class Metric:
    key: str  # the abbreviation in a vector: "AV"
    label: str  # "Attack Vector"
    values: tuple[tuple[str, str], ...]  # ("N", "Network"), ...


def base_metrics(version: str) -> tuple[Metric, ...]:
    """Every base metric of CVSS `version` ("3.1" or "4.0"), in vector order, with the
    names the `cvss` library gives them ("X", not defined, is no choice for a base
    metric)."""
    constants = _CONSTANTS[version]
    return tuple(
        Metric(
            key=key,
            label=constants.METRICS_ABBREVIATIONS[key],
            values=tuple(
                (value, name)
                for value, name in constants.METRICS_VALUE_NAMES[key].items()
                if value != "X"
            ),
        )
        for key in constants.METRICS_MANDATORY
    )


def vector_build(version: str, choices: dict[str, str]) -> str:
    """The base vector for `choices` (metric key -> value), in the standard's order."""
    return f"CVSS:{version}/" + "/".join(
        f"{metric.key}:{choices[metric.key]}" for metric in base_metrics(version)
    )


def vector_choices(score: CvssScore) -> dict[str, str]:
    """The base metrics' values of a scored vector: what a calculator shows for it."""
    parts = dict(part.split(":", 1) for part in score.vector.split("/")[1:])
    return {metric.key: parts[metric.key] for metric in base_metrics(score.version)}
