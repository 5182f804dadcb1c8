"""Punctuation that is a matter of style, found by its shape (catalogue version 3)."""

from __future__ import annotations

from embargo.tracing.catalogue import Found


def punctuation_found(text: str, *, version: int) -> list[Found]:
    """Every place in `text` where a copy may punctuate one way or the other."""
    if version < 3:
        return []
    return []
