"""service_run: the one place a button's service call turns a refusal into a message."""

from __future__ import annotations

import pytest
from django.contrib import messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import RequestFactory

from core.views import service_run


@pytest.fixture
def request_with_messages():
    request = RequestFactory().post("/anywhere/")
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def shown(request) -> list[tuple[int, str]]:
    return [(message.level, message.message) for message in messages.get_messages(request)]


def test_it_returns_true_and_shows_the_success_message_when_the_service_succeeds(
    request_with_messages,
):
    calls = []

    ok = service_run(request_with_messages, lambda: calls.append("ran"), success="Done.")

    assert ok is True
    assert calls == ["ran"]
    assert shown(request_with_messages) == [(messages.SUCCESS, "Done.")]


def test_it_turns_a_validation_error_into_an_error_message_and_returns_false(
    request_with_messages,
):
    def refuse():
        raise ValidationError(["Already decided.", "Nothing changed."])

    ok = service_run(request_with_messages, refuse, success="Done.")

    assert ok is False
    assert shown(request_with_messages) == [(messages.ERROR, "Already decided. Nothing changed.")]


def test_it_does_not_catch_permission_denied_unless_asked(request_with_messages):
    def deny():
        raise PermissionDenied("Only an admin of this organisation can do this.")

    with pytest.raises(PermissionDenied):
        service_run(request_with_messages, deny, success="Done.")
    assert shown(request_with_messages) == []


def test_it_turns_permission_denied_into_an_error_message_when_asked(request_with_messages):
    def deny():
        raise PermissionDenied("Only an admin of this organisation can do this.")

    ok = service_run(request_with_messages, deny, success="Done.", permission_denied=True)

    assert ok is False
    assert shown(request_with_messages) == [
        (messages.ERROR, "Only an admin of this organisation can do this.")
    ]


def test_it_gives_a_plain_refusal_for_a_permission_denied_without_words(request_with_messages):
    def deny():
        raise PermissionDenied

    service_run(request_with_messages, deny, success="Done.", permission_denied=True)

    assert shown(request_with_messages) == [(messages.ERROR, "You cannot do this.")]


@pytest.mark.parametrize("permission_denied", [False, True])
def test_it_lets_any_other_error_through(request_with_messages, permission_denied):
    def broken():
        raise RuntimeError("a bug, not a refusal")

    with pytest.raises(RuntimeError):
        service_run(
            request_with_messages, broken, success="Done.", permission_denied=permission_denied
        )
    assert shown(request_with_messages) == []
