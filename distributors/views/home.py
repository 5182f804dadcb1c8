from django.shortcuts import render

from distributors.selectors import applications_visible_to


def home_view(request):
    applications = []
    if request.user.is_authenticated and not request.user.is_staff:
        applications = list(applications_visible_to(request.user))
    return render(request, "distributors/home.html", {"applications": applications})
