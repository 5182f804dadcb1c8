"""Version 2 of the tracing catalogue: its new and wider rules, and version 1 reading
exactly as before (pure functions: no database)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from embargo import tracing
from embargo.tracing.rules_v2 import RULES_V2

V2 = 2
# Version 1's parse of two bodies, recorded before version 2 existed.
V1_PARSES = json.loads((Path(__file__).parent / "data" / "catalogue_v1_parse.json").read_text())


def ids(body: str) -> list[str]:
    """The catalogue's points, a joined point's parts one by one."""
    parsed = tracing.body_parse(body, catalogue_version=V2)
    return [point_id for point in parsed.points for point_id, _ in point.switches()]


@pytest.mark.parametrize("name", sorted(V1_PARSES))
def test_version_1_parses_as_it_did_before_version_2(name):
    recorded = V1_PARSES[name]
    parsed = tracing.body_parse(recorded["body"], catalogue_version=1)
    assert list(parsed.literals) == recorded["literals"]
    assert [[p.auto, list(p.options), p.original] for p in parsed.points] == recorded["points"]


# Text after a wording that the rules' grammar accepts (the first that fits is used).
_FOLLOWS = (
    " the system files.\n",
    " systems to check.\n",
    " to check.\n",
    " days ago.\n",
    " is here.\n",
    ", then.\n",
    " check the mirror.\n",
    " been told.\n",
    " if it works.\n",
    " them to the mirror.\n",
    ":\n",
    "\n",
)


def _first_of_name(rule) -> bool:
    return next(r for r in RULES_V2 if r.name == rule.name) is rule


@pytest.mark.parametrize("rule", [r for r in RULES_V2 if _first_of_name(r)], ids=lambda r: r.name)
def test_every_wording_a_rule_looks_for_is_found_again_in_a_copy(rule):
    follow = next(f for f in _FOLLOWS if not rule.followed_by or re.match(rule.followed_by, f))
    for option in rule.detect:
        if any(ch.isdigit() for ch in option):
            continue  # "2 days": a digit is protected text; a copy is read by its needle
        body = f"Some words first. {option}{follow}"
        parsed = tracing.body_parse(body, catalogue_version=V2).points
        points = [o for p in parsed for i, o in p.switches() if i.startswith(f"{rule.name}#")]
        assert len(points) == 1, (rule.name, option)
        assert [o.lower() for o in points[0]] == [o.lower() for o in rule.options]


@pytest.mark.parametrize(
    ("body", "point"),
    [
        ("A bug in the parser allows a remote attacker to crash it.", "allows#1"),
        ("Please do not ship the packages before the disclosure of the bug.", "before#1"),
        ("We recommend that you check the signature of each file.", "we-recommend-that-you#1"),
        ("So far we are not aware of any exploitation in the wild.", "we-are-not-aware-of#1"),
        ("Please do let us know if it fails to apply for you.", "let-us-know#1"),
        ("Push nothing at the disclosure time, not one minute sooner.", "the-disclosure-time#1"),
        ("It writes the file name into a fixed buffer on the stack.", "file-name#1"),
        ("If someone else needs the report, ask us first please.", "someone#1"),
        ("Installing the attached archive must fail with an error.", "attached#1"),
        ("The patch applies cleanly to every branch we still support.", "applies-cleanly#1"),
        ("The code is reachable from the network without any login.", "reachable-from#1"),
        ("The bug was found by a researcher at a large university.", "researcher-at#1"),
        ("Tell the people who need to know; nobody else for now.", "who-need-to-know#1"),
        ("Make sure the test suite passes on every architecture.", "test-suite#1"),
        ("An attacker is able to read other users' files on the host.", "is-able-to#1"),
        ("The option turns the vulnerable code path off for good.", "vulnerable-code#1"),
        ("As things stand we have backported the fix to the old branch.", "we-have#1"),
        ("Your own patches, if any, still apply on top of it all.", "if-any#1"),
        ("Some hosts that mirror the archive are affected, we fear.", "affected#1"),
        ("In the meantime, install packages only from your own mirror.", "until-then#1"),
        ("Installing the proof of concept must fail with a clear error.", "proof-of-concept#1"),
    ],
)
def test_version_2_varies_advisory_phrases(body, point):
    assert point in ids(body)


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        # Grammar the new wordings would break.
        ("We recommend that you do not push it to the public mirror.", "we-recommend-that-you"),
        ("The files attached to this mail are for the packagers.", "attached"),
        ("Please let us know your release dates when you have them.", "let-us-know"),
        ("Only those who need to know how it works get the details.", "who-need-to-know"),
        ("Check the issue tracker for the details of the whole thing.", "the-issue"),
        ("It runs on an entire cluster of build machines in parallel.", "entire"),
        ("We ran a vulnerable version of it in the lab on purpose.", "vulnerable"),
        ("Keep checking for new releases on the mirror every week.", "verifying"),
        ("We note that the mirror is slow to sync with the others.", "please-note-that"),
        ("Copies of it reached an affected host of the build farm.", "affected"),
        ("We have a mirror for the packages in our own data centre.", "we-have"),
    ],
)
def test_version_2_leaves_a_phrase_alone_where_a_wording_would_not_fit(body, rule):
    found = ids(body)
    # "an affected host" may vary, but only as "affected" / "impacted".
    parsed = tracing.body_parse(body, catalogue_version=V2)
    for point_id, options in (s for p in parsed.points for s in p.switches()):
        if point_id.startswith(f"{rule}#"):
            assert rule == "affected" and "vulnerable" not in options, found
            break
    else:
        assert not any(i.startswith(f"{rule}#") for i in found)


def test_a_three_way_wording_falls_back_to_two_ways_where_the_third_does_not_fit():
    three = tracing.body_parse("Some hosts are affected, we fear.", catalogue_version=V2)
    two = tracing.body_parse("Some hosts are affected by it, we fear.", catalogue_version=V2)
    assert three.points[0].options == ("affected", "impacted", "vulnerable")
    assert two.points[0].options == ("affected", "impacted")


def test_a_wording_is_found_across_a_line_break_and_written_on_one_line():
    body = "Please do not publish it at the disclosure\ntime, and nothing before then."
    parsed = tracing.body_parse(body, catalogue_version=V2)
    point = next(p for p in parsed.points if p.auto == "the-disclosure-time#1")
    assert point.options == ("the disclosure time", "the time of disclosure")
    assert tracing.body_render(parsed, tracing.body_as_written(parsed)).count("\n") == 0
    assert not tracing.body_parse("the disclosure\n\ntime", catalogue_version=V2).points


def test_a_wording_after_and_varies_too():
    body = "It works on Debian, Fedora and we are not aware of any other problem."
    assert ids(body)[:2] == ["serial-comma#1", "we-are-not-aware-of#1"]


def test_wordings_inside_list_items_win_over_the_order_of_the_items():
    body = (
        "Check these:\n\n- the unpacker rejects an archive that is too long;\n"
        "- installing the proof of concept fails cleanly.\n\nThat is all for now here."
    )
    found = ids(body)
    assert not any(i.startswith("list-order") for i in found)
    assert {"rejects#1", "proof-of-concept#1"} <= set(found)
    plain = "Check these:\n\n- one thing;\n- two thing.\n\nThat is all for now here."
    assert "list-order#1" in ids(plain)


@pytest.mark.parametrize("choice", [0, 1, 2, 3])
def test_each_wording_of_a_four_way_point_reads_back_as_itself(choice):
    body = "Thanks. We recommend that you patch every host on the list tonight."
    parsed = tracing.body_parse(body, catalogue_version=V2)
    point = next(p for p in parsed.points if p.auto == "we-recommend-that-you#1")
    choices = [choice if p is point else p.original for p in parsed.points]
    text = tracing.normalise(tracing.body_render(parsed, choices))
    seen = tracing.observe(tracing.points_of(parsed), text)
    assert seen[f"body:{point.index}"].choice == choice
