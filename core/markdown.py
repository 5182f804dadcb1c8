"""Markdown written by staff (the embargo policy), rendered for the browser.

Markdown passes raw HTML through untouched, so its output is never trusted: nh3 then keeps
only the tags plain Markdown itself produces, only http(s)/mailto links, and drops script
and style elements with their content. What comes out is safe to mark safe."""

from __future__ import annotations

import re

import markdown as markdown_lib
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
        "ul", "ol", "li", "blockquote", "pre", "code",
        "em", "strong", "a",
        "table", "thead", "tbody", "tr", "th", "td",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# nh3 leaves headings with no attribute, so their tags are exactly these.
HEADING_TAG = re.compile(r"<(/?)h([1-6])>")
# Removed together with everything inside them, not just unwrapped.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template"})


def markdown_render(text: str, *, top_heading: int = 1) -> SafeString:
    """Markdown to sanitised HTML, ready for a template without |safe. `top_heading` is
    the level a `#` heading gets: 2 inside a page whose own title is the h1, so the page
    keeps one main heading (a screen reader's outline starts there)."""
    html = markdown_lib.markdown(text or "", extensions=["sane_lists", "tables"])
    cleaned = nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    shift = top_heading - 1
    if shift:
        cleaned = HEADING_TAG.sub(lambda tag: f"<{tag[1]}h{min(int(tag[2]) + shift, 6)}>", cleaned)
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 just above
