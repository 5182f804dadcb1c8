import sys

from django.test import RequestFactory
from django.views.debug import ExceptionReporter

CANARY = "the walrus patches CVE-2026-99999 quietly"


def _report(settings, *, debug: bool) -> str:
    settings.DEBUG = debug
    request = RequestFactory().post("/staff/notices/1/", {"body": CANARY, "subject": "x"})
    plaintext = CANARY  # noqa: F841 (a local variable the report must not show)
    try:
        raise RuntimeError("gpg failed")
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        return reporter.get_traceback_text() + reporter.get_traceback_html()


def test_an_error_report_never_shows_posted_text_or_local_variables(settings):
    text = _report(settings, debug=False)
    assert "gpg failed" in text
    assert "body" in text  # the parameter is named, its value is not
    assert CANARY not in text


def test_the_debug_error_page_hides_them_too(settings):
    assert CANARY not in _report(settings, debug=True)
