"""The CVSS calculator on a case: one page per version of the standard, working without
JavaScript. Choosing every base metric and saving scores it; a pasted vector fills the
choices ("Read the vector") or is saved as it is."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from core.views import staff_required
from embargo.forms import CvssCalculatorForm
from embargo.models import CvssRating
from embargo.scoring import cvss_score, vector_choices
from embargo.selectors import vulnerabilities_visible_to
from embargo.services import cvss_rating_clear, cvss_rating_set


@staff_required
def case_cvss_view(request, pk: int, version: str):
    case = get_object_or_404(vulnerabilities_visible_to(request.user), pk=pk)
    rating = CvssRating.objects.filter(vulnerability=case, version=version).first()
    status = 200
    if request.method != "POST":
        form = CvssCalculatorForm(version=version, initial=_initial(rating))
    elif request.POST.get("action") == "clear":
        try:
            cvss_rating_clear(vulnerability=case, version=version, actor=request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect(calculator_url(case.pk, version))
        messages.success(request, f"The CVSS {version} rating was cleared.")
        return redirect("embargo:case_detail", pk=case.pk)
    else:
        form = CvssCalculatorForm(request.POST, version=version)
        if form.is_valid() and request.POST.get("action") == "read":
            # The pasted vector's values become the choices; nothing is saved yet.
            form = CvssCalculatorForm(
                version=version,
                initial={**form.cleaned_data["choices"], "vector": ""},
            )
            messages.info(request, "The choices now show the vector. Save to keep it.")
        elif form.is_valid():
            try:
                saved = cvss_rating_set(
                    vulnerability=case, vector=form.cleaned_data["vector"], actor=request.user
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(
                    request, f"CVSS {version} saved: {saved.score} ({saved.severity})."
                )
                return redirect("embargo:case_detail", pk=case.pk)
        if form.errors:
            status = 400
            messages.error(request, "The score was not saved.")
    context = {"case": case, "form": form, "version": version, "rating": rating}
    return render(request, "embargo/staff/case_cvss.html", context, status=status)


def calculator_url(pk: int, version: str) -> str:
    return reverse(f"embargo:case_cvss_{version.replace('.', '_')}", kwargs={"pk": pk})


def _initial(rating: CvssRating | None) -> dict:
    return vector_choices(cvss_score(rating.vector)) if rating is not None else {}
