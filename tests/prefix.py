"""Serving the site under a path prefix (https://example.org/haulout/), as tests see it.

A WSGI server mounted at /haulout hands Django SCRIPT_NAME=/haulout and the rest of the
path as PATH_INFO, and Django's WSGIHandler makes the prefix the one reverse() puts in
front of every URL. Django's test client does neither, so PrefixedClient does both: give
it the URL a browser would ask for (/haulout/staff/...) or the bare path (/staff/...).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.test import Client
from django.urls import clear_script_prefix, get_script_prefix, set_script_prefix

SCRIPT_NAME = "/haulout"


class PrefixedClient(Client):
    def __init__(self, script_name: str = SCRIPT_NAME, **defaults):
        super().__init__(**defaults)
        self.script_name = script_name.rstrip("/")

    def request(self, **request):
        path = request.get("PATH_INFO", "/")
        if path == self.script_name or path.startswith(self.script_name + "/"):
            path = path[len(self.script_name) :] or "/"
        request.update(SCRIPT_NAME=self.script_name, PATH_INFO=path)
        before = get_script_prefix()
        set_script_prefix(self.script_name + "/")
        try:
            return super().request(**request)
        finally:
            # The prefix is per thread: never leave it behind for the next test.
            set_script_prefix(before)


@contextmanager
def served_under(script_name: str = SCRIPT_NAME) -> Iterator[None]:
    """reverse() in the test itself gives the prefixed URLs too, as links on a page do."""
    set_script_prefix(script_name.rstrip("/") + "/")
    try:
        yield
    finally:
        clear_script_prefix()
