"""Telling leaked copies apart (a canary trap). Pure functions: no database, no settings
beyond the secret.

- body.py: a body's variation points (the author's marks and the catalogue's), one copy's
  choices among them, and the framing sentences;
- catalogue.py: where the meaning-preserving wordings the app varies by itself are found
  (the rules of each version: rules_v1.py, rules_v2.py);
- text.py: normalising a leaked text so formatting never matters;
- scoring.py: observing a text, weighing single copies and mixtures, naming; edges.py:
  reading a point that the start or the end of an excerpt cuts through;
- capacity.py: what the author sees before sending.
"""

from embargo.tracing.body import (
    ALTERNATIVES,
    CONTEXT_CHARS,
    FRAMING,
    FRAMING_ORDER,
    JOIN,
    BodyPoint,
    ParsedBody,
    Variant,
    body_as_written,
    body_parse,
    body_render,
    secret_id,
    trace_secret_derive,
    variant_derive,
)
from embargo.tracing.capacity import Capacity, Density, capacity, needed_bits
from embargo.tracing.catalogue import CURRENT_VERSION as CATALOGUE_VERSION
from embargo.tracing.scoring import (
    EDIT_RATE,
    MIN_MATCHED_POINTS,
    MIN_POSTERIOR,
    REFERENCE_BITS,
    Observation,
    Point,
    Score,
    Verdict,
    choices_by_key,
    observe,
    point_bits,
    points_of,
    posteriors,
    score,
    verdict,
)
from embargo.tracing.text import marks_drop, normalise

__all__ = [
    "ALTERNATIVES",
    "CATALOGUE_VERSION",
    "CONTEXT_CHARS",
    "EDIT_RATE",
    "FRAMING",
    "FRAMING_ORDER",
    "JOIN",
    "MIN_MATCHED_POINTS",
    "MIN_POSTERIOR",
    "REFERENCE_BITS",
    "BodyPoint",
    "Capacity",
    "Density",
    "Observation",
    "ParsedBody",
    "Point",
    "Score",
    "Variant",
    "Verdict",
    "body_as_written",
    "body_parse",
    "body_render",
    "capacity",
    "choices_by_key",
    "marks_drop",
    "needed_bits",
    "normalise",
    "observe",
    "point_bits",
    "points_of",
    "posteriors",
    "score",
    "secret_id",
    "trace_secret_derive",
    "variant_derive",
    "verdict",
]
