"""Aware datetimes for tests that count business days."""

from __future__ import annotations

from datetime import UTC, datetime


def at(day: str, clock: str = "10:00") -> datetime:
    """An aware UTC datetime from "2026-12-04" (and "HH:MM")."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=UTC)
