"""Capturing log lines as the JSON formatter of settings.LOGGING writes them, with its
context filter, for tests that parse them."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from logging.config import DictConfigurator

from django.conf import settings


class Captured:
    def __init__(self, stream: io.StringIO):
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[dict]:
        """Every line, each of which must be one JSON object."""
        return [json.loads(line) for line in self.text.splitlines()]


@contextlib.contextmanager
def json_log_lines(level: int = logging.INFO):
    configurator = DictConfigurator(settings.LOGGING)
    formatter = configurator.configure_formatter(dict(settings.LOGGING["formatters"]["json"]))
    context = configurator.configure_filter(dict(settings.LOGGING["filters"]["context"]))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(context)
    handler.setLevel(level)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield Captured(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
