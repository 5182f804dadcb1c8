"""Small helpers the embargo pages share."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError

from distributors.forms import form_errors_from
from distributors.views.review import staff_required

__all__ = ["report", "staff_required"]


def report(request, form, error: ValidationError) -> None:
    """A service's error about a field goes beside it; an error about the whole case or
    notice (already sent, closed case) goes to the messages, which every page shows."""
    if hasattr(error, "error_dict"):
        form_errors_from(form, error)
    else:
        messages.error(request, " ".join(error.messages))
