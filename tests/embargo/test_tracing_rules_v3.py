"""Version 3 of the tracing catalogue, and version 2 reading exactly as before (pure
functions: no database)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embargo import tracing
from embargo.tracing import catalogue

V3 = 3
# Version 2's parse of four bodies (the benchmark's, the demo's, the held-out notice and
# one more), recorded before version 3 existed.
V2_PARSES = json.loads((Path(__file__).parent / "data" / "catalogue_v2_parse.json").read_text())


@pytest.mark.parametrize("name", sorted(V2_PARSES))
def test_version_2_parses_as_it_did_before_version_3(name):
    recorded = V2_PARSES[name]
    parsed = tracing.body_parse(recorded["body"], catalogue_version=2)
    assert list(parsed.literals) == recorded["literals"]
    assert [[p.auto, list(p.options), p.original] for p in parsed.points] == recorded["points"]


def test_new_notices_use_version_3():
    assert catalogue.CURRENT_VERSION == V3 == tracing.CATALOGUE_VERSION
