"""The Atom feed of published advisories, for people's feed readers and for machines that
poll for new ones. Entries exist only for disclosed cases (advisories.selectors)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from advisories.common import absolute_url, advisory_url, published_at
from advisories.selectors import advisories_for_feed
from core.markdown import markdown_render
from embargo.models import Vulnerability


class AdvisoriesFeed(Feed):
    """Links are absolute on SITE_URL (never the request's Host), so every reader sees the
    same entry ids; the syndication framework leaves absolute links alone."""

    feed_type = Atom1Feed

    def title(self) -> str:
        return f"{settings.PROJECT_NAME}: security advisories"

    def subtitle(self) -> str:
        return f"Disclosed vulnerabilities in {settings.PROJECT_NAME}, newest change first."

    def link(self) -> str:
        return absolute_url(reverse("embargo:advisory_list"))

    def feed_url(self) -> str:
        return absolute_url(reverse("advisories:feed"))

    def author_name(self) -> str:
        return settings.HAULOUT_CSAF_PUBLISHER_NAME

    def items(self) -> list[Vulnerability]:
        return advisories_for_feed()

    def item_title(self, item: Vulnerability) -> str:
        return f"{item.public_id}: {item.title}"

    def item_description(self, item: Vulnerability) -> str:
        # Atom's summary is marked as HTML: the public description, sanitised as on the
        # advisory page. The private summary is never read here.
        return markdown_render(item.public_description or item.title)

    def item_link(self, item: Vulnerability) -> str:
        return advisory_url(item)

    def item_guid(self, item: Vulnerability) -> str:
        return advisory_url(item)

    def item_pubdate(self, item: Vulnerability):
        return published_at(item)

    def item_updateddate(self, item: Vulnerability):
        # Annotated by the selector: the newest revision, or the disclosure.
        return item.last_published_at
