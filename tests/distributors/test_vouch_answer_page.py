"""The voucher's page after they answered: it says what they did, and the box under a
confirmed vouch asks for the reason to take it back, not for the statement again."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from distributors.models import Vouch
from tests.conftest import sign_in_with_mfa
from tests.factories import VouchFactory

pytestmark = pytest.mark.django_db


def page(vouch) -> str:
    client = sign_in_with_mfa(Client(), vouch.voucher)
    response = client.get(reverse("distributors:vouch_detail", args=[vouch.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_waiting_request_asks_the_question_and_for_the_statement():
    vouch = VouchFactory(
        state=Vouch.State.REQUESTED, statement="", application__organization__name="Seal OS"
    )
    content = page(vouch)
    assert "<h1>Vouch for Seal OS?</h1>" in content
    assert "Required to confirm" in content


def test_a_confirmed_vouch_says_so_and_asks_why_it_would_be_taken_back():
    vouch = VouchFactory(state=Vouch.State.CONFIRMED, application__organization__name="Seal OS")
    content = page(vouch)
    assert "<h1>You vouch for Seal OS</h1>" in content
    assert "Why you take it back" in content
    assert "Required to confirm" not in content
    assert "Take back my vouch" in content


def test_a_declined_request_says_it_was_declined():
    vouch = VouchFactory(state=Vouch.State.DECLINED, application__organization__name="Seal OS")
    assert "<h1>You declined to vouch for Seal OS</h1>" in page(vouch)
