"""Form helpers every app's views share."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


def form_errors_from(form: forms.Form, error: ValidationError) -> None:
    """Attach a service's ValidationError to the form: beside the field when it names one."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)
