"""Layout rules that hold on every page (the browser tests check them at 390 px; these
catch a new template early): tables scroll inside their own box, one date format, the
favicon and the configured security contact."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.template import Context, Template

from embargo.forms import UtcDateTimeField

TEMPLATES = Path(settings.BASE_DIR) / "templates"
# The notice preview page is being reworked in another branch (issue 20, preview part);
# its tables get the wrapper there.
WRAPPER = re.compile(
    r'<div class="table-scroll" role="region" aria-label="[^"]+" tabindex="0">\s*$'
)


def _unwrapped_tables() -> list[str]:
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        name = str(path.relative_to(TEMPLATES))
        text = path.read_text()
        for match in re.finditer(r"<table\b", text):
            before = text[: match.start()].rstrip(" \t").splitlines()
            if not before or not WRAPPER.search(before[-1]):
                found.append(f"{name}:{text.count(chr(10), 0, match.start()) + 1}")
    return found


def test_every_table_sits_in_a_focusable_box_that_scrolls_sideways():
    assert _unwrapped_tables() == []


def test_a_date_shown_without_a_format_is_iso_24_hour_utc():
    moment = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
    html = Template("{{ moment }}|{{ moment|date }}|{{ moment|date:'SHORT_DATETIME_FORMAT' }}")
    assert (
        html.render(Context({"moment": moment}))
        == "2026-05-04 14:00 UTC|2026-05-04|2026-05-04 14:00"
    )


def test_a_utc_time_box_shows_yyyy_mm_dd_hh_mm_not_the_browsers_locale():
    field = UtcDateTimeField()
    html = field.widget.render("when", field.prepare_value(datetime(2026, 5, 4, 14, 0, tzinfo=UTC)))
    assert 'type="text"' in html
    assert 'value="2026-05-04 14:00"' in html
    assert 'placeholder="YYYY-MM-DD HH:MM"' in html


def test_a_utc_time_box_accepts_the_shown_format_and_the_iso_one():
    field = UtcDateTimeField()
    expected = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)
    assert field.clean("2026-05-04 14:00") == expected
    assert field.clean("2026-05-04T14:00") == expected


@pytest.mark.django_db
def test_every_page_links_the_favicon_that_is_in_static(client):
    html = client.get("/").content.decode()
    assert 'rel="icon"' in html
    assert 'href="/static/favicon.svg"' in html
    assert (Path(settings.BASE_DIR) / "static" / "favicon.svg").read_text().startswith("<svg")


@pytest.mark.django_db
def test_the_footer_names_the_configured_security_contact(client, settings):
    settings.SECURITY_TEAM_EMAIL = "psirt@project.example.org"
    html = client.get("/").content.decode()
    footer = html[html.index('<footer class="site-footer') :]
    assert '<a href="mailto:psirt@project.example.org">psirt@project.example.org</a>' in footer
    assert "security@localhost" not in footer


APPS = ("core", "distributors", "embargo", "leaks", "intake", "feedback", "advisories")


def test_no_form_asks_the_browser_for_a_locale_date_picker():
    # type=date and type=datetime-local show the reader's locale (05/04/2026, 02:00 PM)
    # next to our "UTC, 24-hour" hints; every date box is plain text in YYYY-MM-DD.
    found = []
    for app in APPS:
        for path in sorted((Path(settings.BASE_DIR) / app).rglob("*.py")):
            text = path.read_text()
            for needle in ("datetime-local", '"type": "date"', "'type': 'date'"):
                if needle in text:
                    found.append(f"{path.relative_to(settings.BASE_DIR)}: {needle}")
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        if 'type="date"' in text or 'type="datetime-local"' in text:
            found.append(str(path.relative_to(TEMPLATES)))
    assert found == []
