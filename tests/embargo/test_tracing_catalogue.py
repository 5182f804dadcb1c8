"""The catalogue's variation points, normalisation, the naming rules and their messages
(pure functions: no database)."""

from __future__ import annotations

import re
import sys

import pytest

from core.markdown import markdown_render
from embargo import tracing
from embargo.tracing import catalogue
from embargo.tracing.scoring import MIN_POSTERIOR, Observation, Score, verdict

# Every test runs under version 1 (what older notices read with) and the current one.
VERSIONS = (1, catalogue.CURRENT_VERSION)
VERSION = catalogue.CURRENT_VERSION


@pytest.fixture(params=VERSIONS, ids=lambda v: f"v{v}")
def version(request, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "VERSION", request.param)
    return request.param


def parsed(body: str, **kwargs) -> tracing.ParsedBody:
    return tracing.body_parse(body, catalogue_version=VERSION, **kwargs)


def auto_ids(body: str, **kwargs) -> list[str]:
    """The catalogue's points, a joined point's parts (version 2) one by one."""
    return [point_id for p in parsed(body, **kwargs).points for point_id, _ in p.switches()]


def test_notices_from_before_the_catalogue_keep_only_the_authors_marks(version):
    body = "We do not {{ship|publish}} it before the disclosure; the attacker waits."
    assert [p.auto for p in tracing.body_parse(body).points] == [""]
    assert len(parsed(body).points) > 1


def test_it_varies_contractions_spellings_and_wordings_in_both_directions(version):
    body = (
        "Our notes: please note that your own mirror cannot upgrade yet. Each "
        "organisation on the list gets a copy. The attacker on the network "
        "does not need an account here. We recommend that you patch soon, "
        "well before the release."
    )
    ids = auto_ids(body)
    recommend = "we-recommend#1" if version == 1 else "we-recommend-that-you#1"
    for expected in ("please-note-that#1", "organisation#1", "cannot#1", "does-not#1",
                     recommend, "before#1", "attacker#1"):  # fmt: skip
        assert expected in ids


@pytest.mark.parametrize(
    "rule", [rule for rule in catalogue.RULES[1] if rule.detect == rule.options]
)
def test_every_wording_of_a_two_way_rule_is_found_again_in_a_copy(rule):
    # A copy that uses another wording reads back as the same point: the wordings are
    # interchangeable in both directions. (Version 2's own rules: test_tracing_rules_v2.)
    follow = " the system files.\n"
    for option in rule.options:
        if rule.followed_by and not re.match(rule.followed_by, follow):
            continue
        body = f"Some words first. {option}{follow}"
        found = tracing.body_parse(body, catalogue_version=1).points
        points = [p for p in found if p.auto.startswith(f"{rule.name}#")]
        assert len(points) == 1, (rule.name, option)
        assert [o.lower() for o in points[0].options] == [o.lower() for o in rule.options]


def test_it_never_varies_code_urls_quotes_versions_or_identifiers(version):
    body = (
        "Run `do not stop` and read https://example.org/before/the/fix and\n"
        "> the attacker is affected\n\n"
        '"it is affected" said someone, about do_not_track and v2.0-before.\n\n'
        "```\nthe attacker does not care\n```\n\n"
        "    indented: we recommend the fix\n\n"
        "Finally, do not stop."
    )
    result = parsed(body)
    assert "do-not#1" in [p.auto for p in result.points]
    # Every point worded otherwise than written: the protected text is still all there.
    changed = tracing.body_render(
        result, [(p.original + 1) % len(p.options) for p in result.points]
    )
    protected = (
        "`do not stop`",
        "https://example.org/before/the/fix",
        "> the attacker is affected",
        '"it is affected"',
        "do_not_track",
        "v2.0-before",
        "```\nthe attacker does not care\n```",
        "    indented: we recommend the fix",
    )
    for kept in protected:
        assert kept in changed
    assert changed.endswith("don't stop.")


def test_grammar_decides_whether_a_wording_varies(version):
    # ("before you ship" is a phrase of its own from version 2.)
    assert not any(
        i.startswith("before#") for i in auto_ids("Wait before you ship it to the mirrors.")
    )
    assert auto_ids("Wait before the disclosure of a package tomorrow.") == ["before#1"]
    # "However," opens a sentence only.
    assert "however#1" in auto_ids("It works. However, the mirror is slow to sync.")
    assert not any(i.startswith("however") for i in auto_ids("It is, however, slow to sync today."))


def test_a_series_gains_or_loses_its_last_comma_but_a_pair_of_words_does_not(version):
    found = parsed("We ship Debian, Fedora and Arch packages to every mirror.")
    comma = [p for p in found.points if p.auto.startswith("serial-comma")]
    # From version 2 the space after "and" is fixed text.
    expected = (", and ", " and ") if version == 1 else (", and", " and")
    assert len(comma) == 1 and comma[0].options == expected
    assert comma[0].original == 1
    assert not any(p.auto.startswith("serial-comma") for p in parsed("Build and test it.").points)


def test_adjacent_list_items_swap_places_in_pairs(version):
    body = "Check these:\n\n- the first thing;\n- the second thing.\n\nThat is all for the list."
    pairs = [p for p in parsed(body).points if p.auto.startswith("list-order")]
    assert len(pairs) == 1
    swapped = tracing.body_render(
        parsed(body), [1 if p in pairs else p.original for p in parsed(body).points]
    )
    assert swapped.index("the second thing") < swapped.index("the first thing")


def test_a_switched_off_point_stays_as_written_and_the_others_keep_their_ids(version):
    body = "We do not need it here. The attacker does not wait. We do not know."
    ids = auto_ids(body)
    assert ids[:2] == ["do-not#1", "attacker#1"]
    off = parsed(body, off=["do-not#1"])
    assert auto_ids(body, off=["do-not#1"]) == [i for i in ids if i != "do-not#1"]
    assert off.switched_off[0][0] == "do-not#1"
    assert tracing.body_render(off, tracing.body_as_written(off)) == body


def test_the_body_as_written_renders_back_to_the_original(version):
    body = "A crafted archive allows a remote attacker to execute arbitrary code; it is bad."
    result = parsed(body)
    assert len(result.points) >= 3
    assert tracing.body_render(result, tracing.body_as_written(result)) == body


@pytest.mark.parametrize(
    "leaked",
    [
        "<h2>The fix</h2><ul><li>Do <em>read</em> this&hellip; &ndash; now</li></ul>",
        "## The fix\n\n- Do **read** [this](https://example.org)... -- now",
        "*The fix*\n> • Do read this\u2026 \u2014 now",
    ],
)
def test_markdown_html_chat_and_typography_read_the_same(leaked):
    assert (
        tracing.normalise(leaked).split()
        == tracing.normalise("The fix Do read this... - now").split()
    )


def test_a_point_next_to_a_heading_is_read_after_an_html_round_trip(version):
    body = "## Summary\n\nThe attacker does not need an account.\n"
    result = parsed(body)
    html = str(markdown_render(tracing.body_render(result, [1] * len(result.points))))
    text = re.sub(r"<[^>]+>", " ", html)
    seen = tracing.observe(tracing.points_of(result), tracing.normalise(text))
    body_keys = {key for key in seen if key.startswith("body:")}
    assert body_keys == {f"body:{p.index}" for p in result.points}
    assert all(seen[key].choice == 1 for key in body_keys)


def _score(ref, bits_per_point: list[float]) -> Score:
    matched = [f"body:{i}" for i, bits in enumerate(bits_per_point) if bits > 0]
    mismatched = [f"body:{i}" for i, bits in enumerate(bits_per_point) if bits <= 0]
    return Score(ref=ref, bits=sum(bits_per_point), matched=matched, mismatched=mismatched,
                 steps=list(bits_per_point), group="1")  # fmt: skip


def test_too_little_evidence_is_blamed_on_the_probability_not_on_a_margin():
    match, miss = tracing.point_bits(2, match=True), tracing.point_bits(2, match=False)
    scores = [_score(1, [match] * 9)] + [
        _score(n, [miss, match] * 4 + [miss]) for n in range(2, 300)
    ]
    result = verdict(scores, observed_points=9)
    assert result.named == [] and result.identified is None
    assert "probability" in result.explanation and str(MIN_POSTERIOR) in result.explanation
    assert "bits ahead" not in result.explanation


def test_copies_the_evidence_cannot_separate_are_named_as_such():
    match = tracing.point_bits(2, match=True)
    scores = [_score(1, [match] * 30), _score(2, [match] * 30), _score(3, [-6.0] * 30)]
    result = verdict(scores, observed_points=30)
    assert result.named == []
    assert "cannot separate" in result.explanation


def test_a_few_matched_points_are_too_little_to_go_on():
    match = tracing.point_bits(8, match=True)
    scores = [_score(1, [match] * 4), _score(2, [-6.0] * 4)]
    result = verdict(scores, observed_points=4)
    assert result.named == [] and "Too little to go on" in result.explanation


def test_observing_records_where_each_point_was_read(version):
    result = parsed("The attacker waits. Then it is too late for the mirror.")
    text = tracing.normalise(tracing.body_render(result, tracing.body_as_written(result)))
    seen = tracing.observe(tracing.points_of(result), text)
    positions = [seen[f"body:{p.index}"].position for p in result.points]
    assert positions == sorted(positions)
    assert all(isinstance(value, Observation) for value in seen.values())


def test_capacity_says_how_short_an_excerpt_still_names_someone(version):
    rich = "\n\n".join(
        f"Paragraph {n}: the attacker does not wait, it is {{{{fast|quick}}}} and we do "
        f"not {{{{stop|halt}}}} item {n}; {{{{one|single}}}} {{{{patch|change}}}} {n} is "
        f"{{{{ready|done}}}}."
        for n in range(12)
    )
    capacity = tracing.capacity(body=rich, audience=50, catalogue_version=VERSION)
    assert capacity.density.paragraphs is not None
    assert capacity.density.paragraphs < capacity.density.total_paragraphs
    assert capacity.catalogue_points > 0 and capacity.author_points == 60
    thin = tracing.capacity(body="Apply the patch now.", audience=50, catalogue_version=VERSION)
    assert thin.density.paragraphs is None
    assert any("Too little variation" in warning for warning in thin.warnings)
