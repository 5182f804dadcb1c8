"""Tracing through the trace page's selector: two copies mixed, a decoy, a word that only
looks like a reference code, and the author's switches for the catalogue's points."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from core.models import AuditEvent
from embargo import tracing
from embargo.delivery.mail import notice_plaintext
from embargo.delivery.variants import notice_parsed
from embargo.models import Notice
from embargo.services import notice_update, notice_variation_set
from leaks.selectors import leak_trace
from tests.embargo.helpers import case_ready, notice_draft
from tests.embargo.tracing_world import deliveries_make, people_make

pytestmark = pytest.mark.django_db

# Forty sentences, each with two of the author's marks and some of the catalogue's
# wordings: enough evidence that the outcomes below hold whatever ids the copies get.
RICH_BODY = "\n\n".join(
    f"Item {n}: the attacker does not {{{{need|require}}}} access to host {n}, and it is "
    f"{{{{likely|probable}}}} that mirror {n} gets the fix before the disclosure."
    for n in range(40)
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n\n+")


@pytest.fixture
def traced(settings):
    settings.HAULOUT_TRACE_SECRET = "mixture test secret"
    case = case_ready()
    notice = notice_draft(case=case, body=RICH_BODY)
    Notice.objects.filter(pk=notice.pk).update(state=Notice.State.SENDING)
    _, members = people_make(30, prefix="mx")
    deliveries = deliveries_make(notice, members)
    copies = {d.pk: notice_plaintext(delivery=d).replace(d.reference_code, "") for d in deliveries}
    return {"case": case, "notice": notice, "deliveries": deliveries, "copies": copies}


def mixed(first: str, second: str) -> str:
    a, b = _SENTENCE.split(first), _SENTENCE.split(second)
    return " ".join(x if i % 2 == 0 else y for i, (x, y) in enumerate(zip(a, b, strict=False)))


def test_two_copies_mixed_sentence_by_sentence_name_their_two_sources(traced):
    first, second = traced["deliveries"][3], traced["deliveries"][17]
    text = mixed(traced["copies"][first.pk], traced["copies"][second.pk])

    result = leak_trace(vulnerability=traced["case"], text=text)

    named = {row.delivery.pk for row in result.named}
    assert named == {first.pk, second.pk}
    assert result.identified is None  # not one copy alone
    assert "mixture" in result.verdict.explanation


def test_neither_source_alone_explains_a_mixture(traced):
    first, second = traced["deliveries"][5], traced["deliveries"][9]
    text = mixed(traced["copies"][first.pk], traced["copies"][second.pk])
    result = leak_trace(vulnerability=traced["case"], text=text)
    by_pk = {row.delivery.pk: row for row in result.rows}
    # Each source's own copy differs from the text where the other one was pasted.
    assert by_pk[first.pk].score.mismatched and by_pk[second.pk].score.mismatched


def test_a_whole_copy_names_its_recipient_and_nobody_else(traced):
    target = traced["deliveries"][11]
    result = leak_trace(vulnerability=traced["case"], text=traced["copies"][target.pk])
    assert [row.delivery.pk for row in result.named] == [target.pk]
    assert result.identified.delivery.pk == target.pk


def test_a_decoy_worded_for_nobody_names_nobody(traced):
    parsed = notice_parsed(traced["notice"])
    sample = traced["deliveries"][0]
    decoy = tracing.variant_derive(
        secret=b"a secret nobody used", delivery_id=sample.pk, parsed=parsed
    )
    text = notice_plaintext(delivery=sample, variant=(decoy, parsed)).replace(
        sample.reference_code, ""
    )

    result = leak_trace(vulnerability=traced["case"], text=text)

    assert result.named == [] and result.identified is None
    assert result.verdict.nobody > 0.99


def test_a_ten_letter_word_is_not_taken_for_a_reference_code(traced):
    result = leak_trace(
        vulnerability=traced["case"], text="EMBARGOES HELP; see ABCDEFGHIJ and SECURITYTEAM."
    )
    assert result.verdict.observed_points == 0
    assert result.named == [] and result.rows == []
    assert "none of the variation points" in result.verdict.explanation


def test_a_real_reference_code_still_names_its_copy(traced):
    target = traced["deliveries"][2]
    result = leak_trace(vulnerability=traced["case"], text=f"ref: {target.reference_code}")
    assert result.identified.delivery.pk == target.pk and result.identified.reference_found


# ---------------------------------------------------------------- the author's switches


def test_the_author_switches_a_catalogue_point_off_and_it_is_audited(staff_reviewer):
    notice = notice_draft(case=case_ready(actor=staff_reviewer), body=RICH_BODY)
    first = next(p.auto for p in notice_parsed(notice).points if p.auto)

    notice_variation_set(notice=notice, actor=staff_reviewer, off=[first])

    notice.refresh_from_db()
    assert notice.variation_off == [first]
    assert first not in {p.auto for p in notice_parsed(notice).points}
    event = AuditEvent.objects.get(action="notice.variation_set")
    assert event.data["off"] == 1 and set(event.data) == {"off", "points"}


def test_an_unknown_point_or_a_sent_notice_changes_nothing(staff_reviewer):
    notice = notice_draft(case=case_ready(actor=staff_reviewer), body=RICH_BODY)
    with pytest.raises(ValidationError):
        notice_variation_set(notice=notice, actor=staff_reviewer, off=["no-such#9"])
    Notice.objects.filter(pk=notice.pk).update(state=Notice.State.SENDING)
    with pytest.raises(ValidationError):
        notice_variation_set(notice=notice, actor=staff_reviewer, off=[])
    notice.refresh_from_db()
    assert notice.variation_off == []
    assert not AuditEvent.objects.filter(action="notice.variation_set").exists()


def test_a_new_body_clears_the_switches(staff_reviewer):
    notice = notice_draft(case=case_ready(actor=staff_reviewer), body=RICH_BODY)
    first = next(p.auto for p in notice_parsed(notice).points if p.auto)
    notice_variation_set(notice=notice, actor=staff_reviewer, off=[first])
    fields = {"outer_subject": notice.outer_subject, "subject": notice.subject,
              "audience_all": True}  # fmt: skip
    notice_update(notice=notice, actor=staff_reviewer, body=RICH_BODY, **fields)
    notice.refresh_from_db()
    assert notice.variation_off == [first]  # same text: the choice stands
    notice_update(notice=notice, actor=staff_reviewer, body=RICH_BODY + "\n\nMore.", **fields)
    notice.refresh_from_db()
    assert notice.variation_off == []


def test_the_preview_shows_a_sample_copy_the_density_and_the_switches(mfa_client, staff_reviewer):
    notice = notice_draft(case=case_ready(actor=staff_reviewer), body=RICH_BODY)
    client = mfa_client(staff_reviewer)
    page = client.get(reverse("embargo:notice_preview", kwargs={"pk": notice.pk}))
    text = page.content.decode()
    assert page.status_code == 200
    assert '<mark class="variation author"' in text and '<mark class="variation catalogue"' in text
    assert "{{need|require}}" not in text  # the markup itself never shows
    assert "Shortest excerpt that is sure to name one person" in text
    first = next(p.auto for p in notice_parsed(notice).points if p.auto)
    assert f'value="{first}"' in text

    shown = [p.auto for p in notice_parsed(notice).points if p.auto]
    response = client.post(
        reverse("embargo:notice_variation", kwargs={"pk": notice.pk}),
        {"shown": shown, "on": shown[1:]},
    )
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.variation_off == [first]


JOINED_BODY = (
    "Some fixed words first. We will publish it at the disclosure time tonight.\n\n"
    "The rest of the notice is plain fixed text for the readers."
)


def test_each_part_of_a_joined_point_has_its_own_switch(mfa_client, staff_reviewer):
    notice = notice_draft(case=case_ready(actor=staff_reviewer), body=JOINED_BODY)
    joined = next(p for p in notice_parsed(notice).points if tracing.JOIN in p.auto)
    first, second = (point_id for point_id, _ in joined.switches())
    page = mfa_client(staff_reviewer).get(
        reverse("embargo:notice_preview", kwargs={"pk": notice.pk})
    )
    assert f'value="{first}"' in page.content.decode()
    assert f'value="{second}"' in page.content.decode()

    notice_variation_set(notice=notice, actor=staff_reviewer, off=[first])

    notice.refresh_from_db()
    ids = {point_id for p in notice_parsed(notice).points for point_id, _ in p.switches()}
    assert second in ids and first not in ids
