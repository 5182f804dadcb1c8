"""Version 2's joined points, and reading a point that the start or the end of an
excerpt cuts through (pure functions: no database)."""

from __future__ import annotations

import itertools
import random

import pytest

from embargo import tracing
from embargo.models import Notice
from embargo.services.variation import catalogue_point_ids

V2 = 2


def parse(body: str, **kwargs) -> tracing.ParsedBody:
    return tracing.body_parse(body, catalogue_version=V2, **kwargs)


CLOSE = "Some fixed words first. We will publish it at the disclosure time tonight."


def test_two_points_too_close_to_read_alone_are_one_point_with_every_combination():
    parsed = parse(CLOSE)
    (point,) = [p for p in parsed.points if "publish#1" in p.auto]
    assert point.auto == "we-will#1+publish#1"
    assert point.options == ("We will publish", "We will release", "We'll publish", "We'll release")
    assert [i for i, _ in point.switches()] == ["we-will#1", "publish#1"]
    assert tracing.body_render(parsed, tracing.body_as_written(parsed)) == CLOSE
    # Version 1 never joins points.
    v1 = tracing.body_parse(CLOSE, catalogue_version=1)
    assert [p.auto for p in v1.points] == ["we-will#1", "publish#1"]


@pytest.mark.parametrize("choice", range(4))
def test_each_combination_of_a_joined_point_reads_back_as_itself(choice):
    parsed = parse(CLOSE)
    choices = [choice % len(p.options) for p in parsed.points]
    text = tracing.normalise(tracing.body_render(parsed, choices))
    seen = tracing.observe(tracing.points_of(parsed), text)
    assert seen["body:0"].choice == choice % 4


def test_switching_off_a_part_of_a_joined_point_keeps_the_other_as_a_point_of_its_own():
    ids = [i for p in parse(CLOSE, off=["we-will#1"]).points for i, _ in p.switches()]
    assert ids == ["publish#1", "the-disclosure-time#1"]
    notice = Notice(body=CLOSE, tracing_catalogue=V2, variation_off=[])
    assert {"we-will#1", "publish#1"} <= catalogue_point_ids(notice)


def test_points_are_never_joined_across_the_end_of_a_sentence():
    body = "Some words to start with here. The patch is attached. It applies to the branch."
    assert all(". " not in option for p in parse(body).points for option in p.options)


def test_a_joined_point_with_too_little_text_around_it_is_left_in_its_parts():
    body = "A crafted archive allows a remote attacker to execute arbitrary code; it is bad."
    parsed = parse(body)
    assert len(parsed.points) >= 3
    assert tracing.body_render(parsed, tracing.body_as_written(parsed)) == body


# ------------------------------------------------------------------ edges

EDGE = (
    "The first sentence is fixed text. When a user installs a crafted package from the "
    "mirror, the host is lost to the attacker for good and the rest is also fixed text."
)


def _copy(choice: int) -> tuple[tracing.ParsedBody, list, str, int]:
    parsed = parse(EDGE)
    (point,) = [p for p in parsed.points if p.auto == "crafted#1"]
    choices = [choice if p is point else p.original for p in parsed.points]
    return parsed, tracing.points_of(parsed), tracing.body_render(parsed, choices), point.index


@pytest.mark.parametrize("choice", [1, 2])
def test_an_excerpt_starting_just_before_a_point_still_reads_it(choice):
    _parsed, points, copy, index = _copy(choice)
    start = copy.index("installs")
    text = tracing.normalise(copy[start:])
    seen = tracing.observe(points, text)
    assert seen[f"body:{index}"] == tracing.Observation(choice, 0)
    # The full needle is not in the text: without the edge it would say nothing.
    assert not any(needle in f" {text} " for needle in points[index + 7].needles)


@pytest.mark.parametrize("choice", [0, 1, 2])
def test_an_excerpt_ending_just_after_a_point_still_reads_it(choice):
    _parsed, points, copy, index = _copy(choice)
    end = copy.index("from the") + len("from the")
    seen = tracing.observe(points, tracing.normalise(copy[:end]))
    assert seen[f"body:{index}"].choice == choice


def test_a_cut_that_two_wordings_would_leave_alike_reads_nothing():
    # "crafted package ..." is what is left of "a crafted" and of "a specially crafted".
    for choice in (0, 1):
        _parsed, points, copy, index = _copy(choice)
        start = copy.index("crafted package")
        assert f"body:{index}" not in tracing.observe(points, tracing.normalise(copy[start:]))


def test_a_cut_inside_a_word_reads_nothing():
    _parsed, points, copy, index = _copy(1)
    start = copy.index("nstalls")
    assert f"body:{index}" not in tracing.observe(points, tracing.normalise(copy[start:]))


def test_every_edge_reading_of_an_excerpt_is_the_copy_s_own_wording():
    parsed = parse(EDGE + " " + CLOSE)
    points = tracing.points_of(parsed)
    counts = [len(p.options) for p in parsed.points]
    for choices in itertools.islice(itertools.product(*(range(c) for c in counts)), 0, None, 7):
        words = tracing.body_render(parsed, list(choices)).split()
        for start in range(0, len(words) - 8, 3):
            text = tracing.normalise(" ".join(words[start : start + 12]))
            for key, seen in tracing.observe(points, text).items():
                if key.startswith("body:"):
                    assert seen.choice == choices[int(key[5:])]


# ------------------------------------------------------------------ joined lines

LISTED = (
    "## Mitigation\n\nUntil then, install packages only from mirrors you control.\n\n"
    "Check these before you ship:\n\n- the unpacker rejects a long name;\n"
    "- installing the attached file fails instead of crashing.\n"
)


@pytest.mark.parametrize("version", [1, V2])
def test_points_next_to_bullets_and_headings_read_when_the_lines_are_joined(version):
    # An excerpt or a paste that joins the lines shows "- " and "## " mid-line.
    parsed = tracing.body_parse(LISTED, catalogue_version=version)
    choices = [len(p.options) - 1 for p in parsed.points]
    joined = " ".join(tracing.body_render(parsed, choices).split())
    assert " - " in joined and "## " in joined
    seen = tracing.observe(tracing.points_of(parsed), tracing.normalise(joined))
    assert {f"body:{p.index}" for p in parsed.points} <= set(seen)
    assert all(seen[f"body:{p.index}"].choice == choices[p.index] for p in parsed.points)


def test_a_dash_standing_alone_is_dropped_from_needles_and_text_alike():
    assert tracing.marks_drop("now - before ## the fix -- done") == "now before the fix -- done"
    assert tracing.marks_drop("fixed-size, c++ and #1") == "fixed-size, c++ and #1"


# ------------------------------------------------------------------ outside text


def _steps_score(ref, steps: list[float]) -> tracing.Score:
    return tracing.Score(
        ref=ref,
        bits=sum(steps),
        matched=[f"body:{i}" for i, bits in enumerate(steps) if bits > 0],
        mismatched=[f"body:{i}" for i, bits in enumerate(steps) if bits <= 0],
        steps=list(steps),
        group="1",
    )


def test_a_copy_mixed_with_outside_text_names_the_copy_and_nobody_else():
    # Four points from the leaker's copy, four of text nobody was sent (their own
    # rewording), and so on. Without the "copy and outside text" hypothesis the leaker
    # was named with whichever of the other 999 copies best explained the outside text
    # by chance (here, number 368).
    match, miss = tracing.point_bits(2, match=True), tracing.point_bits(2, match=False)
    rng = random.Random(5)
    own = [(i // 4) % 2 == 0 for i in range(80)]
    leaker = _steps_score(1, [match if o else rng.choice([match, miss]) for o in own])
    lucky = _steps_score(
        2,
        [rng.choice([match, miss]) if o else (match if rng.random() < 0.6 else miss) for o in own],
    )
    others = [_steps_score(n, [rng.choice([match, miss]) for _ in own]) for n in range(3, 1000)]
    result = tracing.verdict([leaker, lucky, *others], observed_points=80)
    assert [s.ref for s in result.named] == [1]
    assert "a source of the text" in result.explanation
