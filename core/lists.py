"""Search, filters and pagination for the portal's lists, one way everywhere.

A view hands its scoped queryset (from a selector, so each list stays limited to what
the requesting user may see) to `listing_build` with the fields it searches and the
filters it offers. Only whitelisted filter values count: anything else in the query
string is ignored, never a 500, and the page number is clamped by Paginator.get_page.
The templates render `listing` with `_list_search.html` and `_pagination.html`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

# Small enough that a page renders well under 100 ms with 1,000 rows behind it, large
# enough that a team's usual list fits on one page. Tests patch it to 2.
PAGE_SIZE = 50
# A search term longer than this is not a name or an address anyone types.
SEARCH_MAX_LENGTH = 100


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    condition: Q


@dataclass(frozen=True)
class ListFilter:
    name: str
    label: str
    choices: tuple[Choice, ...]

    def choice_for(self, value: str) -> Choice | None:
        return next((choice for choice in self.choices if choice.value == value), None)


def choices_from(field_name: str, text_choices: Iterable[tuple[str, str]]) -> tuple[Choice, ...]:
    """One choice per value of a TextChoices field: `state=sent` filters `state="sent"`."""
    return tuple(
        Choice(value=value, label=label, condition=Q(**{field_name: value}))
        for value, label in text_choices
    )


@dataclass
class FilterField:
    """What the filter form include renders for one filter."""

    name: str
    label: str
    options: list[dict]
    selected: str


@dataclass
class Listing:
    page: Page
    q: str
    search_label: str
    searchable: bool
    fields: list[FilterField] = field(default_factory=list)
    # The current search and filters, url-encoded and ending with "&" when not empty,
    # so a template writes ?{{ listing.query_prefix }}page=2.
    query_prefix: str = ""

    def __iter__(self):
        return iter(self.page)

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or any(item.selected for item in self.fields))


def search_term(request) -> str:
    return (request.GET.get("q") or "").strip()[:SEARCH_MAX_LENGTH]


def listing_build(
    request,
    rows: QuerySet,
    *,
    search_fields: Sequence[str] = (),
    search_label: str = "Search",
    filters: Sequence[ListFilter] = (),
    keep: Sequence[str] = (),
    per_page: int | None = None,
) -> Listing:
    """Narrow `rows` by the request's search and whitelisted filters, and take one page.

    `keep` names further query parameters (a view's own validated form) that page links
    carry over."""
    q = search_term(request) if search_fields else ""
    if q:
        rows = rows.filter(reduce(or_, (Q(**{f"{name}__icontains": q}) for name in search_fields)))
    fields, kept = [], {"q": q} if q else {}
    for list_filter in filters:
        value = request.GET.get(list_filter.name, "")
        choice = list_filter.choice_for(value)
        if choice is not None:
            rows = rows.filter(choice.condition)
            kept[list_filter.name] = value
        fields.append(
            FilterField(
                name=list_filter.name,
                label=list_filter.label,
                options=[
                    {"value": c.value, "label": c.label, "selected": choice is c}
                    for c in list_filter.choices
                ],
                selected=choice.value if choice else "",
            )
        )
    for name in keep:
        if request.GET.get(name):
            kept[name] = request.GET[name]
    page = Paginator(rows, per_page or PAGE_SIZE).get_page(request.GET.get("page"))
    return Listing(
        page=page,
        q=q,
        search_label=search_label,
        searchable=bool(search_fields),
        fields=fields,
        query_prefix=urlencode(kept) + "&" if kept else "",
    )
