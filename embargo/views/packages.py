"""The "Packages and fix" section of a case: adding and removing affected packages,
their version ranges and the references to the fix, and setting where the fix stands.

Staff only (under /staff/). Every form posts to the case's own address; the package,
range or reference concerned travels in the POST body and is looked up among the case's
own rows, so another case's id is a plain 404. Bad input shows the case page again with
the message beside the field, and changes nothing."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from core.views import service_error_report as report
from core.views import service_run, staff_required
from embargo.models import AffectedPackage, FixReference, VersionRange, Vulnerability
from embargo.package_forms import FixReferenceForm, FixStateForm, PackageForm, RangeForm
from embargo.selectors import affected_packages, vulnerabilities_visible_to
from embargo.services.packages import (
    affected_package_add,
    affected_package_remove,
    fix_reference_add,
    fix_reference_remove,
    version_range_add,
    version_range_remove,
    vulnerability_fix_set,
)
from embargo.views.cases import case_detail_render

SECTION = "#packages-title"


def _case_or_404(request, pk: int) -> Vulnerability:
    return get_object_or_404(vulnerabilities_visible_to(request.user), pk=pk)


def _posted_id(request, name: str) -> int:
    value = request.POST.get(name, "")
    if not value.isdigit() or len(value) > 12:
        raise Http404("No such row.")
    return int(value)


def _back(case: Vulnerability):
    response = redirect("embargo:case_detail", pk=case.pk)
    response["Location"] += SECTION
    return response


def _submit(request, case, form, *, call, success: str, form_name: str, failure: str):
    """Validate `form`, run the service, redirect back; or show the page with the
    form's messages (400), nothing changed."""
    if form.is_valid():
        try:
            call(form.cleaned_data)
        except ValidationError as error:
            report(request, form, error)
        else:
            messages.success(request, success)
            return _back(case)
    messages.error(request, failure)
    return case_detail_render(request, case, status=400, **{form_name: form})


@staff_required
@require_POST
def case_package_add_view(request, pk: int):
    case = _case_or_404(request, pk)
    return _submit(
        request,
        case,
        PackageForm(request.POST),
        call=lambda data: affected_package_add(vulnerability=case, actor=request.user, **data),
        success="Package added.",
        form_name="package_form",
        failure="The package was not added.",
    )


@staff_required
@require_POST
def case_package_remove_view(request, pk: int):
    case = _case_or_404(request, pk)
    package = get_object_or_404(
        AffectedPackage, pk=_posted_id(request, "package"), vulnerability=case
    )
    service_run(
        request,
        lambda: affected_package_remove(package=package, actor=request.user),
        success="Package removed, with its ranges.",
    )
    return _back(case)


@staff_required
@require_POST
def case_range_add_view(request, pk: int):
    case = _case_or_404(request, pk)
    packages = list(affected_packages(vulnerability=case))
    by_id = {package.pk: package for package in packages}

    def call(data):
        version_range_add(
            package=by_id[data["package"]],
            actor=request.user,
            introduced=data["introduced"],
            fixed=data["fixed"],
            last_affected=data["last_affected"],
        )

    return _submit(
        request,
        case,
        RangeForm(request.POST, packages=packages),
        call=call,
        success="Version range added.",
        form_name="range_form",
        failure="The version range was not added.",
    )


@staff_required
@require_POST
def case_range_remove_view(request, pk: int):
    case = _case_or_404(request, pk)
    version_range = get_object_or_404(
        VersionRange, pk=_posted_id(request, "range"), package__vulnerability=case
    )
    service_run(
        request,
        lambda: version_range_remove(version_range=version_range, actor=request.user),
        success="Version range removed.",
    )
    return _back(case)


@staff_required
@require_POST
def case_fix_reference_add_view(request, pk: int):
    case = _case_or_404(request, pk)
    return _submit(
        request,
        case,
        FixReferenceForm(request.POST),
        call=lambda data: fix_reference_add(vulnerability=case, actor=request.user, **data),
        success="Fix reference added.",
        form_name="reference_form",
        failure="The fix reference was not added.",
    )


@staff_required
@require_POST
def case_fix_reference_remove_view(request, pk: int):
    case = _case_or_404(request, pk)
    reference = get_object_or_404(
        FixReference, pk=_posted_id(request, "reference"), vulnerability=case
    )
    service_run(
        request,
        lambda: fix_reference_remove(fix_reference=reference, actor=request.user),
        success="Fix reference removed.",
    )
    return _back(case)


@staff_required
@require_POST
def case_fix_state_view(request, pk: int):
    case = _case_or_404(request, pk)
    return _submit(
        request,
        case,
        FixStateForm(request.POST),
        call=lambda data: vulnerability_fix_set(vulnerability=case, actor=request.user, **data),
        success="Fix state saved.",
        form_name="fix_form",
        failure="The fix state was not saved.",
    )
