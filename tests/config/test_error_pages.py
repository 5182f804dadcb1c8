"""The 400, 403, 404 and 500 pages use the site's layout; the 500 page needs neither a
request nor the database, since either may be what failed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.views.defaults import bad_request, permission_denied

from config.errors import server_error


@pytest.mark.django_db
def test_a_missing_page_is_a_404_in_the_site_layout(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert 'class="site-header"' in html
    assert "<h1>Page not found</h1>" in html
    assert "favicon.svg" in html


def test_the_server_error_page_needs_no_database_and_no_request(settings):
    # No `db` fixture: pytest-django refuses any query, so a query here would fail.
    settings.SECURITY_TEAM_EMAIL = "psirt@example.org"
    response = server_error(None)
    html = response.content.decode()
    assert response.status_code == 500
    assert 'class="site-header"' in html
    assert "Something went wrong on our side" in html
    assert "psirt@example.org" in html
    # No account links: without a request nobody is known to be signed in or not.
    assert 'aria-label="Your account"' not in html


def test_the_server_error_page_falls_back_to_plain_html_when_its_template_breaks():
    response = server_error(None, template_name="no-such-template.html")
    assert response.status_code == 500
    assert b"Server error" in response.content


@pytest.mark.django_db
def test_a_forbidden_request_gets_the_styled_403_page():
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    response = permission_denied(request, PermissionDenied())
    html = response.content.decode()
    assert response.status_code == 403
    assert 'class="site-header"' in html
    assert "<h1>Not allowed</h1>" in html


@pytest.mark.django_db
def test_a_bad_request_gets_the_styled_400_page():
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    response = bad_request(request, Exception())
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in response.content.decode()
