"""Tracing a leaked copy to its recipient: the variation engine, the rendering hook and the
ranking (no gpg: the plaintext inside the encryption is rendered directly)."""

from __future__ import annotations

import random

import pytest

from embargo import tracing
from embargo.delivery.mail import notice_plaintext
from embargo.delivery.variants import delivery_variants
from embargo.models import DeliveryVariation, Notice
from leaks.selectors import leak_trace, notice_trace_capacity
from tests.embargo.helpers import case_ready, notice_draft
from tests.embargo.tracing_world import deliveries_make, leaked_reflowed, people_make

pytestmark = pytest.mark.django_db

TRACED_BODY = """\
A crafted archive can {{overwrite|corrupt}} the heap of the unpacker when it
{{reads|parses}} a long file name. The bug is in the {{path|name}} handling code and
has been there {{since|from}} release 2.0.

Please {{apply|install}} the attached patch to every {{supported|maintained}} branch
and {{rebuild|recompile}} the package. Do not {{publish|push}} the fixed source before
the disclosure time; the {{advisory|announcement}} goes out then.

Your users are {{safe|protected}} once the update is {{installed|deployed}}; a
{{restart|reload}} of the service is not needed.
"""


@pytest.fixture
def traced(settings):
    settings.HAULOUT_TRACE_SECRET = "test trace secret"
    case = case_ready()
    notice = notice_draft(case=case, body=TRACED_BODY)
    # Catalogue 0: the author's twelve marks and the framing only, as notices were before
    # the catalogue (tests/embargo/test_tracing_catalogue.py has the catalogue's own).
    Notice.objects.filter(pk=notice.pk).update(state=Notice.State.SENDING, tracing_catalogue=0)
    notice.refresh_from_db()
    _, members = people_make(200, prefix="tr")
    return {"case": case, "notice": notice, "deliveries": deliveries_make(notice, members)}


def test_the_body_of_the_accuracy_test_has_twelve_points():
    assert len(tracing.body_parse(TRACED_BODY).points) == 12


def test_every_one_of_200_reflowed_copies_without_reference_traces_to_its_recipient(traced):
    rng = random.Random(5)
    copies = {d.pk: notice_plaintext(delivery=d) for d in traced["deliveries"]}
    assert len(set(copies.values())) == 200
    first = 0
    for delivery in traced["deliveries"]:
        leak = leaked_reflowed(copies[delivery.pk], delivery.reference_code, rng)
        assert delivery.reference_code not in leak
        result = leak_trace(vulnerability=traced["case"], text=leak)
        assert result.identified is not None
        if result.rows[0].delivery.pk == delivery.pk:
            first += 1
    assert first == 200


def test_the_choices_of_each_copy_are_recorded_and_reused(traced, settings):
    delivery = traced["deliveries"][0]
    text = notice_plaintext(delivery=delivery)
    record = DeliveryVariation.objects.get(delivery=delivery)
    assert len(record.choices["body"]) == 12
    # A rotated secret does not change a copy that was already rendered.
    settings.HAULOUT_TRACE_SECRET = "rotated"
    assert notice_plaintext(delivery=delivery) == text
    assert DeliveryVariation.objects.filter(delivery=delivery).count() == 1


def test_a_batch_records_every_copy_s_choices_in_one_statement(traced, django_assert_num_queries):
    copies = traced["deliveries"][:10]

    with django_assert_num_queries(1):
        variants = delivery_variants(deliveries=copies)

    records = dict(
        DeliveryVariation.objects.filter(delivery__in=copies).values_list("delivery_id", "choices")
    )
    assert set(records) == {copy.pk for copy in copies}
    assert all(records[pk] == variant.as_record() for pk, (variant, _) in variants.items())


def test_a_batch_keeps_what_a_copy_said_before_under_a_rotated_secret(traced, settings):
    copies = traced["deliveries"][:4]
    before = notice_plaintext(delivery=copies[0])  # rendered (and recorded) once already
    settings.HAULOUT_TRACE_SECRET = "rotated"

    variants = delivery_variants(deliveries=copies)

    assert notice_plaintext(delivery=copies[0], variant=variants[copies[0].pk]) == before
    assert DeliveryVariation.objects.filter(delivery__in=copies).count() == 4
    # The other three are new, so they follow the new secret, like a single rendering.
    for copy in copies[1:]:
        assert variants[copy.pk][0].as_record() == (
            DeliveryVariation.objects.get(delivery=copy).choices
        )
        assert notice_plaintext(delivery=copy) == notice_plaintext(
            delivery=copy, variant=variants[copy.pk]
        )


def test_a_copy_of_another_cases_notice_ranks_nobody(traced):
    other_case = case_ready(title="Another issue")
    other = notice_draft(case=other_case, body=TRACED_BODY)
    _, members = people_make(1, prefix="stranger")
    stranger = deliveries_make(other, members)[0]
    for delivery in traced["deliveries"]:
        notice_plaintext(delivery=delivery)
    leak = leaked_reflowed(
        notice_plaintext(delivery=stranger), stranger.reference_code, random.Random(1)
    )
    result = leak_trace(vulnerability=traced["case"], text=leak)
    assert result.rows == []
    assert result.identified is None and result.named == []
    # With 14 points read, some pairs of copies, or a copy beside outside text, explain
    # a stranger's wording in part (a chance run of matching points), which takes some
    # of the probability: most of it stays with "none of them", and nobody is listed.
    assert result.verdict.nobody > 0.5
    assert result.verdict.observed_points >= 12


def test_an_unrelated_text_ranks_nobody(traced):
    for delivery in traced["deliveries"][:20]:
        notice_plaintext(delivery=delivery)
    result = leak_trace(
        vulnerability=traced["case"],
        text="Release notes: this version improves start-up time and fixes typos.",
    )
    assert result.rows == [] and result.identified is None
    assert result.verdict.observed_points == 0


def test_a_reference_code_alone_identifies_the_copy(traced):
    delivery = traced["deliveries"][7]
    notice_plaintext(delivery=delivery)
    result = leak_trace(
        vulnerability=traced["case"], text=f"someone posted ref {delivery.reference_code.lower()}"
    )
    assert result.identified is not None and result.identified.delivery.pk == delivery.pk
    assert result.identified.reference_found


def test_a_short_excerpt_ranks_its_recipient_but_does_not_claim_certainty(traced):
    delivery = traced["deliveries"][3]
    text = notice_plaintext(delivery=delivery)
    for other in traced["deliveries"]:
        notice_plaintext(delivery=other)
    # Only the first sentence of the body: two variation points.
    excerpt = text[text.index("A crafted") :].split(".")[0]
    result = leak_trace(vulnerability=traced["case"], text=excerpt)
    assert result.identified is None
    assert delivery.pk in [row.delivery.pk for row in result.rows]


def test_within_a_point_no_framing_wording_contains_another():
    for name, options in tracing.FRAMING.items():
        normalised = [tracing.normalise(option) for option in options]
        assert len(set(normalised)) == len(options), name
        for a in normalised:
            for b in normalised:
                assert a == b or a not in b, (name, a, b)


def test_marked_alternatives_parse_and_render():
    parsed = tracing.body_parse("It is {{ patched | fixed }} now, {{x}} and {{a|a}} stay.")
    assert [p.options for p in parsed.points] == [("patched", "fixed")]
    assert tracing.body_render(parsed, [1]) == "It is fixed now, {{x}} and a stay."


def test_normalising_ignores_case_wrapping_quotes_and_emphasis():
    quoted = tracing.normalise("> Hello\n>   **World**\n\n  again")
    assert quoted.strip() == tracing.normalise("hello world again")


def test_the_trace_secret_is_derived_with_its_own_purpose():
    derived = tracing.trace_secret_derive(secret_key="k")
    assert derived != b"k" and derived == tracing.trace_secret_derive(secret_key="k")
    assert tracing.trace_secret_derive(secret_key="k", configured="s") == b"s"


def test_capacity_tells_the_author_whom_the_body_can_tell_apart(traced):
    capacity = notice_trace_capacity(notice=traced["notice"])
    assert capacity.body_points == 12 and capacity.audience == 200
    assert capacity.body_bits == 12
    # 4096 body variants for 200 people: some share a body; the framing separates them.
    assert not capacity.body_distinguishes_audience
    assert capacity.total_distinguishes_audience
    small = tracing.capacity(body="no points here", audience=1)
    assert small.body_points == 0 and small.body_bits == 0
    unmarked = tracing.capacity(body="no points here", audience=3)
    assert unmarked.body_shared == 3 and not unmarked.body_distinguishes_audience


def test_each_choice_is_hmac_sha256_of_the_copy_and_the_point_as_it_always_was():
    # A copy with no record is worded again from this derivation, so it must not drift:
    # HMAC-SHA256(secret, "<delivery id>:<point>"), its first 8 bytes, modulo the options.
    import hashlib
    import hmac

    secret = b"s" * 32
    parsed = tracing.body_parse("Fix it {{now|today|at once}}, then {{tell|inform}} users.")
    variant = tracing.variant_derive(secret=secret, delivery_id=4242, parsed=parsed)

    def expected(label: str, count: int) -> int:
        digest = hmac.new(secret, f"4242:{label}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") % count

    assert variant.body == (expected("body:0", 3), expected("body:1", 2))
    assert variant.frame == {
        name: expected(f"frame:{name}", len(tracing.FRAMING[name]))
        for name in tracing.FRAMING_ORDER
    }
