"""The embargo policy: each person reads and accepts it; staff publish new versions."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from core.forms import form_errors_from
from core.markdown import markdown_render
from core.views import staff_required
from distributors.forms.trust import PolicyAcceptForm, PolicyPublishForm
from distributors.models import PolicyVersion
from distributors.selectors import policy_acceptance_current, policy_current, policy_versions
from distributors.services import policy_accept, policy_publish


def safe_next(request, value: str | None) -> str | None:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return None


@login_required
def policy_view(request):
    current = policy_current()
    if current is None:
        raise Http404("No embargo policy has been published yet.")
    form = PolicyAcceptForm(
        request.POST or None,
        initial={"version": current.number, "next": request.GET.get("next", "")},
    )
    if request.method == "POST" and form.is_valid():
        version = get_object_or_404(PolicyVersion, number=form.cleaned_data["version"])
        try:
            policy_accept(
                user=request.user,
                version=version,
                ip_address=request.META.get("REMOTE_ADDR"),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("distributors:policy")
        messages.success(request, f"You accepted version {current.number} of the embargo policy.")
        return redirect(
            safe_next(request, form.cleaned_data.get("next")) or reverse("distributors:policy")
        )
    return render(
        request,
        "distributors/policy.html",
        {
            "policy": current,
            "policy_html": markdown_render(current.text, top_heading=2),
            "acceptance": policy_acceptance_current(user=request.user),
            "form": form,
        },
    )


@staff_required
def staff_policy_view(request):
    current = policy_current()
    initial = {"text": current.text if current else ""}
    form = PolicyPublishForm(request.POST or None, initial=initial)
    preview = None
    if request.method == "POST" and form.is_valid():
        if "preview" in request.POST:
            preview = markdown_render(form.cleaned_data["text"])
        else:
            try:
                version = policy_publish(actor=request.user, text=form.cleaned_data["text"])
            except ValidationError as error:
                form_errors_from(form, error)
            else:
                messages.success(
                    request,
                    f"Version {version.number} is now the current policy. Everyone who had "
                    "accepted an earlier version is being asked to accept it.",
                )
                return redirect("distributors:staff_policy")
    return render(
        request,
        "distributors/staff_policy.html",
        {
            "policy": current,
            "policy_html": markdown_render(current.text, top_heading=2) if current else "",
            "versions": policy_versions(),
            "form": form,
            "preview": preview,
        },
    )


@staff_required
def staff_policy_version_view(request, number: int):
    version = get_object_or_404(policy_versions(), number=number)
    return render(
        request,
        "distributors/staff_policy_version.html",
        {"version": version, "policy_html": markdown_render(version.text, top_heading=2)},
    )
