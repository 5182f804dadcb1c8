"""How well a leaked text is traced to its recipient, by the kind of leak.

    .venv/bin/python benchmarks/tracing.py --recipients 1000 [--samples 40] [--body FILE]

--body FILE traces copies of another notice body (Markdown, as an author writes it)
instead of the built-in one: the catalogue's rules were written while looking at the
built-in notice, so a text written without looking at them (benchmarks/heldout-notice.md)
says how far the figures carry over to notices nobody tuned for.

Builds a realistic notice of about 300 words (headings, a list, a few of the author's own
{{a|b}} marks), sends it to N need-to-know people through the real service
(notice_send), renders every copy with the code the worker uses (delivery_variants and
notice_plaintext: the text that is encrypted), then makes leaked texts of each kind and
traces each one with leaks.selectors.leak_trace, the selector behind the trace page.

Kinds: whole copies re-wrapped; chat pastes (quoted, typography changed, Markdown
half-stripped); HTML round trips (rendered to HTML by the portal's Markdown, read back as
text); contiguous excerpts of 50% and 30% of the copy; whole copies with typos; two
people's copies mixed sentence by sentence; decoys (a copy worded for nobody). The
reference code is always removed.

Per kind it prints: named correctly, named wrongly (anyone named who is not a source),
undecided. A mixture counts as correct when everyone named is one of its two sources.
Database: a scratch database next to DATABASE_URL (PostgreSQL) or a temporary SQLite
file. Nothing here is timed; the last line sums it up:
    tracing recipients=N whole=… excerpt50=… excerpt30=… mixture=… wrong=… decoy_named=…
"""

from __future__ import annotations

import argparse
import html
import random
import re
import sys
import textwrap
import time
import uuid
from html.parser import HTMLParser
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from benchmarks.scratch import django_scratch_run  # noqa: E402

VAR_DIR = BASE_DIR / "var" / "bench-tracing"
NOTICE_BODY = """\
## Summary

A heap buffer overflow in the archive unpacker allows a remote attacker to execute
arbitrary code when a user installs a crafted package. The unpacker trusts the length
field of each entry in the archive header and copies the file name into a fixed-size
buffer without checking it. It is reachable from `pkg install`, `pkg verify` and the
mirror sync tool, so any host that installs packages from a mirror it does not control
is affected.

## Affected versions

Every release from 2.0.0 up to and including 2.7.0. The 1.x series does not contain
the vulnerable code, and neither do the Windows installers.

## The fix

Release 2.7.1 {{fixes|corrects}} the length check; we will publish it at the disclosure
time. The patch is attached. It applies cleanly to the 2.6 and 2.7 branches, and we have
back-ported it to 2.5 for the distributions that still ship it. Please build and test
your packages now, but do not push them to public repositories before the disclosure
time.

We recommend that you check the following before you ship:

- the unpacker rejects an archive whose header claims a name longer than 255 bytes;
- installing the attached proof of concept fails with a clear error instead of crashing;
- your own patches to the unpacker, if any, still apply on top of the fix;
- the test suite passes on every architecture you {{build|support}}.

## Mitigation

Until then, install packages only from mirrors you control, over HTTPS, and compare each
archive's checksum with the signed release announcement. There is no configuration
option that turns the vulnerable code path off, and we are not aware of any
exploitation so far.

## Credit

The issue was reported by a researcher at an example university, who has asked to be
credited in the advisory. Please don't share the report or the patch outside the people
in your organisation who need to know; if you think someone else needs it, {{ask us
first|check with us first}}.
"""
KINDS = ("whole", "chat", "html", "excerpt50", "excerpt30", "typos", "mixture", "decoy")


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)

    def handle_starttag(self, tag, attrs):
        if tag in {"p", "li", "h1", "h2", "h3", "br", "ul", "ol", "pre"}:
            self.parts.append("\n")


def html_round_trip(text: str) -> str:
    from core.markdown import markdown_render

    reader = _Text()
    reader.feed(str(markdown_render(text)))
    return html.unescape("".join(reader.parts))


def without_code(text: str, code: str) -> str:
    return "\n".join(line for line in text.splitlines() if code not in line)


def reflowed(text: str, rng: random.Random) -> str:
    width = rng.choice([38, 55, 72, 90])
    paragraphs = [" ".join(p.split()) for p in text.split("\n\n")]
    return "\n\n".join(textwrap.fill(p, width=width) for p in paragraphs if p)


def chat_paste(text: str, rng: random.Random) -> str:
    text = text.replace("'", "\u2019").replace(" - ", " \u2014 ").replace("...", "\u2026")
    text = re.sub(r"(?m)^#+ ", "*", text) if rng.random() < 0.5 else text
    text = re.sub(r'"([^"]*)"', "\u201c\\1\u201d", text)
    lines = [" ".join(p.split()) for p in text.split("\n\n") if p.strip()]
    prefix = rng.choice(["> ", "", "  "])
    return "\n".join(prefix + line for line in lines)


def excerpt(text: str, share: float, rng: random.Random) -> str:
    words = text.split()
    length = max(1, int(len(words) * share))
    start = rng.randrange(0, len(words) - length + 1)
    return " ".join(words[start : start + length])


def typos(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for index in rng.sample(range(len(words)), k=max(1, len(words) // 40)):
        word = words[index]
        if len(word) > 3:
            i = rng.randrange(1, len(word) - 2)
            words[index] = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return " ".join(words)


_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\n+")


def mixture(first: str, second: str) -> str:
    """Sentence by sentence, alternately from each copy: the same notice, two wordings."""
    a, b = _SENTENCE.split(first), _SENTENCE.split(second)
    return " ".join(x if i % 2 == 0 else y for i, (x, y) in enumerate(zip(a, b, strict=False)))


def build(count: int, body: str):
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from devsupport.keyring import people_keys
    from devsupport.world import bulk_people, case_ready, notice_draft
    from embargo.models import Delivery
    from embargo.services import notice_send

    call_command("migrate", verbosity=0)
    keys = people_keys(count, BASE_DIR / "var" / "bench-keys")
    bulk_people(keys)
    staff = get_user_model().objects.create(
        username="bench-staff", email="staff@bench.example.org", is_staff=True
    )
    case = case_ready(actor=staff)
    notice = notice_draft(case=case, actor=staff, body=body)
    notice_send(notice=notice, actor=staff)
    deliveries = list(
        Delivery.objects.filter(notice=notice, state=Delivery.State.PENDING)
        .select_related("notice__vulnerability")
        .order_by("pk")
    )
    return case, notice, deliveries


def copies_render(deliveries) -> dict[int, str]:
    from embargo.delivery.mail import notice_plaintext
    from embargo.delivery.variants import delivery_variants

    copies = {}
    for start in range(0, len(deliveries), 200):
        batch = deliveries[start : start + 200]
        variants = delivery_variants(deliveries=batch)
        for delivery in batch:
            text = notice_plaintext(delivery=delivery, variant=variants[delivery.pk])
            copies[delivery.pk] = without_code(text, delivery.reference_code)
    return copies


def decoy_text(notice, sample) -> str:
    """A copy worded from a secret nobody's copy used: plausible, and nobody's."""
    from embargo import tracing
    from embargo.delivery.mail import notice_plaintext
    from embargo.delivery.variants import notice_parsed

    parsed = notice_parsed(notice)
    variant = tracing.variant_derive(
        secret=f"decoy {uuid.uuid4()}".encode(), delivery_id=sample.pk, parsed=parsed
    )
    text = notice_plaintext(delivery=sample, variant=(variant, parsed))
    return without_code(text, sample.reference_code)


def leaks_make(kind, *, deliveries, copies, notice, rng):
    """(text, the true sources) for one sample of a kind."""
    target = rng.choice(deliveries)
    text = copies[target.pk]
    if kind == "whole":
        return reflowed(text, rng), {target.pk}
    if kind == "chat":
        return chat_paste(text, rng), {target.pk}
    if kind == "html":
        return html_round_trip(text), {target.pk}
    if kind == "excerpt50":
        return excerpt(text, 0.5, rng), {target.pk}
    if kind == "excerpt30":
        return excerpt(text, 0.3, rng), {target.pk}
    if kind == "typos":
        return typos(reflowed(text, rng), rng), {target.pk}
    if kind == "mixture":
        other = rng.choice([d for d in deliveries[:50] if d.pk != target.pk])
        return mixture(text, copies[other.pk]), {target.pk, other.pk}
    return decoy_text(notice, target), set()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=40, help="leaked texts per kind")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--body", type=Path, help="a notice body to use instead of the built-in one"
    )
    args = parser.parse_args(argv)
    return django_scratch_run(lambda: _run(args), var_dir=VAR_DIR)


def _run(args) -> int:
    from embargo.delivery.variants import notice_parsed
    from leaks.selectors import leak_trace, notice_trace_capacity

    started = time.monotonic()
    body = args.body.read_text() if args.body else NOTICE_BODY
    case, notice, deliveries = build(args.recipients, body)
    copies = copies_render(deliveries)
    capacity = notice_trace_capacity(notice=notice)
    parsed = notice_parsed(notice)
    print(
        f"notice: {len(body.split())} words, {capacity.author_points} author points, "
        f"{capacity.catalogue_points} catalogue points, body {capacity.body_bits:.1f} bits, "
        f"whole copy {capacity.total_bits:.1f} bits; naming one of {capacity.audience} needs "
        f"{capacity.needed_bits:.1f}; shortest sure excerpt: "
        f"{capacity.density.paragraphs} of {capacity.density.total_paragraphs} paragraphs, "
        f"{capacity.density.words} of {capacity.density.total_words} words "
        f"(set up in {time.monotonic() - started:.0f}s; {len(parsed.points)} body points)",
        file=sys.stderr,
    )
    rng = random.Random(args.seed)
    totals = {}
    for kind in KINDS:
        right = wrong = undecided = 0
        for _ in range(args.samples):
            text, sources = leaks_make(
                kind, deliveries=deliveries, copies=copies, notice=notice, rng=rng
            )
            result = leak_trace(vulnerability=case, text=text)
            named = {row.delivery.pk for row in result.named}
            if not named:
                undecided += 1
            elif named <= sources:
                right += 1
            else:
                wrong += 1
        totals[kind] = (right, wrong, undecided)
        print(
            f"{kind:10} named correctly {right:3}/{args.samples}  named wrongly {wrong:3}  "
            f"undecided {undecided:3}",
            flush=True,
        )
    share = {kind: totals[kind][0] / args.samples for kind in KINDS}
    wrong_total = sum(totals[kind][1] for kind in KINDS if kind != "decoy")
    print(
        f"tracing recipients={args.recipients} samples={args.samples} "
        f"whole={share['whole']:.2f} chat={share['chat']:.2f} html={share['html']:.2f} "
        f"excerpt50={share['excerpt50']:.2f} excerpt30={share['excerpt30']:.2f} "
        f"typos={share['typos']:.2f} mixture={share['mixture']:.2f} "
        f"wrong={wrong_total} decoy_named={totals['decoy'][1]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
