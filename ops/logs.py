"""What each log line knows about the request or task it belongs to: the request id, the
signed-in user's id and the Celery task's id, added by a logging filter from context
variables that the middleware below set (and reset) around each request.

The ids are ours to log: numbers and random tokens, never an address or a name. Code
that logs about a case or a notice passes their ids with `extra=` (e.g.
{"notice_id": ...}); the JSON formatter writes those as fields too. Nothing here reads a
request's body or a case's text.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from celery import current_task
from django.core.signals import request_finished

_request_id: ContextVar[str | None] = ContextVar("haulout_request_id", default=None)
_user_id: ContextVar[int | None] = ContextVar("haulout_user_id", default=None)

# An X-Request-ID from the proxy is kept when it looks like an id (a UUID, a hex or
# base64url token): short, and nothing that could forge a log line or carry text.
REQUEST_ID_HEADER = "X-Request-ID"
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_current() -> str | None:
    return _request_id.get()


class RequestIdMiddleware:
    """Outermost: one id per request, taken from X-Request-ID when sane, and sent back in
    the same header so a report from a user or the proxy's log leads to our lines."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if SANE_REQUEST_ID.match(offered) else uuid.uuid4().hex
        request.request_id = request_id
        # Set, not reset on the way out: Django logs a 4xx or 5xx answer after the last
        # middleware has returned, and that line needs the ids too. The end of the
        # request (request_finished, below) clears them; the next request sets its own.
        _request_id.set(request_id)
        _user_id.set(None)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class UserIdMiddleware:
    """After AuthenticationMiddleware: the signed-in user's id for the rest of the
    request. (The session is read anyway: the no-store middleware asks for the user.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        _user_id.set(user.pk if user is not None and user.is_authenticated else None)
        return self.get_response(request)


def _request_context_clear(**kwargs) -> None:
    _request_id.set(None)
    _user_id.set(None)


request_finished.connect(_request_context_clear, dispatch_uid="haulout-log-context")


class LogContextFilter(logging.Filter):
    """Adds request_id, user_id and task_id (each None outside its context) to every
    record, for the JSON formatter; the plain one ignores them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.user_id = _user_id.get()
        task = current_task
        request = getattr(task, "request", None) if task else None
        record.task_id = getattr(request, "id", None) if request is not None else None
        return True
