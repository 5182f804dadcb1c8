"""Small helpers for the server-drawn pictures (inline SVG in the page, no JavaScript).

Every picture is an `<svg role="img">` with a `<title>` and a `<desc>` and a viewBox, so
it scales to the width of its box (the stylesheet sets width 100%) and a screen reader
hears a summary; the table or list next to it stays the full text alternative. No style
attributes: the CSP forbids inline styles, so looks come from classes in haulout.css
and SVG presentation attributes."""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def svg_attrs(**attrs) -> str:
    """`key="value"` pairs, escaped; underscores in names become dashes, None is left out."""
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.1f}"
        parts.append(f'{name.rstrip("_").replace("_", "-")}="{escape(value)}"')
    return " ".join(parts)


def svg_element(tag: str, text: str | None = None, **attrs) -> str:
    """One element; `text` (escaped) makes it a container, otherwise it closes itself."""
    opening = f"{tag} {svg_attrs(**attrs)}".strip()
    if text is None:
        return f"<{opening}/>"
    return f"<{opening}>{escape(text)}</{tag}>"


def svg_document(
    *,
    picture_id: str,
    width: int,
    height: int,
    title: str,
    desc: str,
    body: list[str],
    top: int = 0,
) -> SafeString:
    """The whole picture, safe to put in a template as it is (every text is escaped).
    `top` and `height` crop the drawing to the part in use, so a small one is not tall."""
    title_id, desc_id = f"{picture_id}-title", f"{picture_id}-desc"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="picture" '
        f'id="{escape(picture_id)}" viewBox="0 {top} {width} {height}" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}" '
        f'preserveAspectRatio="xMidYMin meet">'
    )
    parts = [
        head,
        f'<title id="{escape(title_id)}">{escape(title)}</title>',
        f'<desc id="{escape(desc_id)}">{escape(desc)}</desc>',
        *body,
        "</svg>",
    ]
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped


def svg_shorten(text: str, limit: int) -> str:
    """A label that fits: long names end in an ellipsis (the table has them in full)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
